import type { FastifyInstance } from 'fastify';
import type { Clock } from '../clock.ts';
import type { Authorize } from '../http/auth.ts';
import type { Store } from '../store/store.ts';
import { DEAD_AFTER_BEATS, listMembers, type Membership } from './membership.ts';

// GET /api/v1/instances (viewer): every registered instance, live, dead or stopped, and which one answered.

export interface InstanceRouteDeps {
  store: Store;
  clock: Clock;
  authorize: Authorize;
  membership: Membership;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export async function registerInstanceRoutes(app: FastifyInstance, deps: InstanceRouteDeps): Promise<void> {
  app.get('/api/v1/instances', {
    preHandler: deps.authorize('viewer'),
    schema: { tags: ['operations'], summary: `The kuzet instances sharing this store: live, dead (${DEAD_AFTER_BEATS} heartbeats missed) or stopped` },
  }, async (_req, reply) => {
    const now = deps.clock.now();
    let members;
    try {
      members = await listMembers(deps.store, now);
    } catch {
      return reply.code(503).send({ error: { code: 'KZ_ERR_STORE', message: 'the store does not answer; retry' } });
    }
    return {
      self: deps.membership.id,
      location: deps.membership.location,
      dead_after_heartbeats: DEAD_AFTER_BEATS,
      instances: members.map((m) => ({
        id: m.id,
        location: m.location,
        version: m.version,
        status: m.status,
        started_at: iso(m.startedAt),
        heartbeat_at: iso(m.heartbeatAt),
        heartbeat_seconds: m.heartbeatMs / 1000,
        stopped_at: iso(m.stoppedAt),
        self: m.id === deps.membership.id,
      })),
    };
  });
}
