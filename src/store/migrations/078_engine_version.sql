-- The incident engine's version (issue 13 item 3): every transaction that writes incidents takes this row's lock
-- (it replaces the engine's advisory lock) and adds one. An engine that sees the version it left after its own last
-- commit knows no other writer came between, so the open incidents it keeps in memory are still the store's.
CREATE TABLE engine_state (
  id      smallint PRIMARY KEY CHECK (id = 1),
  version bigint   NOT NULL
);
INSERT INTO engine_state (id, version) VALUES (1, 0);
