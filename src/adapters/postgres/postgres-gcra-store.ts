import { sql, type Kysely } from 'kysely';
import { DEMAND_TTL_MS, type G2APriority, type GcraShape, type GcraStore } from '../g2a/g2a-rate-limiter.js';
import type { Database } from './schema.js';

const MAIN = 'g2a';
const SYNC = 'g2a:sync';

/**
 * The shared G2A rate in PostgreSQL, the one store every process of the shop shares (a second store, such as
 * Redis with this as its fallback, would split the count whenever processes disagree on which one answers).
 * Each request reserves its slot in a short transaction that locks the limiter's row, on the database's clock.
 */
export class PostgresGcraStore implements GcraStore {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly db: Kysely<Database>) {}

  async reserve(
    priority: G2APriority,
    shape: GcraShape,
  ): Promise<{ slotInMs: number } | { askAgainInMs: number }> {
    await this.ensureRows();
    return this.db.transaction().execute(async (tx) => {
      const rows = await sql<{ name: string; tat_ms: number; demand_until_ms: number }>`
        SELECT name, tat_ms, demand_until_ms
        FROM rate_limiters WHERE name IN (${MAIN}, ${SYNC}) ORDER BY name FOR UPDATE`.execute(tx);
      const main = rows.rows.find((row) => row.name === MAIN)!;
      const own = rows.rows.find((row) => row.name === SYNC)!;
      // The clock once the rows are ours: read in the locking statement it would be as old as the wait for
      // the lock whenever the transaction before left the rows unchanged.
      const clock = await sql<{ now_ms: number }>`
        SELECT extract(epoch FROM clock_timestamp()) * 1000 AS now_ms`.execute(tx);
      const now = Number(clock.rows[0]!.now_ms);
      if (priority === 'sync' && Number(main.demand_until_ms) > now) {
        // Fulfilment wants the rate: a sync reserves only at its own, slower pace.
        const ownArrival = Math.max(Number(own.tat_ms), now);
        if (ownArrival > now) return { askAgainInMs: Math.ceil(ownArrival - now) };
        await tx
          .updateTable('rate_limiters')
          .set({ tat_ms: ownArrival + shape.yieldIntervalMs })
          .where('name', '=', SYNC)
          .execute();
      }
      // GCRA's virtual scheduling: the next slot, at most `toleranceMs` early; the arrival time moves one interval.
      const arrival = Math.max(Number(main.tat_ms), now);
      const slot = Math.max(now, arrival - shape.toleranceMs);
      await tx
        .updateTable('rate_limiters')
        .set({
          tat_ms: arrival + shape.intervalMs,
          ...(priority === 'fulfilment'
            ? { demand_until_ms: Math.max(Number(main.demand_until_ms), slot + DEMAND_TTL_MS) }
            : {}),
        })
        .where('name', '=', MAIN)
        .execute();
      return { slotInMs: Math.max(0, Math.ceil(slot - now)) };
    });
  }

  /** The limiter's rows, made once; a failed attempt is tried again by the next request. */
  private async ensureRows(): Promise<void> {
    this.ready ??= this.db
      .insertInto('rate_limiters')
      .values([
        { name: MAIN, tat_ms: 0 },
        { name: SYNC, tat_ms: 0 },
      ])
      .onConflict((oc) => oc.column('name').doNothing())
      .execute()
      .catch((error: unknown) => {
        this.ready = undefined;
        throw error;
      });
    await this.ready;
  }
}
