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

-- Which instance ran a probe, and from which location (NULL for results written before this migration).
ALTER TABLE probe_results ADD COLUMN instance text;
ALTER TABLE probe_results ADD COLUMN location text;
