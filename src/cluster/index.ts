export { DEAD_AFTER_BEATS, LIVE, listMembers, Membership, ownerOf, type Member, type MembershipOptions } from './membership.ts';
export { registerInstanceRoutes, type InstanceRouteDeps } from './routes.ts';
