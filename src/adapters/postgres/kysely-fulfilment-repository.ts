import { sql, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely';
import { FULFILMENT_OPEN_STATES, type FulfilmentUnit } from '../../domain/fulfilment.js';
import type { OrderUnitState } from '../../domain/order.js';
import type {
  FulfilmentClaim,
  FulfilmentReader,
  FulfilmentRepository,
  FulfilmentSummary,
  WebhookEventRepository,
} from '../../ports/fulfilment.js';
import type { SealedKey } from '../../ports/key-vault.js';
import type { Database } from './schema.js';

const OPEN = [...FULFILMENT_OPEN_STATES];

/** Units fulfilment works on: on their way, or refunded after G2A was paid but without their key yet. */
const workable = (eb: ExpressionBuilder<Database, 'order_units'>) =>
  eb.or([
    eb('state', 'in', OPEN),
    eb.and([eb('state', '=', 'refunded'), eb('paid_at', 'is not', null), eb('key_ciphertext', 'is', null)]),
  ]);
const ALL_STATES: OrderUnitState[] = ['pending', 'ordered', 'paid', 'delivered', 'failed', 'refunded'];

export class KyselyFulfilmentReader implements FulfilmentReader {
  constructor(private readonly db: Kysely<Database>) {}

  async summary(now: Date, flaggedLimit: number): Promise<FulfilmentSummary> {
    const [counts, oldest, flagged] = await Promise.all([
      this.db
        .selectFrom('order_units')
        .select(['state', sql<number>`count(*)::int`.as('n')])
        .groupBy('state')
        .execute(),
      this.db
        .selectFrom('order_units')
        .select(['id', 'order_id', 'state', 'created_at'])
        .where('state', 'in', OPEN)
        .orderBy('created_at')
        .limit(1)
        .executeTakeFirst(),
      this.db
        .selectFrom('order_units')
        .select(['id', 'order_id', 'g2a_order_id', 'state', 'flag_reason', 'flagged_at'])
        .where('flagged_at', 'is not', null)
        .where('state', 'in', OPEN)
        .orderBy('flagged_at')
        .limit(flaggedLimit)
        .execute(),
    ]);
    const byState = Object.fromEntries(ALL_STATES.map((state) => [state, 0])) as Record<
      OrderUnitState,
      number
    >;
    for (const row of counts) byState[row.state] = row.n;
    return {
      byState,
      oldestOpen: oldest
        ? {
            unitId: oldest.id,
            orderId: oldest.order_id,
            state: oldest.state,
            ageSeconds: Math.max(0, Math.round((now.getTime() - oldest.created_at.getTime()) / 1000)),
          }
        : null,
      flagged: flagged.map((row) => ({
        unitId: row.id,
        orderId: row.order_id,
        g2aOrderId: row.g2a_order_id,
        state: row.state,
        reason: row.flag_reason,
        flaggedAt: row.flagged_at!,
      })),
    };
  }

  async sealedKeys(orderId: string): Promise<{ unitId: string; gameId: string; sealed: SealedKey }[]> {
    const rows = await this.db
      .selectFrom('order_units as u')
      .innerJoin('order_lines as l', 'l.id', 'u.line_id')
      .select(['u.id', 'l.game_id', 'u.key_ciphertext', 'u.key_iv', 'u.key_auth_tag', 'u.key_key_id'])
      .where('u.order_id', '=', orderId)
      .where('u.state', '=', 'delivered')
      .where('u.key_ciphertext', 'is not', null)
      .orderBy('u.delivered_at')
      .orderBy('u.id')
      .execute();
    return rows.map((row) => ({
      unitId: row.id,
      gameId: row.game_id,
      sealed: {
        ciphertext: row.key_ciphertext!,
        iv: row.key_iv!,
        authTag: row.key_auth_tag!,
        keyId: row.key_key_id!,
      },
    }));
  }
}

export class KyselyFulfilmentRepository implements FulfilmentRepository, WebhookEventRepository {
  constructor(private readonly db: Transaction<Database>) {}

  async claim(unitId: string, owner: string, now: Date, until: Date): Promise<FulfilmentClaim> {
    const row = await sql<{
      id: string;
      order_id: string;
      user_id: string;
      line_id: string;
      state: OrderUnitState;
      g2a_product_id: string;
      unit_cost_cents: number;
      unit_price_cents: number;
      g2a_order_id: string | null;
      create_started_at: Date | null;
      paid_at: Date | null;
      key_stored: boolean;
      attempts: number;
      flagged_at: Date | null;
      taken_over: boolean;
    }>`
      UPDATE order_units u SET lease_owner = ${owner}, lease_until = ${until}
      FROM order_units previous, order_lines l, orders o
      WHERE u.id = ${unitId} AND previous.id = u.id AND l.id = u.line_id AND o.id = u.order_id
        AND (u.state IN ('pending', 'ordered', 'paid')
             OR (u.state = 'refunded' AND u.paid_at IS NOT NULL AND u.key_ciphertext IS NULL))
        AND (u.lease_until IS NULL OR u.lease_until < ${now})
      RETURNING u.id, u.order_id, o.user_id, u.line_id, u.state, l.g2a_product_id, l.unit_cost_cents,
        l.unit_price_cents, u.g2a_order_id, u.create_started_at, u.paid_at, u.key_ciphertext IS NOT NULL AS key_stored,
        u.attempts, u.flagged_at, previous.lease_owner IS NOT NULL AS taken_over`.execute(this.db);
    const claimed = row.rows[0];
    if (claimed) {
      const unit: FulfilmentUnit = {
        id: claimed.id,
        orderId: claimed.order_id,
        userId: claimed.user_id,
        lineId: claimed.line_id,
        state: claimed.state,
        g2aProductId: claimed.g2a_product_id,
        maxPriceCents: Number(claimed.unit_cost_cents),
        unitPriceCents: Number(claimed.unit_price_cents),
        g2aOrderId: claimed.g2a_order_id,
        createStartedAt: claimed.create_started_at,
        paidAt: claimed.paid_at,
        keyStored: claimed.key_stored,
        attempts: claimed.attempts,
        flaggedAt: claimed.flagged_at,
        takenOver: claimed.taken_over,
      };
      return { unit };
    }
    const current = await this.db
      .selectFrom('order_units')
      .select('id')
      .where('id', '=', unitId)
      .where(workable)
      .executeTakeFirst();
    return { outcome: current ? 'busy' : 'closed' };
  }

  async renewLease(unitId: string, owner: string, until: Date): Promise<boolean> {
    const result = await this.leased(unitId, owner).set({ lease_until: until }).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  private leased(unitId: string, owner: string) {
    return this.db.updateTable('order_units').where('id', '=', unitId).where('lease_owner', '=', owner);
  }

  async markCreateStarted(unitId: string, owner: string, at: Date): Promise<boolean> {
    const result = await this.leased(unitId, owner)
      .set({ create_started_at: at, updated_at: at })
      .where('state', '=', 'pending')
      .where('g2a_order_id', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async clearCreateStarted(unitId: string, owner: string): Promise<void> {
    await this.leased(unitId, owner)
      .set({ create_started_at: null })
      .where('g2a_order_id', 'is', null)
      .execute();
  }

  // Not guarded by the lease: an order G2A made must be recorded even if the lease ran out meanwhile.
  async recordG2AOrder(
    unitId: string,
    _owner: string,
    g2aOrderId: string,
    priceCents: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('order_units')
      .set({
        state: 'ordered',
        g2a_order_id: g2aOrderId,
        g2a_price_cents: priceCents,
        create_started_at: null,
        // A step done: the backoff of the next one starts short.
        attempts: 0,
        updated_at: sql`now()`,
      })
      .where('id', '=', unitId)
      .where('state', '=', 'pending')
      .where('g2a_order_id', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  // Not guarded by the lease either: G2A was paid, whoever holds the unit now. A unit refunded meanwhile keeps
  // its state but records the payment, so that its key is still fetched (and kept sealed).
  async recordPaid(
    unitId: string,
    _owner: string,
    at: Date,
  ): Promise<'paid' | 'paid_after_refund' | 'moved_on'> {
    const row = await this.db
      .updateTable('order_units')
      .set((eb) => ({
        state: sql<OrderUnitState>`CASE WHEN ${eb.ref('state')} = 'ordered' THEN 'paid' ELSE ${eb.ref('state')} END`,
        paid_at: sql<Date>`coalesce(${eb.ref('paid_at')}, ${at}::timestamptz)`,
        attempts: 0,
        updated_at: at,
      }))
      .where('id', '=', unitId)
      .where((eb) =>
        eb.or([
          eb('state', 'in', ['ordered', 'paid']),
          eb.and([eb('state', '=', 'refunded'), eb('g2a_order_id', 'is not', null)]),
        ]),
      )
      .returning('state')
      .executeTakeFirst();
    if (!row) return 'moved_on';
    return row.state === 'paid' ? 'paid' : 'paid_after_refund';
  }

  async stillOrdered(unitId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('order_units')
      .select('id')
      .where('id', '=', unitId)
      .where('state', '=', 'ordered')
      .executeTakeFirst();
    return row !== undefined;
  }

  async storeKey(unitId: string, sealed: SealedKey, at: Date): Promise<'delivered' | 'stored' | 'kept'> {
    const row = await this.db
      .updateTable('order_units')
      .set((eb) => ({
        key_ciphertext: sealed.ciphertext,
        key_iv: sealed.iv,
        key_auth_tag: sealed.authTag,
        key_key_id: sealed.keyId,
        state: sql<OrderUnitState>`CASE WHEN ${eb.ref('state')} = 'paid' THEN 'delivered' ELSE ${eb.ref('state')} END`,
        delivered_at: sql<Date>`CASE WHEN ${eb.ref('state')} = 'paid' THEN ${at}::timestamptz ELSE ${eb.ref('delivered_at')} END`,
        updated_at: at,
      }))
      .where('id', '=', unitId)
      .where('key_ciphertext', 'is', null)
      .returning('state')
      .executeTakeFirst();
    if (!row) return 'kept';
    return row.state === 'delivered' ? 'delivered' : 'stored';
  }

  async recordFailure(unitId: string, reason: string): Promise<void> {
    await this.db
      .updateTable('order_units')
      .set({ failure_reason: reason.slice(0, 500), lease_owner: null, lease_until: null })
      .where('id', '=', unitId)
      .execute();
  }

  async release(
    unitId: string,
    owner: string,
    change: { nextAttemptAt: Date; error?: string; flag?: string; at: Date },
  ): Promise<void> {
    await this.leased(unitId, owner)
      .set((eb) => ({
        lease_owner: null,
        lease_until: null,
        next_attempt_at: change.nextAttemptAt,
        ...(change.error !== undefined
          ? { attempts: eb('attempts', '+', 1), last_error: change.error.slice(0, 500) }
          : {}),
        ...(change.flag !== undefined
          ? {
              flagged_at: sql<Date>`coalesce(${eb.ref('flagged_at')}, ${change.at}::timestamptz)`,
              flag_reason: change.flag,
            }
          : {}),
      }))
      .execute();
  }

  async dueUnits(now: Date, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('order_units')
      .select('id')
      .where(workable)
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
    return rows.map((row) => row.id);
  }

  async record(event: { eventId: string; g2aOrderId: string; status: string }): Promise<boolean> {
    const row = await this.db
      .insertInto('g2a_webhook_events')
      .values({ event_id: event.eventId, g2a_order_id: event.g2aOrderId, status: event.status })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returning('event_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async unitOfG2AOrder(g2aOrderId: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('order_units')
      .select('id')
      .where('g2a_order_id', '=', g2aOrderId)
      .executeTakeFirst();
    return row?.id ?? null;
  }

  async markApplied(g2aOrderId: string, at: Date): Promise<number> {
    const result = await this.db
      .updateTable('g2a_webhook_events')
      .set({ applied_at: at })
      .where('g2a_order_id', '=', g2aOrderId)
      .where('applied_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}
