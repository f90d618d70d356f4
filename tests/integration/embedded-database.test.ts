import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { createDb } from '../../src/adapters/postgres/db.js';
import { startEmbeddedDatabase } from '../../src/adapters/postgres/embedded-database.js';
import { migrateToLatest } from '../../src/adapters/postgres/migrate.js';
import { freePort } from '../support/free-port.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

it('starts a real PostgreSQL without DATABASE_URL, migrates it, and keeps its data across restarts', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keyshop-embedded-'));
  // PostgreSQL runs as its own user when the tests run as root; it must reach the folder.
  await chmod(dataDir, 0o755);
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const logger = pino({ level: 'silent' });

  const first = await startEmbeddedDatabase({ dataDir, port, logger });
  cleanups.push(() => first.stop());
  const db = createDb(first.url, { max: 1 });
  await migrateToLatest(db);
  await db
    .insertInto('guest_sessions')
    .values({ id: 'kept-across-restarts', expires_at: new Date(Date.now() + 60_000) })
    .execute();
  await db.destroy();
  await first.stop();

  const second = await startEmbeddedDatabase({ dataDir, port, logger });
  cleanups.push(() => second.stop());
  const again = createDb(second.url, { max: 1 });
  try {
    const rows = await again.selectFrom('guest_sessions').select('id').execute();
    expect(rows).toEqual([{ id: 'kept-across-restarts' }]);
  } finally {
    await again.destroy();
  }
});

it('joins the cluster another process started on the same data (admin:create beside npm start), leaving it running', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keyshop-embedded-'));
  await chmod(dataDir, 0o755);
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const logger = pino({ level: 'silent' });

  const running = await startEmbeddedDatabase({ dataDir, port: await freePort(), logger });
  cleanups.push(() => running.stop());
  // The second process is configured with another port: the running cluster's own port is what counts.
  const joined = await startEmbeddedDatabase({ dataDir, port: await freePort(), logger });
  expect(joined.url).toBe(running.url);
  const db = createDb(joined.url, { max: 1 });
  try {
    await migrateToLatest(db);
    await db
      .insertInto('guest_sessions')
      .values({ id: 'joined', expires_at: new Date(Date.now() + 60_000) })
      .execute();
  } finally {
    await db.destroy();
  }
  // Stopping the joined one leaves the first process's cluster up.
  await joined.stop();
  const first = createDb(running.url, { max: 1 });
  try {
    const rows = await first.selectFrom('guest_sessions').select('id').execute();
    expect(rows).toEqual([{ id: 'joined' }]);
  } finally {
    await first.destroy();
  }
});
