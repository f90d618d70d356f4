import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more workers only add contention on the shared PostgreSQL.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        // Pure rules: no database, no Redis, no global setup.
        test: { name: 'unit', include: ['tests/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        // Use cases, adapters and the HTTP API on real PostgreSQL and Redis.
        test: {
          name: 'services',
          include: ['tests/{application,integration,e2e}/**/*.test.ts'],
          globalSetup: ['tests/support/global-setup.ts'],
        },
      },
    ],
  },
});
