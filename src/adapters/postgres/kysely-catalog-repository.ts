import { sql, type Selectable, type Transaction } from 'kysely';
import { slugify } from '../../domain/game.js';
import type { CatalogChanges, CatalogEntry, CatalogRepository, StockEntry } from '../../ports/catalog.js';
import type { Database, GamesTable } from './schema.js';

/** The stored fields a sync compares with G2A's to tell whether a game changed. */
const COMPARED_COLUMNS = [
  'id',
  'g2a_product_id',
  'slug',
  'name',
  'description',
  'platform_id',
  'region',
  'thumbnail',
  'cover_image',
  'release_date',
  'cost_cents',
  'price_cents',
  'retail_price_cents',
  'qty',
  'available_to_buy',
  'delisted',
] as const;

type Existing = Pick<Selectable<GamesTable>, (typeof COMPARED_COLUMNS)[number]>;

const noChanges = (): CatalogChanges => ({ changedGameIds: [], repricedGameIds: [], taxonomyChanged: false });

export class KyselyCatalogRepository implements CatalogRepository {
  constructor(private readonly db: Transaction<Database>) {}

  async upsertEntries(runId: string, entries: CatalogEntry[]): Promise<CatalogChanges> {
    if (entries.length === 0) return noChanges();
    const changes = noChanges();
    const platformIds = await this.ensurePlatforms(entries, changes);
    const categoryIds = await this.ensureCategories(entries, changes);

    // Locked here, in id order as every writer of games locks them, before anything of the page is written:
    // a checkout share-locking several of these games then waits for the page or the page for it, never both.
    const existing = new Map<string, Existing>(
      (
        await this.db
          .selectFrom('games')
          .select(COMPARED_COLUMNS)
          .where(
            'g2a_product_id',
            'in',
            entries.map((e) => e.g2aProductId),
          )
          .orderBy('id')
          .forNoKeyUpdate()
          .execute()
      ).map((row) => [row.g2a_product_id, row]),
    );
    const currentLinks = await this.categoryLinks([...existing.values()].map((g) => g.id));

    const now = new Date();
    const toWrite: CatalogEntry[] = [];
    const unchangedIds: string[] = [];
    for (const entry of entries) {
      const old = existing.get(entry.g2aProductId);
      const platformId = entry.platform ? (platformIds.get(entry.platform.slug) ?? null) : null;
      const linked = entry.categories.map((c) => categoryIds.get(c.g2aId)!);
      if (!old) {
        toWrite.push(entry);
        continue;
      }
      const same =
        old.slug === entry.slug &&
        old.name === entry.name &&
        old.description === entry.description &&
        old.platform_id === platformId &&
        old.region === entry.region &&
        old.thumbnail === entry.thumbnail &&
        old.cover_image === entry.coverImage &&
        old.release_date === entry.releaseDate &&
        old.cost_cents === entry.costCents &&
        old.price_cents === entry.priceCents &&
        old.retail_price_cents === entry.retailPriceCents &&
        old.qty === entry.qty &&
        old.available_to_buy === entry.availableToBuy &&
        !old.delisted &&
        sameCategories(currentLinks.get(old.id), linked);
      if (same) unchangedIds.push(old.id);
      else toWrite.push(entry);
      if (old.price_cents !== entry.priceCents) changes.repricedGameIds.push(old.id);
    }

    if (unchangedIds.length > 0) {
      await this.db
        .updateTable('games')
        .set({ last_seen_run_id: runId, last_synced_at: now })
        .where('id', 'in', unchangedIds)
        .execute();
    }
    if (toWrite.length === 0) return changes;

    const written = await this.db
      .insertInto('games')
      .values(
        toWrite.map((e) => ({
          g2a_product_id: e.g2aProductId,
          slug: e.slug,
          name: e.name,
          description: e.description,
          platform_id: e.platform ? (platformIds.get(e.platform.slug) ?? null) : null,
          region: e.region,
          region_slug: e.region ? slugify(e.region) : null,
          thumbnail: e.thumbnail,
          cover_image: e.coverImage,
          release_date: e.releaseDate,
          cost_cents: e.costCents,
          price_cents: e.priceCents,
          retail_price_cents: e.retailPriceCents,
          qty: e.qty,
          available_to_buy: e.availableToBuy,
          delisted: false,
          g2a_updated_at: e.g2aUpdatedAt,
          last_seen_run_id: runId,
          last_synced_at: now,
          updated_at: now,
        })),
      )
      .onConflict((oc) =>
        oc.column('g2a_product_id').doUpdateSet((eb) => ({
          slug: eb.ref('excluded.slug'),
          name: eb.ref('excluded.name'),
          description: eb.ref('excluded.description'),
          platform_id: eb.ref('excluded.platform_id'),
          region: eb.ref('excluded.region'),
          region_slug: eb.ref('excluded.region_slug'),
          thumbnail: eb.ref('excluded.thumbnail'),
          cover_image: eb.ref('excluded.cover_image'),
          release_date: eb.ref('excluded.release_date'),
          cost_cents: eb.ref('excluded.cost_cents'),
          price_cents: eb.ref('excluded.price_cents'),
          retail_price_cents: eb.ref('excluded.retail_price_cents'),
          qty: eb.ref('excluded.qty'),
          available_to_buy: eb.ref('excluded.available_to_buy'),
          delisted: false,
          delisted_at: null,
          g2a_updated_at: eb.ref('excluded.g2a_updated_at'),
          last_seen_run_id: eb.ref('excluded.last_seen_run_id'),
          last_synced_at: eb.ref('excluded.last_synced_at'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .returning(['id', 'g2a_product_id'])
      .execute();
    const idByProduct = new Map(written.map((row) => [row.g2a_product_id, row.id]));
    changes.changedGameIds.push(...written.map((row) => row.id));

    // Replace the G2A-sourced category links of the written games; the shop's own ('shop') links stay.
    await this.db
      .deleteFrom('game_categories')
      .where(
        'game_id',
        'in',
        written.map((row) => row.id),
      )
      .where('source', '=', 'g2a')
      .execute();
    const links = toWrite.flatMap((e) =>
      e.categories.map((c) => ({
        game_id: idByProduct.get(e.g2aProductId)!,
        category_id: categoryIds.get(c.g2aId)!,
        source: 'g2a' as const,
      })),
    );
    if (links.length > 0) {
      await this.db
        .insertInto('game_categories')
        .values(links)
        .onConflict((oc) => oc.columns(['game_id', 'category_id']).doNothing())
        .execute();
    }
    return changes;
  }

  async unseenListed(runId: string, limit: number): Promise<{ id: string; g2aProductId: string }[]> {
    const rows = await this.db
      .selectFrom('games')
      .select(['id', 'g2a_product_id'])
      .where('delisted', '=', false)
      .where((eb) => eb.or([eb('last_seen_run_id', 'is', null), eb('last_seen_run_id', '!=', runId)]))
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, g2aProductId: r.g2a_product_id }));
  }

  async markSeen(runId: string, gameIds: string[]): Promise<void> {
    if (gameIds.length === 0) return;
    await this.lockInIdOrder(gameIds);
    await this.db.updateTable('games').set({ last_seen_run_id: runId }).where('id', 'in', gameIds).execute();
  }

  async delist(gameIds: string[]): Promise<string[]> {
    if (gameIds.length === 0) return [];
    await this.lockInIdOrder(gameIds);
    const now = new Date();
    const rows = await this.db
      .updateTable('games')
      .set({ delisted: true, delisted_at: now, updated_at: now })
      .where('id', 'in', gameIds)
      .where('delisted', '=', false)
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async applyStock(entries: StockEntry[]): Promise<CatalogChanges> {
    const changes = noChanges();
    if (entries.length === 0) return changes;
    const values = sql.join(
      entries.map(
        (e) =>
          sql`(${e.g2aProductId}::text, ${e.qty}::int, ${e.availableToBuy}::boolean, ${e.costCents}::bigint, ${e.priceCents}::bigint)`,
      ),
    );
    // One statement: update only rows that differ, and report whether the price moved.
    const result = await sql<{ id: string; repriced: boolean }>`
      WITH incoming (g2a_product_id, qty, available_to_buy, cost_cents, price_cents) AS (VALUES ${values}),
      previous AS (
        SELECT g.id, g.price_cents FROM games g JOIN incoming i USING (g2a_product_id)
        WHERE (g.qty, g.available_to_buy, g.cost_cents, g.price_cents)
          IS DISTINCT FROM (i.qty, i.available_to_buy, i.cost_cents, i.price_cents)
        ORDER BY g.id
        FOR NO KEY UPDATE OF g
      )
      UPDATE games g
      SET qty = i.qty, available_to_buy = i.available_to_buy, cost_cents = i.cost_cents,
          price_cents = i.price_cents, last_synced_at = now(), updated_at = now()
      FROM incoming i, previous p
      WHERE g.g2a_product_id = i.g2a_product_id AND g.id = p.id
      RETURNING g.id, (p.price_cents <> i.price_cents) AS repriced`.execute(this.db);
    for (const row of result.rows) {
      changes.changedGameIds.push(row.id);
      if (row.repriced) changes.repricedGameIds.push(row.id);
    }
    return changes;
  }

  /** Every writer of games locks them in id order: writers and checkouts then never wait on each other crosswise. */
  private async lockInIdOrder(gameIds: string[]): Promise<void> {
    await this.db
      .selectFrom('games')
      .select('id')
      .where('id', 'in', gameIds)
      .orderBy('id')
      .forNoKeyUpdate()
      .execute();
  }

  private async ensurePlatforms(
    entries: CatalogEntry[],
    changes: CatalogChanges,
  ): Promise<Map<string, string>> {
    const platforms = new Map(
      entries.filter((e) => e.platform).map((e) => [e.platform!.slug, e.platform!.name]),
    );
    if (platforms.size === 0) return new Map();
    const inserted = await this.db
      .insertInto('platforms')
      .values([...platforms].map(([slug, name]) => ({ slug, name })))
      .onConflict((oc) => oc.column('slug').doNothing())
      .returning('id')
      .execute();
    if (inserted.length > 0) changes.taxonomyChanged = true;
    const rows = await this.db
      .selectFrom('platforms')
      .select(['id', 'slug'])
      .where('slug', 'in', [...platforms.keys()])
      .execute();
    return new Map(rows.map((r) => [r.slug, r.id]));
  }

  /**
   * The category id of every G2A category of the page. A category G2A already knows (by its id) is kept even if
   * G2A renamed it; a curated category of the same slug is adopted; two G2A categories that slug alike share
   * one. Written without conflicts, so nothing can abort the page's transaction.
   */
  private async ensureCategories(
    entries: CatalogEntry[],
    changes: CatalogChanges,
  ): Promise<Map<number, string>> {
    const categories = new Map(entries.flatMap((e) => e.categories).map((c) => [c.g2aId, c]));
    if (categories.size === 0) return new Map();
    const resolve = async () => {
      const rows = await this.db
        .selectFrom('categories')
        .select(['id', 'g2a_category_id', 'slug'])
        .where((eb) =>
          eb.or([
            eb('g2a_category_id', 'in', [...categories.keys()]),
            eb(
              'slug',
              'in',
              [...categories.values()].map((c) => c.slug),
            ),
          ]),
        )
        .execute();
      const byG2AId = new Map(
        rows.filter((r) => r.g2a_category_id !== null).map((r) => [r.g2a_category_id!, r.id]),
      );
      const bySlug = new Map(rows.map((r) => [r.slug, r]));
      return { byG2AId, bySlug };
    };

    const known = await resolve();
    const unknown = [...categories.values()].filter((c) => !known.byG2AId.has(c.g2aId));
    const adoptable = unknown.filter((c) => known.bySlug.get(c.slug)?.g2a_category_id === null);
    for (const c of new Map(adoptable.map((c) => [c.slug, c])).values()) {
      await this.db
        .updateTable('categories')
        .set({ g2a_category_id: c.g2aId })
        .where('slug', '=', c.slug)
        .where('g2a_category_id', 'is', null)
        .execute();
    }
    const fresh = [
      ...new Map(unknown.filter((c) => !known.bySlug.has(c.slug)).map((c) => [c.slug, c])).values(),
    ];
    if (fresh.length > 0) {
      const inserted = await this.db
        .insertInto('categories')
        .values(fresh.map((c) => ({ g2a_category_id: c.g2aId, slug: c.slug, name: c.name })))
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .execute();
      if (inserted.length > 0) changes.taxonomyChanged = true;
    }

    const { byG2AId, bySlug } = await resolve();
    return new Map(
      [...categories.values()].map((c) => [c.g2aId, byG2AId.get(c.g2aId) ?? bySlug.get(c.slug)!.id]),
    );
  }

  /** Every category link of the games, by source: G2A's own and the shop's curation. */
  private async categoryLinks(
    gameIds: string[],
  ): Promise<Map<string, { g2a: Set<string>; all: Set<string> }>> {
    const links = new Map<string, { g2a: Set<string>; all: Set<string> }>();
    if (gameIds.length === 0) return links;
    const rows = await this.db
      .selectFrom('game_categories')
      .select(['game_id', 'category_id', 'source'])
      .where('game_id', 'in', gameIds)
      .execute();
    for (const row of rows) {
      const entry = links.get(row.game_id) ?? { g2a: new Set<string>(), all: new Set<string>() };
      entry.all.add(row.category_id);
      if (row.source === 'g2a') entry.g2a.add(row.category_id);
      links.set(row.game_id, entry);
    }
    return links;
  }
}

/** G2A's categories are all linked (by G2A or by the shop's curation), and no G2A link is left over. */
function sameCategories(
  current: { g2a: Set<string>; all: Set<string> } | undefined,
  wanted: string[],
): boolean {
  const wantedSet = new Set(wanted);
  if (!current) return wantedSet.size === 0;
  return (
    [...wantedSet].every((id) => current.all.has(id)) && [...current.g2a].every((id) => wantedSet.has(id))
  );
}
