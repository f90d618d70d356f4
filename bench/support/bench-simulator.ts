import { SIMULATOR_DEV_CREDENTIALS } from '../../src/adapters/g2a/simulator-defaults.js';
import { createG2ASimulator, type G2ASimulator } from '../../src/adapters/g2a/simulator.js';

export interface BenchSimulator {
  simulator: G2ASimulator;
  url: string;
  /** The shop's `G2A_*` configuration for this simulator, with the client limited to `ratePerMinute`. */
  shopEnv(ratePerMinute: number): Record<string, string>;
  /** API requests the simulator has answered with 429 so far. */
  rateLimited(): number;
  requests(): number;
  close(): Promise<void>;
}

/**
 * A G2A simulator on a loopback port of this process (the shop talks to it over HTTP, as to G2A), enforcing
 * `ratePerMinute` like G2A does (0: no limit).
 */
export async function startBenchSimulator(options: {
  products: number;
  ratePerMinute: number;
  seed?: number;
}): Promise<BenchSimulator> {
  const simulator = createG2ASimulator({
    products: options.products,
    seed: options.seed ?? 1,
    ratePerMinute: options.ratePerMinute,
    ...SIMULATOR_DEV_CREDENTIALS,
  });
  const url = await simulator.listen(0, '127.0.0.1');
  return {
    simulator,
    url,
    shopEnv: (ratePerMinute) => ({
      G2A_BASE_URL: url,
      G2A_API_HASH: SIMULATOR_DEV_CREDENTIALS.apiHash,
      G2A_API_SECRET: SIMULATOR_DEV_CREDENTIALS.apiSecret,
      G2A_EMAIL: SIMULATOR_DEV_CREDENTIALS.email,
      G2A_RATE_PER_MINUTE: String(ratePerMinute),
    }),
    rateLimited: () => simulator.state.stats.rateLimited,
    requests: () => simulator.state.stats.requests,
    close: () => simulator.close(),
  };
}
