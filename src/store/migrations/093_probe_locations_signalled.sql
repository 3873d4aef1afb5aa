-- Confirmation from several locations: the combined row (location '*') also keeps the severity and maintenance
-- flag of the last firing signal, so a re-fire while down (a changed severity, a maintenance window over) is sent
-- once for the probe, not once per location.
ALTER TABLE probe_locations ADD COLUMN severity text;
ALTER TABLE probe_locations ADD COLUMN maintenance boolean;
