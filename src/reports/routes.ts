import type { FastifyInstance, FastifyReply, preHandlerHookHandler } from 'fastify';
import { ReportInputError } from './period.ts';
import { PdfUnavailableError } from './pdf.ts';
import type { ReportService } from './service.ts';

// GET /api/v1/reports/<kind>?period=…&system=…&format=…&lang=…&exclude_maintenance=true&bom=true (viewer)
// GET /api/v1/reports/archive?kind=…&limit=…&before=…   the kept reports, newest first (viewer)
// GET /api/v1/reports/archive/<id>                       one kept report, byte for byte as delivered (viewer)

export interface ReportRoutesDeps {
  service: ReportService;
  authorize: (role: 'viewer' | 'reporter' | 'soc' | 'oncall' | 'admin') => preHandlerHookHandler;
}

const bad = (reply: FastifyReply, message: string, field?: string) =>
  reply.code(400).type('application/json').send({ error: { code: 'KZ_ERR_VALIDATION', message, ...(field ? { field } : {}) } });

const QUERY_KEYS = new Set(['period', 'system', 'format', 'lang', 'exclude_maintenance', 'bom']);

function flag(name: string, v: unknown): boolean {
  if (v === undefined || v === '' || v === 'true' || v === '1') return v !== undefined;
  if (v === 'false' || v === '0') return false;
  throw new ReportInputError(name, `expected true or false, got ${JSON.stringify(String(v).slice(0, 20))}`);
}

export async function registerReportRoutes(app: FastifyInstance, deps: ReportRoutesDeps): Promise<void> {
  const { service } = deps;

  app.get<{ Querystring: Record<string, unknown> }>('/api/v1/reports/archive', { preHandler: deps.authorize('viewer') }, async (req, reply) => {
    const q = req.query;
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    const before = q.before === undefined ? undefined : Number(q.before);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) return bad(reply, `limit: expected a whole number 1 to 500, got ${JSON.stringify(q.limit)}`, 'limit');
    if (before !== undefined && (!Number.isInteger(before) || before < 1)) return bad(reply, `before: expected a positive whole number, got ${JSON.stringify(q.before)}`, 'before');
    if (q.kind !== undefined && typeof q.kind !== 'string') return bad(reply, 'kind: expected one value', 'kind');
    const items = await service.listArchive({ kind: q.kind as string | undefined, limit, before });
    return { items, next: items.length === limit ? items[items.length - 1]!.id : null };
  });

  app.get<{ Params: { id: string } }>('/api/v1/reports/archive/:id', { preHandler: deps.authorize('viewer') }, async (req, reply) => {
    if (!/^[1-9]\d{0,15}$/.test(req.params.id)) return bad(reply, `id: expected a positive whole number, got ${JSON.stringify(req.params.id.slice(0, 40))}`, 'id');
    const a = await service.getArchived(Number(req.params.id));
    if (!a) return reply.code(404).send({ error: { code: 'KZ_ERR_NOT_FOUND', message: `report ${req.params.id} is not in the archive` } });
    const name = `kuzet-${a.kind}-${a.period.replace(/\.\./g, '_')}${a.system ? `-${a.system}` : ''}.${a.format}`;
    return reply
      .header('content-type', a.content_type)
      .header('content-disposition', `attachment; filename="${name}"`)
      .header('x-kuzet-data-sha256', a.sha256)
      .send(a.body);
  });

  app.get<{ Params: { kind: string }; Querystring: Record<string, unknown> }>('/api/v1/reports/:kind', { preHandler: deps.authorize('viewer') }, async (req, reply) => {
    const q = req.query;
    const unknown = Object.keys(q).filter((k) => !QUERY_KEYS.has(k));
    if (unknown.length) return bad(reply, `unknown query parameter ${unknown.map((k) => JSON.stringify(k)).join(', ')}; known: ${[...QUERY_KEYS].join(', ')}`, unknown[0]);
    for (const k of QUERY_KEYS) if (Array.isArray(q[k])) return bad(reply, `${k}: given more than once`, k);
    try {
      const r = await service.generate({
        kind: req.params.kind,
        period: q.period,
        system: q.system,
        format: q.format,
        lang: q.lang,
        excludeMaintenance: flag('exclude_maintenance', q.exclude_maintenance),
        bom: flag('bom', q.bom),
      });
      reply.header('content-type', r.contentType).header('x-kuzet-data-sha256', r.report.data_sha256);
      if (r.format !== 'json') reply.header('content-disposition', `${r.format === 'html' ? 'inline' : 'attachment'}; filename="${r.fileName}"`);
      return reply.send(r.body);
    } catch (err) {
      if (err instanceof ReportInputError) return bad(reply, err.message, err.field);
      if (err instanceof PdfUnavailableError) return reply.code(501).send({ error: { code: 'KZ_ERR_PDF_UNAVAILABLE', message: err.message } });
      throw err;
    }
  });
}
