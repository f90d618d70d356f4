export interface ServiceUrls {
  /** A PostgreSQL server URL; benchmarks create their own databases on it. */
  databaseUrl: string;
  redisUrl: string;
}

/** `DATABASE_URL` and `REDIS_URL`, or the services of this machine on their default ports. */
export function serviceUrls(env: NodeJS.ProcessEnv = process.env): ServiceUrls {
  return {
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
  };
}
