/**
 * Development credentials shared by the shop and the G2A simulator when the `G2A_*` variables are unset, so
 * both sides agree without configuration. They protect nothing and are never accepted in production.
 */
export const SIMULATOR_DEV_API_HASH = 'keyshop-dev-hash';
export const SIMULATOR_DEV_API_SECRET = 'keyshop-dev-secret';
export const SIMULATOR_DEV_EMAIL = 'dev@keyshop.local';

export const SIMULATOR_DEV_CREDENTIALS = {
  apiHash: SIMULATOR_DEV_API_HASH,
  apiSecret: SIMULATOR_DEV_API_SECRET,
  email: SIMULATOR_DEV_EMAIL,
} as const;

export const SIMULATOR_DEFAULT_PORT = 4010;
