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

  async lockGamesForSale(gameIds: string[]): Promise<Map<string, GameForSale>> {
    if (gameIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('games')
      .select([
        'id',
        'name',
        'g2a_product_id',
        'price_cents',
        'cost_cents',
        'qty',
        'available_to_buy',
        'delisted',
      ])
      .where('id', '=', sql<string>`any(${sql.val(gameIds)}::uuid[])`)
      .orderBy('id')
      .forShare()
      .execute();
    return new Map(
      rows.map((row) => [
        row.id,
        {
          id: row.id,
          name: row.name,
          g2aProductId: row.g2a_product_id,
          priceCents: row.price_cents,
          costCents: row.cost_cents,
          qty: row.qty,
          availableToBuy: row.available_to_buy,
          delisted: row.delisted,
        },
      ]),
    );
  }

  async insert(order: NewOrder): Promise<Order> {
    const row = await this.db
      .insertInto('orders')
      .values({ user_id: order.userId, status: 'paid', total_cents: order.totalCents, source: order.source })
      .returningAll()
      .executeTakeFirstOrThrow();
    const lines = await this.db
      .insertInto('order_lines')
      .values(
        order.lines.map((line, position) => ({
          order_id: row.id,
          position,
          game_id: line.gameId,
          name: line.name,
          g2a_product_id: line.g2aProductId,
          quantity: line.quantity,
          unit_price_cents: line.unitPriceCents,
          unit_cost_cents: line.unitCostCents,
        })),
      )
      .returningAll()
      .execute();
    // One unit per key bought: `quantity` rows for every line.
    const units = await sql<{ id: string; line_id: string; state: OrderUnitState }>`
      INSERT INTO order_units (order_id, line_id)
      SELECT l.order_id, l.id FROM order_lines l, generate_series(1, l.quantity)
      WHERE l.order_id = ${row.id}
      RETURNING id, line_id, state`.execute(this.db);
    const position = new Map(lines.map((line) => [line.id, line.position]));
    return {
      id: row.id,
      userId: row.user_id,
      status: row.status,
      totalCents: row.total_cents,
      currency: row.currency,
      source: row.source,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      lines: lines
        .sort((x, y) => x.position - y.position)
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
      units: units.rows
        .map((unit) => ({ id: unit.id, lineId: unit.line_id, state: unit.state }))
        .sort(
          (x, y) =>
            position.get(x.lineId)! - position.get(y.lineId)! || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0),
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
