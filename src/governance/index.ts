// Governance: identities, signed requests, invitations, roles, the cooperation agreement,
// plan approvals and the audit log. Pure building blocks; the coordinator and the member
// node wire them to HTTP and storage.

export * from './canonical.js';
export * from './identity.js';
export * from './signed-request.js';
export * from './invitations.js';
export * from './roles.js';
export * from './agreement.js';
export * from './plans.js';
export * from './audit.js';
export { sha256Hex } from './digest.js';
export { COUNTRY_CODES, isCountryCode } from './countries.js';
