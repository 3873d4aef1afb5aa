-- Requests: user trouble reports and access requests with legal deadlines (issue 6).
-- Personal data lives only in the marked columns of requests and in attachment names: retention sets them to NULL
-- (personal_erased_at records when) and the request stays as an anonymised row for the statistics.

CREATE TABLE requests (
  id                  bigserial PRIMARY KEY,
  number              text        NOT NULL UNIQUE,
  kind                text        NOT NULL CHECK (kind IN ('trouble', 'access')),
  form                text        NOT NULL CHECK (form IN ('enbek', 'ministry', 'nqs', 'access')),
  system              text        NOT NULL,
  lang                text        NOT NULL CHECK (lang IN ('ru', 'kk')),
  channel             text        NOT NULL CHECK (channel IN ('web', 'api', 'specialist')),
  filed_by            text,
  subject             text,
  body                text,
  -- personal data (erased by retention)
  full_name           text,
  iin                 text,
  login               text,
  position            text,
  phone               text,
  email               text,
  contact             text,
  access              jsonb,
  personal_erased_at  timestamptz,
  -- lifecycle
  status              text        NOT NULL CHECK (status IN ('received', 'acknowledged', 'in_progress', 'answered', 'closed')),
  received_at         timestamptz NOT NULL,
  acknowledged_at     timestamptz,
  answered_at         timestamptz,
  closed_at           timestamptz,
  answer              text,
  decision            text        CHECK (decision IN ('granted', 'refused')),
  -- deadline: the escalation engine reads due_at and warn_at (a JSON list of {fraction, at}).
  d0                  date        NOT NULL,
  clock_start_at      timestamptz NOT NULL,
  due_rule            text        NOT NULL,
  extended_to         integer,
  due_at              timestamptz NOT NULL,
  warn_at             jsonb       NOT NULL DEFAULT '[]',
  deadline_version    integer     NOT NULL DEFAULT 1,
  incident_id         bigint      REFERENCES incidents (id) ON DELETE SET NULL,
  updated_at          timestamptz NOT NULL
);
CREATE INDEX requests_open_due_idx ON requests (due_at) WHERE status NOT IN ('answered', 'closed');
CREATE INDEX requests_status_idx ON requests (status, system, id DESC);
CREATE INDEX requests_incident_idx ON requests (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX requests_retention_idx ON requests (closed_at) WHERE personal_erased_at IS NULL;

CREATE TABLE request_attachments (
  id             bigserial PRIMARY KEY,
  request_id     bigint      NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  stored_name    text        NOT NULL UNIQUE,
  original_name  text,
  media_type     text        NOT NULL,
  size_bytes     integer     NOT NULL,
  sha256         text        NOT NULL,
  created_at     timestamptz NOT NULL,
  erased_at      timestamptz
);
CREATE INDEX request_attachments_request_idx ON request_attachments (request_id);

CREATE TABLE request_extensions (
  id            bigserial PRIMARY KEY,
  request_id    bigint      NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  at            timestamptz NOT NULL,
  actor         text        NOT NULL,
  reason        text        NOT NULL CHECK (reason IN ('defect_fix', 'platform_functioning')),
  working_days  integer     NOT NULL,
  note          text        NOT NULL,
  old_due_at    timestamptz NOT NULL,
  new_due_at    timestamptz NOT NULL
);
CREATE INDEX request_extensions_request_idx ON request_extensions (request_id, id);

CREATE TABLE request_events (
  id          bigserial PRIMARY KEY,
  request_id  bigint      NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  at          timestamptz NOT NULL,
  kind        text        NOT NULL,
  actor       text        NOT NULL,
  detail      jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX request_events_request_idx ON request_events (request_id, id);
