import net from 'node:net';
import type { TestProject } from 'vitest/node';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { PG_BOSS_SCHEMA } from '../../src/adapters/jobs/outbox-worker.js';
import { migrateToLatest } from '../../src/adapters/postgres/migrate.js';
import { createDb } from '../../src/adapters/postgres/db.js';
import { randomBytes } from 'node:crypto';
import { withDatabase } from './database-url.js';

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.setTimeout(500);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

type Stop = () => Promise<unknown>;

/** DATABASE_URL / REDIS_URL when set; testcontainers when a Docker engine answers; the local default ports otherwise. */
async function resolveServices(): Promise<{ databaseUrl: string; redisUrl: string; stops: Stop[] }> {
  const stops: Stop[] = [];
  let databaseUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;
  if (databaseUrl && redisUrl) return { databaseUrl, redisUrl, stops };

  try {
    if (!databaseUrl) {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:16-alpine').start();
      stops.push(() => container.stop());
      databaseUrl = container.getConnectionUri();
    }
    if (!redisUrl) {
      const { RedisContainer } = await import('@testcontainers/redis');
      const container = await new RedisContainer('redis:7-alpine').start();
      stops.push(() => container.stop());
      redisUrl = container.getConnectionUrl();
    }
  } catch (error) {
    databaseUrl ??= LOCAL_POSTGRES;
    redisUrl ??= LOCAL_REDIS;
    for (const url of [databaseUrl, redisUrl]) {
      if (!(await reachable(url))) {
        throw new Error(
          `No Docker engine for testcontainers (${(error as Error).message}) and nothing listens at ${url}. ` +
            'Set DATABASE_URL and REDIS_URL, or start PostgreSQL and Redis.',
        );
      }
    }
  }
  return { databaseUrl, redisUrl, stops };
}

export default async function setup(project: TestProject) {
  const { databaseUrl, redisUrl, stops } = await resolveServices();

  // One template per run, so runs on one server (two terminals, CI beside a developer) never collide.
  const template = `keyshop_template_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${template}`);
  const db = createDb(withDatabase(databaseUrl, template), { max: 2 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  // pg-boss's own schema too, so that every clone starts its queues at once.
  const boss = new PgBoss({
    connectionString: withDatabase(databaseUrl, template),
    schema: PG_BOSS_SCHEMA,
    supervise: false,
    schedule: false,
    max: 1,
  });
  boss.on('error', () => {});
  await boss.start();
  await boss.stop({ graceful: false, wait: true });
  await admin.end();

  project.provide('databaseUrl', databaseUrl);
  project.provide('redisUrl', redisUrl);
  project.provide('templateDatabase', template);

  return async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).finally(() => client.end());
    for (const stop of stops) await stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
    templateDatabase: string;
  }
}
