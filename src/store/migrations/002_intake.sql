-- Delivery ids already accepted from signed webhooks: a repeated id is answered without a second signal.
CREATE TABLE intake_deliveries (
  source       text        NOT NULL,
  delivery_id  text        NOT NULL,
  received_at  timestamptz NOT NULL,
  PRIMARY KEY (source, delivery_id)
);
CREATE INDEX intake_deliveries_received_idx ON intake_deliveries (received_at);
