-- Reports (issue 14): every report kuzet delivers or is asked to keep, with its bytes, so it can be downloaded
-- later exactly as it was sent. `sha256` is the SHA-256 of the report's data (the same in every format).

CREATE TABLE report_archive (
  id            bigserial PRIMARY KEY,
  kind          text        NOT NULL,
  period        text        NOT NULL,
  -- NULL: every system
  system        text,
  format        text        NOT NULL CHECK (format IN ('csv', 'json', 'html', 'pdf')),
  lang          text        NOT NULL CHECK (lang IN ('ru', 'kk', 'en')),
  trigger       text        NOT NULL CHECK (trigger IN ('scheduled', 'manual', 'submitted')),
  sha256        text        NOT NULL,
  content_type  text        NOT NULL,
  body          bytea       NOT NULL,
  size_bytes    integer     NOT NULL,
  created_at    timestamptz NOT NULL,
  created_by    text        NOT NULL
);
-- A scheduled delivery is made once per kind, period, format and language, however many instances run.
CREATE UNIQUE INDEX report_archive_scheduled_idx ON report_archive (kind, period, format, lang) WHERE trigger = 'scheduled';
CREATE INDEX report_archive_created_idx ON report_archive (created_at DESC, id DESC);
CREATE INDEX report_archive_kind_idx ON report_archive (kind, period, trigger);
