-- Liveness by PostgreSQL session (issue 18): each instance heartbeats over one dedicated connection and records
-- that backend's pid and start. When the instance dies (kill -9, a closed connection), the server ends the
-- backend at once, so the others notice at their next heartbeat instead of after two missed ones. A session that
-- predates the server's own start (the server restarted) says nothing; the heartbeat's age decides then.
ALTER TABLE cluster_instances ADD COLUMN session_pid integer;
ALTER TABLE cluster_instances ADD COLUMN session_started timestamptz;
