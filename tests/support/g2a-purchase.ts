import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { SIMULATOR_DEV_CREDENTIALS } from '../../src/adapters/g2a/simulator-defaults.js';
import { createG2ASimulator, type G2ASimulator } from '../../src/adapters/g2a/simulator.js';
import { UndiciG2AClient, type UndiciG2AClientOptions } from '../../src/adapters/g2a/undici-g2a-client.js';
import { PG_BOSS_SCHEMA } from '../../src/adapters/jobs/outbox-worker.js';
import {
  fulfilOrderUnit,
  type FulfilOrderUnitDeps,
  type FulfilmentSettings,
} from '../../src/application/fulfil-order-unit.js';
import { eurosToCents, retailPriceCents } from '../../src/domain/money.js';
import type { G2AProduct, G2A } from '../../src/ports/g2a.js';
import type { Ground } from './ground.js';
import { queueOf } from './outbox.js';
import { fund, order } from './wallet.js';

export interface ClockedSimulator extends G2ASimulator {
  url: string;
  /** The bodies of every `POST /v1/order` the simulator received, in order. */
  createBodies: { product_id: string; max_price?: number; currency?: string }[];
  /**
   * When set, `POST /v1/order` is processed as usual (the order exists) but answered with this error instead,
   * as a gateway in front of G2A might after G2A acted.
   */
  createAnswerReplacedBy: { httpStatus: number; code: string; message: string } | null;
}

/**
 * The G2A simulator on a loopback port, reading the ground's clock (key delays, order times), so that a test
 * moves G2A's time and the shop's together instead of sleeping. It records the create bodies it receives.
 */
export async function startClockedSimulator(
  ground: Pick<Ground, 'clock'>,
  options: { products?: number; seed?: number; webhook?: { url?: string; secret: string } } = {},
): Promise<ClockedSimulator> {
  const simulator = createG2ASimulator({
    products: options.products ?? 60,
    seed: options.seed ?? 11,
    ratePerMinute: 0,
    ...SIMULATOR_DEV_CREDENTIALS,
    now: () => ground.clock.now().getTime(),
    ...(options.webhook ? { webhook: options.webhook } : {}),
  });
  const createBodies: ClockedSimulator['createBodies'] = [];
  simulator.app.addHook('preHandler', async (request) => {
    if (request.method === 'POST' && request.url.startsWith('/v1/order')) {
      createBodies.push(request.body as ClockedSimulator['createBodies'][number]);
    }
  });
  const running = Object.assign(simulator, {
    url: '',
    createBodies,
    createAnswerReplacedBy: null as ClockedSimulator['createAnswerReplacedBy'],
  });
  simulator.app.addHook('onSend', async (request, reply, payload) => {
    const replacement = running.createAnswerReplacedBy;
    if (!replacement || request.method !== 'POST' || request.url !== '/v1/order') return payload;
    reply.code(replacement.httpStatus);
    return JSON.stringify({ status: 'ERROR', code: replacement.code, message: replacement.message });
  });
  running.url = await simulator.listen(0, '127.0.0.1');
  return running;
}

/** The real G2A client against the simulator: no client-side rate, no retries unless asked. */
export function simulatorClient(
  simulator: { url: string },
  options: Partial<UndiciG2AClientOptions> = {},
): UndiciG2AClient {
  return new UndiciG2AClient({
    baseUrl: simulator.url,
    ...SIMULATOR_DEV_CREDENTIALS,
    ratePerMinute: 0,
    maxRetries: 0,
    ...options,
  });
}

/** The real client with some calls wrapped (a gate, a fault switched on around one call). */
export function wrapG2A(client: G2A, overrides: Partial<G2A>): G2A {
  return {
    listProducts: (query) => client.listProducts(query),
    createOrder: (input, check) => client.createOrder(input, check),
    payOrder: (orderId, check) => client.payOrder(orderId, check),
    getOrderDetails: (orderId) => client.getOrderDetails(orderId),
    getOrderKey: (orderId) => client.getOrderKey(orderId),
    describe: () => client.describe(),
    ...overrides,
  };
}

/** Hands out in-stock simulator products, one per call, never the same twice for one simulator. */
export function productDispenser(simulator: G2ASimulator) {
  const used = new Set<string>();
  return (): G2AProduct => {
    for (let page = 1; ; page++) {
      const { docs } = simulator.state.listProducts({ page });
      if (docs.length === 0) throw new Error('the simulator has no unused in-stock product left');
      const product = docs.find((candidate) => !used.has(candidate.id) && candidate.qty >= 10);
      if (product) {
        used.add(product.id);
        return { ...product };
      }
    }
  };
}

/**
 * Inserts the shop's game for a simulator product as a catalogue sync would: cost = the product's minPrice in
 * cents (so `max_price` admits it), price = cost + 2 %. Answers the game id.
 */
export async function insertGameFor(ground: Pick<Ground, 'db'>, product: G2AProduct): Promise<string> {
  const tag = randomBytes(4).toString('hex');
  const costCents = eurosToCents(product.minPrice);
  const row = await ground.db
    .insertInto('games')
    .values({
      g2a_product_id: product.id,
      slug: `sim-${product.id}-${tag}`,
      name: `Sim ${product.name} ${tag}`,
      cost_cents: costCents,
      price_cents: retailPriceCents(costCents, 2),
      qty: product.qty,
      available_to_buy: true,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface Purchase {
  userId: string;
  orderId: string;
  /** Unit ids, line by line in the order of `products`. */
  units: string[];
  /** Unit ids of each line. */
  unitsByLine: string[][];
  products: G2AProduct[];
  gameIds: string[];
  /** The cost recorded at checkout, per line. */
  costCents: number[];
  priceCents: number[];
}

/** A fresh user who bought `quantities[i]` units of `products[i]` through `placeOrder`. */
export async function buy(
  ground: Ground,
  products: G2AProduct[],
  quantities: number[] = products.map(() => 1),
): Promise<Purchase> {
  const userId = await ground.newUser();
  const gameIds: string[] = [];
  for (const product of products) gameIds.push(await insertGameFor(ground, product));
  const costCents = products.map((product) => eurosToCents(product.minPrice));
  const priceCents = costCents.map((cost) => retailPriceCents(cost, 2));
  const total = priceCents.reduce((sum, price, index) => sum + price * quantities[index]!, 0);
  await fund(ground, userId, total + 1_000);
  const view = await order(ground, {
    userId,
    items: gameIds.map((gameId, index) => ({ gameId, quantity: quantities[index]! })),
  });
  const placed = (await ground.readers.orders.findById(view.id))!;
  const unitsByLine = gameIds.map((gameId) => {
    const line = placed.lines.find((candidate) => candidate.gameId === gameId)!;
    return placed.units.filter((unit) => unit.lineId === line.id).map((unit) => unit.id);
  });
  return {
    userId,
    orderId: view.id,
    units: unitsByLine.flat(),
    unitsByLine,
    products,
    gameIds,
    costCents,
    priceCents,
  };
}

export const TEST_SETTINGS: FulfilmentSettings = {
  leaseMs: 60_000,
  orderReservationMs: 10 * 60_000,
  keyWaitMs: 30 * 60_000,
};

/** The deps of `fulfilOrderUnit` on the ground, with a fresh worker id unless given. */
export function fulfilmentDeps(
  ground: Ground,
  g2a: G2A,
  overrides: Partial<FulfilOrderUnitDeps> = {},
): FulfilOrderUnitDeps {
  return {
    uow: ground.uow,
    g2a,
    vault: ground.vault,
    clock: ground.clock,
    logger: ground.logger,
    settings: TEST_SETTINGS,
    publicUrl: 'https://shop.test',
    ...overrides,
  };
}

export const fulfil = (deps: FulfilOrderUnitDeps, unitId: string) => fulfilOrderUnit(deps, unitId);

/** A unit's row as stored. */
export function unitRow(ground: Pick<Ground, 'db'>, unitId: string) {
  return ground.db.selectFrom('order_units').selectAll().where('id', '=', unitId).executeTakeFirstOrThrow();
}

/** The `g2a.fulfil` messages (pg-boss jobs) with when they may start, in the order they were written. */
export async function fulfilMessages(ground: Pick<Ground, 'db'>) {
  const rows = await sql<{ unitId: string; startAfter: Date }>`
    SELECT data->>'unitId' AS "unitId", start_after AS "startAfter"
    FROM ${sql.raw(PG_BOSS_SCHEMA)}.job WHERE name = ${queueOf('g2a.fulfil')}
    ORDER BY created_on, ctid`.execute(ground.db);
  return rows.rows;
}

/** The refund entries of a unit in the ledger. */
export async function refundEntriesOf(ground: Pick<Ground, 'db'>, unitId: string) {
  return ground.db
    .selectFrom('transactions')
    .select(['amount_cents', 'order_id', 'user_id'])
    .where('order_unit_id', '=', unitId)
    .where('type', '=', 'refund')
    .execute();
}

/** Every table of the shop's database and pg-boss's whose rows, as text, contain `needle`. */
export async function tablesContaining(ground: Pick<Ground, 'db'>, needle: string): Promise<string[]> {
  const tables = await sql<{ schema: string; name: string }>`
    SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
    WHERE table_type = 'BASE TABLE' AND table_schema IN ('public', ${PG_BOSS_SCHEMA})`.execute(ground.db);
  const found: string[] = [];
  for (const table of tables.rows) {
    const hit = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(
      `${table.schema}.${table.name}`,
    )} AS t WHERE t::text ILIKE ${`%${needle}%`}`.execute(ground.db);
    if (hit.rows[0]!.n > 0) found.push(`${table.schema}.${table.name}`);
  }
  return found;
}
