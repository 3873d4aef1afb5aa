import type { KuzetConfig } from './schema.ts';

// One catalogue of systems: `systems:` in kuzet.yaml. Every other place that names a system (probes, maintenance
// windows, policies, silences, log sources, backups, intake defaults, dependencies) must use one of its ids, or
// the reports of a user and the incidents of a probe would never meet. These checks find every stray id; the
// loader turns each path into file:line:col.

interface Problem {
  path: Array<string | number>;
  message: string;
}

/** Intake defaults for alerts that carry no system label; not a system of the catalogue. */
export const UNKNOWN_SYSTEM = 'unknown';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function unknownMessage(id: string, known: Set<string>): string {
  const contains = [...known].filter((k) => k.includes(id) || id.includes(k));
  const near = (contains.length ? contains : [...known].filter((k) => k.split('-')[0] === id.split('-')[0])).slice(0, 3);
  return `unknown system "${id}" (not in systems:${near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(' or ')}?` : ''})`;
}

/** Stray system ids in kuzet.yaml itself. */
export function catalogueProblems(k: KuzetConfig): Problem[] {
  const known = new Set(k.systems.map((s) => s.id));
  const out: Problem[] = [];
  const check = (id: unknown, path: Array<string | number>, allowUnknown = false) => {
    if (typeof id !== 'string') return;
    if (allowUnknown && id === UNKNOWN_SYSTEM) return;
    if (!known.has(id)) out.push({ path, message: unknownMessage(id, known) });
  };
  const seen = new Set<string>();
  k.systems.forEach((s, i) => {
    if (seen.has(s.id)) out.push({ path: ['systems', i, 'id'], message: `duplicate system id "${s.id}"` });
    seen.add(s.id);
    s.depends_on.forEach((d, j) => check(d, ['systems', i, 'depends_on', j]));
  });

  const logs = obj(k.logs) ?? {};
  list(logs.files).forEach((f, i) => check(obj(f)?.system, ['logs', 'files', i, 'system']));
  list(logs.journald).forEach((f, i) => check(obj(f)?.system, ['logs', 'journald', i, 'system']));
  const syslog = logs.syslog;
  if (Array.isArray(syslog)) syslog.forEach((f, i) => check(obj(f)?.system, ['logs', 'syslog', i, 'system']));
  else check(obj(syslog)?.system, ['logs', 'syslog', 'system']);
  list(logs.rules).forEach((r, i) => check(obj(r)?.system, ['logs', 'rules', i, 'system']));

  const esc = obj(k.escalation) ?? {};
  list(esc.policies).forEach((p, i) =>
    list(obj(obj(p)?.match)?.systems).forEach((s, j) => check(s, ['escalation', 'policies', i, 'match', 'systems', j])),
  );
  list(esc.silences).forEach((p, i) => {
    const m = obj(obj(p)?.matchers);
    for (const [key, v] of Object.entries(m ?? {})) {
      if (key !== 'system') continue;
      (Array.isArray(v) ? v : [v]).forEach((s, j) => {
        if (typeof s === 'string' && !s.startsWith('~')) check(s, ['escalation', 'silences', i, 'matchers', 'system', ...(Array.isArray(v) ? [j] : [])]);
      });
    }
  });

  list(obj(k.backups)?.jobs).forEach((j, i) => check(obj(j)?.system, ['backups', 'jobs', i, 'system']));

  const intake = obj(k.intake) ?? {};
  check(obj(intake.alertmanager)?.default_system, ['intake', 'alertmanager', 'default_system'], true);
  list(obj(intake.soc)?.sources).forEach((s, i) => check(obj(s)?.system, ['intake', 'soc', 'sources', i, 'system'], true));
  return out;
}

/** Stray system ids in the probe files: each probe's `system`, each maintenance window's `systems`. */
export function probeCatalogueProblems(
  files: Array<{ file: string; data: { probes: Array<Record<string, unknown>>; maintenance: Array<Record<string, unknown>> } }>,
  k: KuzetConfig,
): Array<Problem & { file: string }> {
  const known = new Set(k.systems.map((s) => s.id));
  const out: Array<Problem & { file: string }> = [];
  for (const f of files) {
    f.data.probes.forEach((p, i) => {
      if (typeof p.system === 'string' && !known.has(p.system)) out.push({ file: f.file, path: ['probes', i, 'system'], message: unknownMessage(p.system, known) });
    });
    f.data.maintenance.forEach((m, i) =>
      list(m.systems).forEach((s, j) => {
        if (typeof s === 'string' && !known.has(s)) out.push({ file: f.file, path: ['maintenance', i, 'systems', j], message: unknownMessage(s, known) });
      }),
    );
  }
  return out;
}
