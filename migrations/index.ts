import type { Migration } from 'kysely';
import * as identityAndOutbox from './20261121180000_identity_and_outbox.js';
import * as catalog from './20261121190000_catalog.js';
import * as cartsAndWishlists from './20261121200000_carts_and_wishlists.js';
import * as outboxInPgBoss from './20261201090000_outbox_in_pg_boss.js';
import * as walletAndOrders from './20261201100000_wallet_and_orders.js';
import * as fulfilment from './20261201110000_fulfilment.js';
import * as rateLimitPoints from './20261203090000_rate_limit_points.js';
import * as userSessionsValidAfter from './20261203100000_user_sessions_valid_after.js';

/** Every migration, by its timestamped name; a new migration file is added here too (a test checks). */
export const migrations: Record<string, Migration> = {
  '20261121180000_identity_and_outbox': identityAndOutbox,
  '20261121190000_catalog': catalog,
  '20261121200000_carts_and_wishlists': cartsAndWishlists,
  '20261201090000_outbox_in_pg_boss': outboxInPgBoss,
  '20261201100000_wallet_and_orders': walletAndOrders,
  '20261201110000_fulfilment': fulfilment,
  '20261203090000_rate_limit_points': rateLimitPoints,
  '20261203100000_user_sessions_valid_after': userSessionsValidAfter,
};
