import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, redisUrl, uniqueRedisPrefix } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The shop (`npm start`'s `src/main.ts`) in a child process on its own database and Redis prefix. */
function spawnShop(databaseUrl: string, port: number) {
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl(),
      REDIS_KEY_PREFIX: uniqueRedisPrefix(),
      PORT: String(port),
      HOST: '127.0.0.1',
      SYNC_SCHEDULES: 'off',
      G2A_SIMULATOR_PRODUCTS: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

it('stops on SIGTERM after closing what it opened, and exits 0', async () => {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  const port = await freePort();
  const shop = spawnShop(database.url, port);
  cleanups.push(async () => shop.exitCode === null && shop.kill('SIGKILL'));
  let output = '';
  shop.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  shop.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
    'the shop to answer',
    30_000,
  );
  const exited = once(shop, 'exit');
  shop.kill('SIGTERM');
  const [code] = await exited;

  expect(code).toBe(0);
  expect(output).toContain('shutting down');
  expect(output).toContain('"msg":"stopped"');
  expect(output).not.toContain('error during shutdown');
});

it('stops cleanly when SIGTERM comes while it is still starting', async () => {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  const shop = spawnShop(database.url, await freePort());
  cleanups.push(async () => shop.exitCode === null && shop.kill('SIGKILL'));
  let output = '';
  shop.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Asked to stop as soon as it logs anything: it is loading its configuration or opening its pools.
  await waitFor(async () => output.length > 0 || undefined, 'the first log line', 30_000);
  const exited = once(shop, 'exit');
  shop.kill('SIGTERM');
  const [code, signal] = await exited;

  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(output).toContain('shutting down');
  expect(output).toContain('"msg":"stopped"');
  expect(output).not.toContain('Keyshop is up');
});
