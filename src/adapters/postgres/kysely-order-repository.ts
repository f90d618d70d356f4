import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import {
  ORDER_PREDECESSORS,
  type GameForSale,
  type Order,
  type OrderStatus,
  type OrderUnitState,
} from '../../domain/order.js';
import type { NewOrder, OrderReader, OrderRepository } from '../../ports/orders.js';
import type { Database, OrdersTable } from './schema.js';

const GAME_FOR_SALE = sql.raw(
  'g.id, g.name, g.g2a_product_id, g.price_cents, g.cost_cents, g.qty, g.available_to_buy, g.delisted',
);

interface CheckoutRow {
  balance_cents: number;
  id: string;
  name: string;
  g2a_product_id: string;
  price_cents: number;
  cost_cents: number;
  qty: number;
  available_to_buy: boolean;
  delisted: boolean;
}

function toGameForSale(row: Omit<CheckoutRow, 'balance_cents'>): GameForSale {
  return {
    id: row.id,
    name: row.name,
    g2aProductId: row.g2a_product_id,
    priceCents: Number(row.price_cents),
    costCents: Number(row.cost_cents),
    qty: row.qty,
    availableToBuy: row.available_to_buy,
    delisted: row.delisted,
  };
}

export class KyselyOrderReader implements OrderReader {
  constructor(protected readonly db: Kysely<Database>) {}

  async findById(orderId: string): Promise<Order | null> {
    const row = await this.db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirst();
    return row ? ((await this.withLinesAndUnits([row]))[0] ?? null) : null;
  }

  async listByUser(userId: string): Promise<Order[]> {
    const rows = await this.db
      .selectFrom('orders')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return this.withLinesAndUnits(rows);
  }

  protected async withLinesAndUnits(rows: Selectable<OrdersTable>[], lockUnits = false): Promise<Order[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id);
    const lines = await this.db
      .selectFrom('order_lines')
      .selectAll()
      .where('order_id', 'in', ids)
      .orderBy('order_id')
      .orderBy('position')
      .execute();
    let unitsQuery = this.db
      .selectFrom('order_units as u')
      .innerJoin('order_lines as l', 'l.id', 'u.line_id')
      .select(['u.id', 'u.order_id', 'u.line_id', 'u.state'])
      .where('u.order_id', 'in', ids)
      .orderBy('u.order_id')
      .orderBy('l.position')
      .orderBy('u.id');
    if (lockUnits) unitsQuery = unitsQuery.forUpdate('u');
    const units = await unitsQuery.execute();
    return rows.map((row) => ({
      id: row.id,
      userId: row.user_id,
      status: row.status,
      totalCents: row.total_cents,
      currency: row.currency,
      source: row.source,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      lines: lines
        .filter((line) => line.order_id === row.id)
        .map((line) => ({
          id: line.id,
          position: line.position,
          gameId: line.game_id,
          name: line.name,
          g2aProductId: line.g2a_product_id,
          quantity: line.quantity,
          unitPriceCents: line.unit_price_cents,
          unitCostCents: line.unit_cost_cents,
        })),
      units: units
        .filter((unit) => unit.order_id === row.id)
        .map((unit) => ({ id: unit.id, lineId: unit.line_id, state: unit.state })),
    }));
  }
}

export class KyselyOrderRepository extends KyselyOrderReader implements OrderRepository {
  constructor(tx: Transaction<Database>) {
    super(tx);
  }

  private async lockWallet(userId: string): Promise<number | null> {
    const wallet = await this.db
      .selectFrom('users')
      .select('balance_cents')
      .where('id', '=', userId)
      .forNoKeyUpdate()
      .executeTakeFirst();
    return wallet ? wallet.balance_cents : null;
  }

  async lockForCheckout(
    userId: string,
    what: { items: { gameId: string; quantity: number }[] } | { cart: true },
  ): Promise<{
    balanceCents: number | null;
    lines: { gameId: string; quantity: number }[];
    games: Map<string, GameForSale>;
  }> {
    let walletLocked: number | null | undefined;
    if ('cart' in what) {
      // The wallet on its own first: a cart add running now (it share-locks the same row) commits before this
      // returns, and the lines below, read by the next statement, include its line.
      walletLocked = await this.lockWallet(userId);
      if (walletLocked === null) return { balanceCents: null, lines: [], games: new Map() };
    }
    const rows =
      'cart' in what
        ? await sql<CheckoutRow & { quantity: number; added_at: Date }>`
            SELECT u.balance_cents, c.quantity, c.created_at AS added_at, ${GAME_FOR_SALE}
            FROM users u JOIN cart_items c ON c.user_id = u.id JOIN games g ON g.id = c.game_id
            WHERE u.id = ${userId}
            ORDER BY g.id
            FOR UPDATE OF c FOR SHARE OF g`.execute(this.db)
        : await sql<CheckoutRow>`
            SELECT u.balance_cents, ${GAME_FOR_SALE}
            FROM users u JOIN games g ON g.id = ANY(${what.items.map((item) => item.gameId)}::uuid[])
            WHERE u.id = ${userId}
            ORDER BY g.id
            FOR NO KEY UPDATE OF u FOR SHARE OF g`.execute(this.db);
    if (rows.rows.length === 0) {
      // An empty cart, games none of which exist, or no such user: the wallet alone, locked all the same.
      return {
        balanceCents: walletLocked !== undefined ? walletLocked : await this.lockWallet(userId),
        lines: 'cart' in what ? [] : what.items,
        games: new Map(),
      };
    }
    const games = new Map(rows.rows.map((row) => [row.id, toGameForSale(row)]));
    return {
      balanceCents: Number(rows.rows[0]!.balance_cents),
      // Locked in game-id order; ordered as the shopper added them to the cart.
      lines:
        'cart' in what
          ? (rows.rows as (CheckoutRow & { quantity: number; added_at: Date })[])
              .sort((a, b) => a.added_at.getTime() - b.added_at.getTime() || (a.id < b.id ? -1 : 1))
              .map((row) => ({ gameId: row.id, quantity: row.quantity }))
          : what.items,
      games,
    };
  }

  async insert(order: NewOrder): Promise<Order> {
    const lines = order.lines.map((line, position) => ({
      position,
      game_id: line.gameId,
      name: line.name,
      g2a_product_id: line.g2aProductId,
      quantity: line.quantity,
      unit_price_cents: line.unitPriceCents,
      unit_cost_cents: line.unitCostCents,
    }));
    // One statement: the order, its lines, and one unit per key bought (`quantity` rows for every line).
    const result = await sql<{
      order: Selectable<OrdersTable>;
      lines: { id: string; position: number }[];
      units: { id: string; line_id: string; state: OrderUnitState }[];
    }>`
      WITH new_order AS (
        INSERT INTO orders (user_id, status, total_cents, source)
        VALUES (${order.userId}, 'paid', ${order.totalCents}, ${order.source})
        RETURNING *
      ), new_lines AS (
        INSERT INTO order_lines (order_id, position, game_id, name, g2a_product_id, quantity, unit_price_cents, unit_cost_cents)
        SELECT new_order.id, l.position, l.game_id, l.name, l.g2a_product_id, l.quantity, l.unit_price_cents, l.unit_cost_cents
        FROM new_order, json_to_recordset(${JSON.stringify(lines)}::json) AS l(
          position int, game_id uuid, name text, g2a_product_id text, quantity int,
          unit_price_cents bigint, unit_cost_cents bigint)
        RETURNING id, position, order_id, quantity
      ), new_units AS (
        INSERT INTO order_units (order_id, line_id)
        SELECT new_lines.order_id, new_lines.id FROM new_lines, generate_series(1, new_lines.quantity)
        RETURNING id, line_id, state
      )
      SELECT (SELECT to_jsonb(new_order) FROM new_order) AS order,
             (SELECT jsonb_agg(jsonb_build_object('id', id, 'position', position)) FROM new_lines) AS lines,
             (SELECT jsonb_agg(jsonb_build_object('id', id, 'line_id', line_id, 'state', state)) FROM new_units) AS units`.execute(
      this.db,
    );
    const row = result.rows[0]!;
    const lineIdAt = new Map(row.lines.map((line) => [line.position, line.id]));
    const positionOf = new Map(row.lines.map((line) => [line.id, line.position]));
    return {
      id: row.order.id,
      userId: row.order.user_id,
      status: row.order.status,
      totalCents: Number(row.order.total_cents),
      currency: row.order.currency,
      source: row.order.source,
      createdAt: new Date(row.order.created_at),
      updatedAt: new Date(row.order.updated_at),
      lines: order.lines.map((line, position) => ({ ...line, id: lineIdAt.get(position)!, position })),
      units: row.units
        .map((unit) => ({ id: unit.id, lineId: unit.line_id, state: unit.state }))
        .sort(
          (x, y) =>
            positionOf.get(x.lineId)! - positionOf.get(y.lineId)! || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0),
        ),
    };
  }

  async lock(orderId: string): Promise<Order | null> {
    const row = await this.db
      .selectFrom('orders')
      .selectAll()
      .where('id', '=', orderId)
      .forUpdate()
      .executeTakeFirst();
    return row ? ((await this.withLinesAndUnits([row], true))[0] ?? null) : null;
  }

  async moveUnits(unitIds: string[], to: OrderUnitState, from: readonly OrderUnitState[]): Promise<string[]> {
    if (unitIds.length === 0 || from.length === 0) return [];
    const rows = await this.db
      .updateTable('order_units')
      .set({ state: to, updated_at: sql`now()` })
      .where('id', '=', sql<string>`any(${sql.val(unitIds)}::uuid[])`)
      .where('state', 'in', [...from])
      .returning('id')
      .execute();
    return rows.map((row) => row.id);
  }

  async moveStatus(orderId: string, to: OrderStatus): Promise<boolean> {
    const from = ORDER_PREDECESSORS[to];
    if (from.length === 0) return false;
    const row = await this.db
      .updateTable('orders')
      .set({ status: to, updated_at: sql`now()` })
      .where('id', '=', orderId)
      .where('status', 'in', [...from])
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }
}
