import { SIMULATOR_DEV_CREDENTIALS } from '../../src/adapters/g2a/simulator-defaults.js';
import { createG2ASimulator, type G2ASimulator } from '../../src/adapters/g2a/simulator.js';
import { ApiClient } from './http.js';
import type { TestShop } from './test-shop.js';
import { waitFor } from './wait-for.js';

export interface RunningSimulator extends G2ASimulator {
  url: string;
}

/** A G2A simulator on an ephemeral loopback port, with the development credentials. */
export async function startSimulator(options: {
  products: number;
  seed?: number;
  ratePerMinute?: number;
}): Promise<RunningSimulator> {
  const simulator = createG2ASimulator({
    products: options.products,
    seed: options.seed ?? 7,
    ratePerMinute: options.ratePerMinute ?? 0,
    ...SIMULATOR_DEV_CREDENTIALS,
  });
  const url = await simulator.listen(0, '127.0.0.1');
  return Object.assign(simulator, { url });
}

/** The shop's environment for talking to `url` (the shop adds /v1). */
export function g2aEnv(url: string, ratePerMinute = 60_000): Record<string, string> {
  return {
    G2A_BASE_URL: url,
    G2A_API_HASH: SIMULATOR_DEV_CREDENTIALS.apiHash,
    G2A_API_SECRET: SIMULATOR_DEV_CREDENTIALS.apiSecret,
    G2A_EMAIL: SIMULATOR_DEV_CREDENTIALS.email,
    G2A_RATE_PER_MINUTE: String(ratePerMinute),
  };
}

/** Bearer headers of a fresh admin of `shop`. */
export const adminToken = (shop: TestShop) => new ApiClient(shop).admin();

export interface RunView {
  runId: string;
  kind: string;
  status: string;
  progress: { pagesDone: number; pagesTotal: number; upserted: number; changed: number };
  error: string | null;
}

/** Triggers a run through the admin API and waits until it is no longer queued or running. */
export async function syncAndWait(
  shop: TestShop,
  kind: 'catalog' | 'stock',
  headers: Record<string, string>,
): Promise<RunView> {
  const started = await shop.app!.inject({ method: 'POST', url: `/api/v1/admin/sync/${kind}`, headers });
  if (started.statusCode !== 202) throw new Error(`trigger answered ${started.statusCode}: ${started.body}`);
  return waitForRun(shop, started.json().runId, headers);
}

export async function waitForRun(
  shop: TestShop,
  runId: string,
  headers: Record<string, string>,
  timeoutMs = 30_000,
) {
  return waitFor(
    async () => {
      const status = await shop.app!.inject({ method: 'GET', url: '/api/v1/admin/sync/status', headers });
      const run = (status.json().runs as RunView[]).find((r) => r.runId === runId);
      return run && !['queued', 'running'].includes(run.status) ? run : undefined;
    },
    `sync run ${runId} to end`,
    timeoutMs,
  );
}
