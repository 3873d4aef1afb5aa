import { readFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Signal } from '../signals/signal.ts';
import type { Queryable } from '../store/store.ts';
import { ReportInputError } from './period.ts';
import { PdfUnavailableError } from './pdf.ts';
import type { ReportService } from './service.ts';

// `kuzet report <kind> --period … [--system ID] [--format csv|html|pdf|json] [--lang ru|kk|en]
//  [--exclude-maintenance] [--bom] [-o FILE] [--notes FILE] [--submit]`

export interface ReportCliOptions {
  period?: string;
  system?: string;
  format?: string;
  lang?: string;
  excludeMaintenance?: boolean;
  bom?: boolean;
  output?: string;
  notes?: string;
  submit?: boolean;
}

export interface ReportCliResult {
  /** 0 done, 1 failed, 2 bad input. */
  code: number;
  /** The report itself when no -o was given (text formats). */
  body?: Buffer;
  /** What to say on stderr. */
  message: string;
}

function readNotes(file: string): Partial<Record<'situation' | 'problems' | 'proposals', string>> {
  let data: unknown;
  try {
    data = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ReportInputError('--notes', `cannot read ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new ReportInputError('--notes', `${file}: expected a mapping with situation, problems and proposals`);
  const out: Partial<Record<'situation' | 'problems' | 'proposals', string>> = {};
  for (const [k, v] of Object.entries(data)) {
    if (k !== 'situation' && k !== 'problems' && k !== 'proposals') throw new ReportInputError('--notes', `${file}: unknown key "${k}"; expected situation, problems, proposals`);
    if (typeof v !== 'string') throw new ReportInputError('--notes', `${file}: ${k} must be text`);
    out[k] = v;
  }
  return out;
}

export async function reportCommand(service: ReportService, kind: string, o: ReportCliOptions, apply?: (q: Queryable, s: Signal[]) => Promise<unknown>): Promise<ReportCliResult> {
  try {
    if (o.submit && kind !== 'nqs-yearly') throw new ReportInputError('--submit', 'only the nqs-yearly report is submitted');
    const notes = o.notes ? readNotes(o.notes) : undefined;
    const opts = { kind, period: o.period, system: o.system, format: o.format, lang: o.lang, excludeMaintenance: o.excludeMaintenance, bom: o.bom, notes };
    let r;
    let kept = '';
    if (o.submit) {
      const s = await service.submitNqs(opts, 'cli', apply);
      r = s.rendered;
      kept = `; submitted as archive #${s.id}`;
    } else {
      r = await service.generate(opts);
    }
    const line = `${r.report.kind} ${r.report.period.label}${r.report.scope.system ? ` ${r.report.scope.system}` : ''}: ${r.format}, ${r.body.length} bytes, data SHA-256 ${r.report.data_sha256}${kept}`;
    if (o.output) {
      writeFileSync(o.output, r.body);
      return { code: 0, message: `${line}; written to ${o.output}` };
    }
    return { code: 0, body: r.body, message: line };
  } catch (err) {
    if (err instanceof ReportInputError) return { code: 2, message: `kuzet report: ${err.message}` };
    if (err instanceof PdfUnavailableError) return { code: 1, message: `kuzet report: ${err.message}` };
    throw err;
  }
}
