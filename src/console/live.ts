import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.ts';
import type { Queryable } from '../store/store.ts';

// Live updates, when the browser runs script: the page subscribes to /live (server-sent events) and reloads itself
// when what it shows changed. The pages work the same without it. The server compares a small version string every
// `everyMs` on the injected clock; a stream lasts at most an hour, and ends when the server stops.

export const LIVE_SCRIPT = `(function(){var m=document.querySelector('main[data-live]');if(!m||!window.EventSource)return;
var es=new EventSource(m.getAttribute('data-live'));es.addEventListener('change',function(){
var dirty=[].some.call(document.querySelectorAll('main input:not([type=hidden]),main textarea'),function(e){return e.value!==e.defaultValue;});
if(!dirty&&!(document.activeElement&&document.activeElement.form)){location.reload();return;}
if(!document.getElementById('live-note')){var p=document.createElement('p');p.id='live-note';p.className='ok';p.setAttribute('role','status');
var a=document.createElement('a');a.href=location.href;a.textContent=m.getAttribute('data-live-text')||'\\u21bb';p.appendChild(a);m.insertBefore(p,m.firstChild);}});})();
`;

export async function liveVersion(q: Queryable, incident: number | null): Promise<string> {
  if (incident !== null) {
    const r = await q.query<{ v: string | null }>(
      `SELECT i.status || ':' || i.updated_at::text || ':' || (SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id)
              || ':' || (SELECT coalesce(string_agg(o.state, ',' ORDER BY o.id), '') FROM outbox o WHERE o.subject_kind = 'incident' AND o.subject_id = i.id) AS v
         FROM incidents i WHERE i.id = $1`, [incident]);
    return r.rows[0]?.v ?? 'none';
  }
  const r = await q.query<{ v: string | null }>(`SELECT coalesce(max(id), 0)::text || ':' || coalesce(max(updated_at)::text, '') AS v FROM incidents`);
  return r.rows[0]?.v ?? '';
}

export function registerLive(scope: FastifyInstance, deps: { store: Queryable; clock: Clock; need: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>; everyMs?: number }) {
  const every = deps.everyMs ?? 2_000;
  const open = new Set<() => void>();
  scope.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });
  // Browsers ask for it on every page; there is none, and a 404 would only fill their logs.
  scope.get('/favicon.ico', async (_req, reply) => reply.code(204).header('cache-control', 'public, max-age=86400').send());
  scope.get('/console.js', async (_req, reply) =>
    reply.headers({ 'content-type': 'application/javascript; charset=utf-8', 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' }).send(LIVE_SCRIPT));
  scope.get('/live', { preHandler: deps.need }, async (req, reply) => {
    const raw = (req.query as Record<string, unknown>).incident;
    const incident = typeof raw === 'string' && /^\d{1,15}$/.test(raw) ? Number(raw) : null;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const started = deps.clock.now();
    let last = await liveVersion(deps.store, incident).catch(() => '');
    res.write(`retry: 5000\nevent: version\ndata: ${last}\n\n`);
    let timer: { cancel(): void } | null = null;
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      timer?.cancel();
      open.delete(end);
      res.end();
    };
    open.add(end);
    req.raw.on('close', end);
    const tick = async () => {
      if (done) return;
      if (deps.clock.now() - started > 3_600_000) return end();
      const v = await liveVersion(deps.store, incident).catch(() => last);
      if (done) return;
      res.write(v !== last ? `event: change\ndata: ${v}\n\n` : `: keep-alive\n\n`);
      last = v;
      timer = deps.clock.setTimeout(() => void tick(), every);
    };
    timer = deps.clock.setTimeout(() => void tick(), every);
  });
}
