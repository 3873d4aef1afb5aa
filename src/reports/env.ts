import type { WorkingCalendar } from '../requests/calendar.ts';
import type { MaintenanceInfo, ProbeInfo } from './availability.ts';
import type { BackupJobInfo, SystemInfo } from './build.ts';

// What the reports read from the configuration: systems, probes (with the availability field), maintenance
// windows and backup objectives. Plain data in, so the daemon and the CLI build the same thing.

interface RawProbe {
  name: string;
  kind: string;
  system: string;
  enabled?: boolean;
  availability?: boolean;
  labels?: Record<string, string>;
  sql?: { expect?: { column: string; op: string; value: unknown }[]; period?: string };
  confirm?: { locations?: number };
}

export function probeInfos(files: readonly { probes?: readonly unknown[] }[]): ProbeInfo[] {
  const out: ProbeInfo[] = [];
  for (const f of files) {
    for (const raw of (f.probes ?? []) as RawProbe[]) {
      const limit = raw.sql?.expect?.find((e) => (e.op === '<=' || e.op === '<') && typeof e.value === 'number');
      out.push({
        name: raw.name,
        system: raw.system,
        kind: raw.kind,
        // A probe stands for user-facing functionality unless it says otherwise; by default http and flow do.
        availability: raw.availability ?? (raw.kind === 'http' || raw.kind === 'flow'),
        enabled: raw.enabled !== false,
        labels: raw.labels ?? {},
        ...(limit ? { maxValue: limit.value as number } : {}),
        ...(raw.sql?.period ? { period: raw.sql.period } : {}),
        ...(raw.confirm?.locations ? { locations: raw.confirm.locations } : {}),
      });
    }
  }
  return out;
}

export function maintenanceInfos(files: readonly { maintenance?: readonly unknown[] }[]): MaintenanceInfo[] {
  return files.flatMap((f) => (f.maintenance ?? []) as MaintenanceInfo[]);
}

export function systemInfos(systems: readonly SystemInfo[]): SystemInfo[] {
  return systems.map((s) => ({ id: s.id, name: s.name, ...(s.name_ru ? { name_ru: s.name_ru } : {}), ...(s.name_kk ? { name_kk: s.name_kk } : {}) }));
}

export function backupInfos(jobs: readonly { name: string; system: string; drill?: { rtoMs?: number } }[]): BackupJobInfo[] {
  return jobs.map((j) => ({ name: j.name, system: j.system, ...(j.drill?.rtoMs !== undefined ? { rtoMs: j.drill.rtoMs } : {}) }));
}

/** Everything above from a loaded configuration (the daemon re-reads it on every report, so a reload applies). */
export function envFromConfig(
  cfg: { kuzet: { systems: readonly SystemInfo[] }; probeFiles: readonly { probes?: readonly unknown[]; maintenance?: readonly unknown[] }[] },
  calendar: WorkingCalendar,
  jobs: readonly { name: string; system: string; drill?: { rtoMs?: number } }[],
) {
  return { systems: systemInfos(cfg.kuzet.systems), probes: probeInfos(cfg.probeFiles), maintenance: maintenanceInfos(cfg.probeFiles), calendar, backups: backupInfos(jobs) };
}
