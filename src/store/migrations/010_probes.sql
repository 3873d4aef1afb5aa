-- Probe results (raw, kept for a configured number of days), hourly and daily roll-ups (kept for years),
-- each probe's confirmation state (so a restart neither re-fires nor forgets an outage), heartbeat pings.

CREATE TABLE probe_results (
  id           bigserial PRIMARY KEY,
  probe        text             NOT NULL,
  system       text             NOT NULL,
  started_at   timestamptz      NOT NULL,
  duration_ms  double precision NOT NULL,
  ok           boolean          NOT NULL,
  -- the probe's interval: a failed result counts as downtime until the next result, at most this long
  interval_s   integer          NOT NULL,
  maintenance  boolean          NOT NULL DEFAULT false,
  reason       text
);
CREATE INDEX probe_results_probe_idx ON probe_results (probe, started_at);
CREATE INDEX probe_results_started_idx ON probe_results (started_at);

-- period 'hour' starts on UTC hours; period 'day' starts at local midnight of the roll-up zone.
-- Latency percentiles are over successful results (a timeout measures the timeout, not the service).
-- The maintenance_* columns are the part of failures / downtime inside maintenance windows,
-- so a report can exclude them.
CREATE TABLE probe_rollups (
  probe                         text             NOT NULL,
  system                        text             NOT NULL,
  period                        text             NOT NULL CHECK (period IN ('hour', 'day')),
  period_start                  timestamptz      NOT NULL,
  count                         integer          NOT NULL,
  failures                      integer          NOT NULL,
  downtime_seconds              double precision NOT NULL,
  maintenance_failures          integer          NOT NULL DEFAULT 0,
  maintenance_downtime_seconds  double precision NOT NULL DEFAULT 0,
  p50_ms                        double precision,
  p95_ms                        double precision,
  p99_ms                        double precision,
  updated_at                    timestamptz      NOT NULL,
  PRIMARY KEY (probe, period, period_start)
);
CREATE INDEX probe_rollups_period_idx ON probe_rollups (period, period_start);
CREATE INDEX probe_rollups_system_idx ON probe_rollups (system, period, period_start);

CREATE TABLE probe_state (
  probe       text        PRIMARY KEY,
  status      text        NOT NULL CHECK (status IN ('up', 'down')),
  state       jsonb       NOT NULL,
  updated_at  timestamptz NOT NULL
);

CREATE TABLE probe_heartbeats (
  name          text        PRIMARY KEY,
  last_ping_at  timestamptz NOT NULL,
  last_status   text        NOT NULL CHECK (last_status IN ('ok', 'fail')),
  ping_count    bigint      NOT NULL DEFAULT 0
);
