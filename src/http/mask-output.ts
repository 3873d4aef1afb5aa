import type { FastifyInstance } from 'fastify';
import { maskDeep } from '../mask.ts';

// The API's output boundary for personal data: every JSON answer to a caller whose role is not in
// `requests.personal_data_roles` (and to anonymous callers) passes through the one masking function, whatever
// the route: incident titles, labels and timelines, request fields, notifications, errors that echo input.
// Field-specific masks (a name to its initials, a login to its first letter) stay with the request views.

export interface OutputMaskOptions {
  /** Roles that may read personal data whole (read on every request, so a reload applies at once). */
  personalRoles: () => readonly string[];
  /** Routes whose answers hold no personal data and must stay byte-exact (the OpenAPI document). */
  exempt?: readonly string[];
}

export function installOutputMasking(app: FastifyInstance, o: OutputMaskOptions): void {
  const exempt = new Set(o.exempt ?? []);
  app.addHook('preSerialization', async (req, _reply, payload: unknown) => {
    const role = req.principal?.role;
    if (role && o.personalRoles().includes(role)) return payload;
    if (req.routeOptions.url && exempt.has(req.routeOptions.url)) return payload;
    return maskDeep(payload);
  });
}
