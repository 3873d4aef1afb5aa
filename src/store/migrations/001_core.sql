-- Core tables: the signal ledger, incidents and their timeline, the audit log, API tokens.

CREATE TABLE signals (
  id               bigserial PRIMARY KEY,
  source           text        NOT NULL,
  system           text        NOT NULL,
  check_name       text        NOT NULL,
  fingerprint      text        NOT NULL,
  severity         text        NOT NULL,
  status           text        NOT NULL CHECK (status IN ('firing', 'resolved')),
  summary          text        NOT NULL,
  labels           jsonb       NOT NULL DEFAULT '{}',
  payload          jsonb       NOT NULL DEFAULT '{}',
  content_hash     text        NOT NULL,
  observed_at      timestamptz NOT NULL,
  last_observed_at timestamptz NOT NULL,
  received_at      timestamptz NOT NULL,
  -- A repeat of an unchanged signal is folded into this row: repeat_count counts every copy accepted.
  repeat_count     integer     NOT NULL DEFAULT 1,
  incident_id      bigint
);
CREATE INDEX signals_last_observed_idx ON signals (last_observed_at);
CREATE INDEX signals_incident_idx ON signals (incident_id);

CREATE TABLE incidents (
  id               bigserial PRIMARY KEY,
  fingerprint      text        NOT NULL,
  source           text        NOT NULL,
  system           text        NOT NULL,
  check_name       text        NOT NULL,
  title            text        NOT NULL,
  severity         text        NOT NULL,
  status           text        NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
  labels           jsonb       NOT NULL DEFAULT '{}',
  flapping         boolean     NOT NULL DEFAULT false,
  flips            jsonb       NOT NULL DEFAULT '[]',
  opened_at        timestamptz NOT NULL,
  acknowledged_at  timestamptz,
  acknowledged_by  text,
  resolved_at      timestamptz,
  resolved_by      text,
  reopen_count     integer     NOT NULL DEFAULT 0,
  signal_count     bigint      NOT NULL DEFAULT 0,
  last_signal_at   timestamptz NOT NULL,
  head_signal_id   bigint,
  head_hash        text,
  updated_at       timestamptz NOT NULL
);
-- At most one unresolved incident per fingerprint: the engine's dedup, enforced by the database too.
CREATE UNIQUE INDEX incidents_one_open_idx ON incidents (fingerprint) WHERE status <> 'resolved';
CREATE INDEX incidents_fingerprint_idx ON incidents (fingerprint, id DESC);
CREATE INDEX incidents_unresolved_idx ON incidents (system, severity) WHERE status <> 'resolved';
CREATE INDEX incidents_opened_idx ON incidents (opened_at DESC, id DESC);
CREATE INDEX incidents_head_idx ON incidents (head_signal_id);

CREATE TABLE incident_events (
  id           bigserial PRIMARY KEY,
  incident_id  bigint      NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  at           timestamptz NOT NULL,
  kind         text        NOT NULL,
  actor        text        NOT NULL,
  detail       jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_events_incident_idx ON incident_events (incident_id, id);

CREATE TABLE audit_log (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL,
  actor     text        NOT NULL,
  action    text        NOT NULL,
  target    text,
  remote    text,
  outcome   text        NOT NULL,
  detail    jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

CREATE TABLE api_tokens (
  id          bigserial PRIMARY KEY,
  name        text        NOT NULL,
  role        text        NOT NULL CHECK (role IN ('viewer', 'reporter', 'soc', 'oncall', 'admin')),
  token_hash  text        NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL,
  created_by  text        NOT NULL,
  revoked_at  timestamptz,
  last_used_at timestamptz
);
