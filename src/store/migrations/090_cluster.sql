-- Several kuzet instances on one store (issue 18). Each instance keeps a row here and refreshes heartbeat_at
-- every `cluster.heartbeat`; an instance whose heartbeat is older than two periods is dead (see
-- src/cluster/membership.ts). A clean stop sets stopped_at, so the others take over at their next heartbeat.

CREATE TABLE cluster_instances (
  id            text        PRIMARY KEY,
  location      text        NOT NULL,
  version       text        NOT NULL,
  started_at    timestamptz NOT NULL,
  heartbeat_at  timestamptz NOT NULL,
  heartbeat_ms  integer     NOT NULL,
  stopped_at    timestamptz
);
CREATE INDEX cluster_instances_location_idx ON cluster_instances (location, heartbeat_at);

-- Confirmation from several locations (probe option confirm.locations): each location's confirmed view of a
-- probe, and under location '*' the combined status a signal was sent for.
CREATE TABLE probe_locations (
  probe       text        NOT NULL,
  location    text        NOT NULL,
  status      text        NOT NULL CHECK (status IN ('up', 'down')),
  since       timestamptz NOT NULL,
  instance    text,
  reason      text,
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (probe, location)
);

-- Which instance ran a probe, and from which location (NULL for results written before this migration).
ALTER TABLE probe_results ADD COLUMN instance text;
ALTER TABLE probe_results ADD COLUMN location text;
