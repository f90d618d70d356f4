import type { Cache, Json } from '../ports/cache.js';
import type { CatalogReader } from '../ports/catalog.js';
import { toGameView, type GameView } from './catalog-views.js';

export const HOME_TTL_SECONDS = 120;
const SECTION_SIZE = 12;

export interface HomeView {
  bestSellers: GameView[];
  newReleases: GameView[];
  deals: GameView[];
}

export async function getHome(deps: { catalog: CatalogReader; cache: Cache }): Promise<Json<HomeView>> {
  return deps.cache.getOrLoadJson({ family: 'home', member: '' }, HOME_TTL_SECONDS, async () => {
    const home = await deps.catalog.home(SECTION_SIZE);
    return {
      bestSellers: home.bestSellers.map(toGameView),
      newReleases: home.newReleases.map(toGameView),
      deals: home.deals.map(toGameView),
    };
  });
}
