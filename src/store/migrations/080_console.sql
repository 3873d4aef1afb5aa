-- The web console: sign-in sessions (the cookie carries a random id; only its SHA-256 is stored), public notes that
-- staff write for the status page (never raw alert text), and the indexes the incident list pages by.

CREATE TABLE console_sessions (
  id_hash      text PRIMARY KEY,
  token_id     bigint,
  name         text        NOT NULL,
  role         text        NOT NULL,
  csrf         text        NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  remote       text
);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

CREATE TABLE public_notes (
  id           bigserial PRIMARY KEY,
  incident_id  bigint      NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  system       text        NOT NULL,
  text         text        NOT NULL,
  author       text        NOT NULL,
  created_at   timestamptz NOT NULL
);
CREATE INDEX public_notes_created_idx ON public_notes (created_at DESC);
CREATE INDEX public_notes_incident_idx ON public_notes (incident_id, id);

-- Open first, newest first: the unresolved incidents by id, then the primary key for the rest.
CREATE INDEX incidents_unresolved_id_idx ON incidents (id DESC) WHERE status <> 'resolved';
-- The status page's 90-day history reads incidents by when they ended.
CREATE INDEX incidents_resolved_at_idx ON incidents (resolved_at) WHERE resolved_at IS NOT NULL;
