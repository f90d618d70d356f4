import { fillEmptyCatalog } from '../application/fill-empty-catalog.js';
import { getGame } from '../application/get-game.js';
import { getHome } from '../application/get-home.js';
import { getSyncStatus } from '../application/get-sync-status.js';
import { listGames } from '../application/list-games.js';
import { listTaxonomy } from '../application/list-taxonomy.js';
import { runSync } from '../application/run-sync.js';
import { triggerSync } from '../application/trigger-sync.js';
import type { CatalogQuery } from '../domain/game.js';
import type { SyncKind, SyncTrigger } from '../domain/sync-run.js';
import type { TaxonomyKind } from '../ports/catalog.js';
import type { Logger } from '../ports/logger.js';
import type { Infrastructure } from './infrastructure.js';

/** The catalogue shoppers read and the G2A syncs that keep it. */
export function catalogFeature(infra: Infrastructure) {
  const { uow, cache, clock, readers, config } = infra;
  const catalog = readers.catalog;
  const syncDeps = { uow, clock, logger: infra.logger, staleAfterMs: config.syncStaleAfterMs };
  const trigger = (kind: SyncKind, how: SyncTrigger, log: Logger = infra.logger) =>
    triggerSync({ ...syncDeps, logger: log }, { kind, trigger: how });
  return {
    triggerSync: trigger,
    /** Works one sync run; only in processes that connect to G2A. */
    runSync: (input: { runId: string; finalAttempt: boolean }) => {
      if (!infra.g2a) throw new Error('this process does not work sync runs');
      return runSync(
        {
          ...syncDeps,
          g2a: infra.g2a,
          lock: infra.lock,
          progress: infra.progress,
          markupPercent: config.priceMarkupPercent,
          stopping: infra.shutdown.stopping,
        },
        input,
      );
    },
    fillEmptyCatalog: () =>
      fillEmptyCatalog({
        syncRuns: readers.syncRuns,
        triggerCatalogSync: () => trigger('catalog', 'schedule'),
      }),
    useCases: {
      listGames: (query: CatalogQuery) => listGames({ catalog, cache }, query),
      getGame: (idOrSlug: string) => getGame({ catalog, cache }, idOrSlug),
      getHome: () => getHome({ catalog, cache }),
      listTaxonomy: (kind: TaxonomyKind) => listTaxonomy({ catalog, cache }, kind),
      triggerSync: (kind: SyncKind, log: Logger = infra.logger) => trigger(kind, 'manual', log),
      getSyncStatus: () => getSyncStatus({ syncRuns: readers.syncRuns }),
    },
  };
}
