import type { PublicIncident } from '../incidents/rows.ts';
import { localTime } from '../local-time.ts';

export function table(rows: string[][]): string {
  if (!rows.length) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function incidentTable(items: PublicIncident[]): string {
  if (!items.length) return 'no incidents';
  return table([
    ['ID', 'STATUS', 'SEVERITY', 'SYSTEM', 'OPENED', 'SIGNALS', 'TITLE'],
    ...items.map((i) => [String(i.id), i.status + (i.flapping ? '*' : ''), i.severity, i.system, localTime(i.opened_at), String(i.signal_count), i.title]),
  ]);
}

export function incidentDetail(i: PublicIncident & { description?: string | null; timeline?: Array<{ at: string; kind: string; actor: string; detail: unknown }> }): string {
  const lines = [
    `#${i.id} ${i.title}`,
    `  status:    ${i.status}${i.flapping ? ' (flapping)' : ''}`,
    `  severity:  ${i.severity}`,
    `  system:    ${i.system}   check: ${i.check}   source: ${i.source}`,
    `  opened:    ${localTime(i.opened_at)}`,
    i.acknowledged_at ? `  acked:     ${localTime(i.acknowledged_at)} by ${i.acknowledged_by}` : '',
    i.resolved_at ? `  resolved:  ${localTime(i.resolved_at)} by ${i.resolved_by}` : '',
    `  signals:   ${i.signal_count}   reopened: ${i.reopen_count}`,
    i.description ? `  description:\n${i.description.split('\n').map((l) => `    ${l}`).join('\n')}` : '',
    Object.keys(i.labels).length ? `  labels:    ${Object.entries(i.labels).map(([k, v]) => `${k}=${v}`).join(' ')}` : '',
    '  timeline:',
    ...(i.timeline ?? []).map((e) => `    ${localTime(e.at)}  ${e.kind.padEnd(16)} ${e.actor}${e.detail && Object.keys(e.detail).length ? '  ' + JSON.stringify(e.detail) : ''}`),
  ];
  return lines.filter(Boolean).join('\n');
}
