-- The audit trail's monthly archive (002 §13.2): one file a month, each carrying the SHA-256 of the one before,
-- so an edited or removed file breaks the chain. This table remembers what was written, for `kuzet audit verify`.
CREATE TABLE audit_archives (
  month        text        PRIMARY KEY,          -- "2026-11", a calendar month in the archive's time zone
  file         text        NOT NULL,
  sha256       text        NOT NULL,
  prev_sha256  text        NOT NULL,
  rows         integer     NOT NULL,
  first_id     bigint,
  last_id      bigint,
  created_at   timestamptz NOT NULL
);
