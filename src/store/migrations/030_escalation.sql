-- Escalation: SLA clocks as rows (durable timers), escalation state with a policy snapshot,
-- the notification outbox, silences and single-use ack links.

-- One escalation per incident episode (a reopen starts a new one). The policy is snapshotted here,
-- so a config reload never rewrites a ladder that is halfway up.
CREATE TABLE escalations (
  id                  bigserial PRIMARY KEY,
  subject_kind        text        NOT NULL,
  subject_id          bigint      NOT NULL,
  policy_name         text        NOT NULL,
  snapshot            jsonb       NOT NULL,
  state               text        NOT NULL CHECK (state IN ('active', 'acknowledged', 'resolved', 'silenced', 'inhibited', 'grouped')),
  started_at          timestamptz NOT NULL,
  ack_due_at          timestamptz,
  resolve_due_at      timestamptz,
  ack_breached_at     timestamptz,
  resolve_breached_at timestamptz,
  held_by             jsonb       NOT NULL DEFAULT '{}',
  steps_fired         integer     NOT NULL DEFAULT 0,
  updated_at          timestamptz NOT NULL
);
CREATE INDEX escalations_subject_idx ON escalations (subject_kind, subject_id, id DESC);
CREATE INDEX escalations_started_idx ON escalations (started_at);

-- Generic durable timers: anything (incident ladders, request deadlines) that must happen at due_at.
-- A sweeper claims due rows with FOR UPDATE SKIP LOCKED; a timer only wakes the sweeper.
CREATE TABLE timers (
  id            bigserial PRIMARY KEY,
  subject_kind  text        NOT NULL,
  subject_id    bigint      NOT NULL,
  kind          text        NOT NULL,
  due_at        timestamptz NOT NULL,
  payload       jsonb       NOT NULL DEFAULT '{}',
  state         text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'fired', 'cancelled')),
  dedup_key     text UNIQUE,
  created_at    timestamptz NOT NULL,
  fired_at      timestamptz
);
CREATE INDEX timers_due_idx ON timers (due_at) WHERE state = 'pending';
CREATE INDEX timers_subject_idx ON timers (subject_kind, subject_id) WHERE state = 'pending';

-- Every notification, written in the same transaction as the decision to send it.
CREATE TABLE outbox (
  id               bigserial PRIMARY KEY,
  idempotency_key  text        NOT NULL UNIQUE,
  subject_kind     text        NOT NULL,
  subject_id       bigint      NOT NULL,
  channel          text        NOT NULL,
  recipient        jsonb       NOT NULL DEFAULT '{}',
  lang             text        NOT NULL,
  message          jsonb       NOT NULL,
  state            text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'failed_over', 'cancelled')),
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL,
  claimed_until    timestamptz,
  claimed_by       text,
  last_error       text,
  provider_id      text,
  fallback_of      bigint,
  created_at       timestamptz NOT NULL,
  sent_at          timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE state IN ('pending', 'sending');
CREATE INDEX outbox_dead_idx ON outbox (id DESC) WHERE state = 'dead';
CREATE INDEX outbox_subject_idx ON outbox (subject_kind, subject_id);

CREATE TABLE silences (
  id          bigserial PRIMARY KEY,
  matchers    jsonb       NOT NULL,
  starts_at   timestamptz NOT NULL,
  ends_at     timestamptz NOT NULL,
  author      text        NOT NULL,
  reason      text        NOT NULL,
  created_at  timestamptz NOT NULL,
  expired_at  timestamptz
);
CREATE INDEX silences_ends_idx ON silences (ends_at);

-- A used ack link's nonce: the second use of the same link is refused.
CREATE TABLE ack_link_uses (
  nonce       text PRIMARY KEY,
  incident_id bigint      NOT NULL,
  used_at     timestamptz NOT NULL,
  used_by     text        NOT NULL
)
