-- Roll-ups per location (issue 18): several locations probing one target each keep their own roll-up rows, so a
-- failure seen from one location is not ended by the next result from another. Results without a location
-- (written before migration 090, or by an instance without a cluster section) are one location, ''.
-- For a probe with results from more than one location in the rolled-up hours, rows under location '*1', '*2', …
-- hold the time during which at least 1, 2, … locations saw it failing (count and failures 0); the availability
-- report takes the row of the probe's confirm.locations (src/reports/availability.ts).

ALTER TABLE probe_rollups ADD COLUMN location text NOT NULL DEFAULT '';
ALTER TABLE probe_rollups DROP CONSTRAINT probe_rollups_pkey;
ALTER TABLE probe_rollups ADD PRIMARY KEY (probe, location, period, period_start);
