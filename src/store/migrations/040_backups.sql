-- Backups (issue 7): what was written, every run of backup/verify/drill, schedules as rows with due_at,
-- and which backup signals are firing (so a success resolves only what is open).

CREATE TABLE backup_artifacts (
  id            bigserial PRIMARY KEY,
  job           text        NOT NULL,
  kind          text        NOT NULL,
  format        text        NOT NULL,
  path          text        NOT NULL,
  -- writing: a run is producing it under a temp name. Only complete rows are backups.
  status        text        NOT NULL CHECK (status IN ('writing', 'complete', 'failed', 'deleted')),
  size_bytes    bigint,
  sha256        text,
  started_at    timestamptz NOT NULL,
  completed_at  timestamptz,
  source_mtime  timestamptz,
  verified_at   timestamptz,
  verify_ok     boolean,
  verify_reason text,
  deleted_at    timestamptz,
  error         text
);
CREATE INDEX backup_artifacts_job_idx ON backup_artifacts (job, status, completed_at DESC, id DESC);

CREATE TABLE backup_runs (
  id           bigserial PRIMARY KEY,
  job          text        NOT NULL,
  task         text        NOT NULL CHECK (task IN ('backup', 'verify', 'drill')),
  trigger      text        NOT NULL,
  status       text        NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
  artifact_id  bigint,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz,
  duration_ms  double precision,
  reason_code  text,
  reason       text,
  detail       jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX backup_runs_job_idx ON backup_runs (job, task, id DESC);
CREATE INDEX backup_runs_started_idx ON backup_runs (started_at DESC, id DESC);

CREATE TABLE backup_schedules (
  job             text        NOT NULL,
  task            text        NOT NULL CHECK (task IN ('backup', 'verify', 'drill')),
  expr            text        NOT NULL,
  due_at          timestamptz NOT NULL,
  last_started_at timestamptz,
  PRIMARY KEY (job, task)
);
CREATE INDEX backup_schedules_due_idx ON backup_schedules (due_at);

CREATE TABLE backup_alerts (
  fingerprint  text        PRIMARY KEY,
  job          text        NOT NULL,
  stage        text        NOT NULL,
  status       text        NOT NULL CHECK (status IN ('firing', 'resolved')),
  reason_code  text,
  changed_at   timestamptz NOT NULL
);
