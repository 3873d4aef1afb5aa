export { DEAD_AFTER_BEATS, listMembers, Membership, ownerOf, type Member, type MembershipOptions } from './membership.ts';
export { registerInstanceRoutes, type InstanceRouteDeps } from './routes.ts';
