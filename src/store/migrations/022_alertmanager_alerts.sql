-- Alerts received through the Alertmanager-compatible API, one row per alert (its label set). The row holds
-- when the alert expires: its endsAt, or the last time it was sent plus intake.alertmanager.resolve_timeout.
-- A sweeper resolves what expired without a re-send; GET /api/v2/alerts reads the unresolved rows.
CREATE TABLE alertmanager_alerts (
  fingerprint    text        PRIMARY KEY,
  labels         jsonb       NOT NULL,
  annotations    jsonb       NOT NULL,
  generator_url  text,
  starts_at      timestamptz NOT NULL,
  ends_at        timestamptz,
  expires_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  resolved_at    timestamptz
);
CREATE INDEX alertmanager_alerts_due_idx ON alertmanager_alerts (expires_at) WHERE resolved_at IS NULL;
CREATE INDEX alertmanager_alerts_resolved_idx ON alertmanager_alerts (resolved_at) WHERE resolved_at IS NOT NULL;
