import { sql, type Kysely } from 'kysely';
import { DEMAND_TTL_MS, type G2APriority, type GcraShape, type GcraStore } from '../g2a/g2a-rate-limiter.js';
import type { Database } from './schema.js';

const MAIN = 'g2a';
const SYNC = 'g2a:sync';

/**
 * The shared G2A rate in PostgreSQL, for processes without Redis (or while it is away): the same GCRA as the
 * Redis store, in a short transaction of its own that locks the limiter's rows, on the database's clock.
 */
export class PostgresGcraStore implements GcraStore {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly db: Kysely<Database>) {}

  async tryAcquire(priority: G2APriority, shape: GcraShape): Promise<number> {
    this.ready ??= this.db
      .insertInto('rate_limiters')
      .values([
        { name: MAIN, tat_ms: 0 },
        { name: SYNC, tat_ms: 0 },
      ])
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    await this.ready;
    return this.db.transaction().execute(async (tx) => {
      const rows = await sql<{ name: string; tat_ms: number; demand_until_ms: number; now_ms: number }>`
        SELECT name, tat_ms, demand_until_ms, (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms
        FROM rate_limiters WHERE name IN (${MAIN}, ${SYNC}) ORDER BY name FOR UPDATE`.execute(tx);
      const main = rows.rows.find((row) => row.name === MAIN)!;
      const own = rows.rows.find((row) => row.name === SYNC)!;
      const now = Number(main.now_ms);
      const demandUntil = priority === 'fulfilment' ? now + DEMAND_TTL_MS : Number(main.demand_until_ms);
      const tat = Math.max(Number(main.tat_ms), now);
      const wait = tat - shape.toleranceMs - now;
      let granted = wait <= 0;
      let answer = Math.ceil(wait);
      if (granted && priority === 'sync' && demandUntil > now) {
        const ownTat = Math.max(Number(own.tat_ms), now);
        if (ownTat > now) {
          granted = false;
          answer = Math.ceil(ownTat - now);
        } else {
          await tx
            .updateTable('rate_limiters')
            .set({ tat_ms: ownTat + shape.yieldIntervalMs })
            .where('name', '=', SYNC)
            .execute();
        }
      }
      await tx
        .updateTable('rate_limiters')
        .set({
          demand_until_ms: demandUntil,
          ...(granted ? { tat_ms: tat + shape.intervalMs } : {}),
        })
        .where('name', '=', MAIN)
        .execute();
      return granted ? 0 : Math.max(1, answer);
    });
  }
}
