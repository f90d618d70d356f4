import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('configuration', () => {
  it('starts on embedded defaults with nothing set, warning about development fallbacks', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      bcryptCost: 12,
      priceMarkupPercent: 2,
      loginRateLimit: 10,
      production: false,
    });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.g2a.baseUrl).toBeUndefined();
    expect(config.g2a.ratePerMinute).toBe(600);
    expect(config.keysEncryptionKey).toHaveLength(32);
    expect(config.warnings.join('\n')).toMatch(/JWT_SECRET/);
  });

  it('names every bad variable at once', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      DATABASE_URL: 'mysql://x',
      BCRYPT_COST: '99',
      PRICE_MARKUP_PERCENT: '-2',
      G2A_BASE_URL: 'https://api.g2a.com/v1',
      KEYS_ENCRYPTION_KEY: 'c2hvcnQ=',
    });
    for (const name of [
      'PORT',
      'DATABASE_URL',
      'BCRYPT_COST',
      'PRICE_MARKUP_PERCENT',
      'G2A_BASE_URL',
      'KEYS_ENCRYPTION_KEY',
    ]) {
      expect(problems.some((p) => p.startsWith(name))).toBe(true);
    }
  });

  it('refuses a fulfilment lease that leaves no room for a G2A call to be answered within it', () => {
    expect(problemsOf({ FULFILMENT_LEASE_SECONDS: '10' }).join('\n')).toMatch(
      /FULFILMENT_LEASE_SECONDS \(10\) must leave room for a G2A call: at least 17 with G2A_TIMEOUT_SECONDS 15/,
    );
    expect(problemsOf({ FULFILMENT_LEASE_SECONDS: '16' })).not.toEqual([]);
    expect(problemsOf({ FULFILMENT_LEASE_SECONDS: '17' })).toEqual([]);
    expect(problemsOf({ FULFILMENT_LEASE_SECONDS: '5', G2A_TIMEOUT_SECONDS: '5' })).not.toEqual([]);
    expect(problemsOf({ FULFILMENT_LEASE_SECONDS: '5', G2A_TIMEOUT_SECONDS: '4' })).toEqual([]);
    expect(loadConfig({ G2A_TIMEOUT_SECONDS: '4' }).g2a.timeoutMs).toBe(4_000);
    expect(problemsOf({ G2A_TIMEOUT_SECONDS: '0' }).join('\n')).toMatch(/G2A_TIMEOUT_SECONDS/);
  });

  it('refuses a sync stale-after below the Redis lock lease when Redis is used, and allows it without Redis', () => {
    const problems = problemsOf({ REDIS_URL: 'redis://127.0.0.1:6379', SYNC_STALE_AFTER_SECONDS: '10' });
    expect(problems.join('\n')).toMatch(/SYNC_STALE_AFTER_SECONDS must be at least 30 with REDIS_URL/);
    expect(problemsOf({ REDIS_URL: 'redis://127.0.0.1:6379', SYNC_STALE_AFTER_SECONDS: '30' })).toEqual([]);
    expect(problemsOf({ SYNC_STALE_AFTER_SECONDS: '1' })).toEqual([]);
  });

  it('refuses missing or weak secrets in production and never falls back to the simulator there', () => {
    const problems = problemsOf({ NODE_ENV: 'production', JWT_SECRET: 'short', BCRYPT_COST: '4' });
    expect(problems.join('\n')).toMatch(/JWT_SECRET must be at least 32 characters/);
    expect(problems.join('\n')).toMatch(/KEYS_ENCRYPTION_KEY is required in production/);
    expect(problems.join('\n')).toMatch(
      /G2A_BASE_URL, G2A_API_HASH, G2A_API_SECRET and G2A_EMAIL are required in production/,
    );
    expect(problems.join('\n')).toMatch(/BCRYPT_COST must be at least 10 in production/);
    expect(problems.join('\n')).toMatch(/SMTP_URL is required in production/);
  });

  it('accepts a complete production configuration', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://shop@db/shop',
      JWT_SECRET: 'x'.repeat(40),
      KEYS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      G2A_BASE_URL: 'https://api.g2a.com',
      G2A_API_HASH: 'hash',
      G2A_API_SECRET: 'secret',
      G2A_EMAIL: 'buyer@example.com',
      SMTP_URL: 'smtp://mail.example.com:587',
      PRICE_MARKUP_PERCENT: '2.5',
      G2A_WEBHOOK_SECRET: 'w'.repeat(40),
      METRICS_TOKEN: 'm'.repeat(32),
    });
    expect(config).toMatchObject({
      production: true,
      priceMarkupPercent: 2.5,
      corsOrigin: false,
      warnings: [],
    });
    const { METRICS_TOKEN: _token, ...open } = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://shop@db/shop',
      JWT_SECRET: 'x'.repeat(40),
      KEYS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      G2A_BASE_URL: 'https://api.g2a.com',
      G2A_API_HASH: 'hash',
      G2A_API_SECRET: 'secret',
      G2A_EMAIL: 'buyer@example.com',
      SMTP_URL: 'smtp://mail.example.com:587',
      G2A_WEBHOOK_SECRET: 'w'.repeat(40),
      METRICS_TOKEN: undefined,
    };
    expect(loadConfig(open).warnings).toEqual([
      'METRICS_TOKEN is unset: GET /metrics (order and sync figures) is open to anyone who reaches it',
    ]);
  });

  it('warns in production without a webhook secret: the webhook then refuses every event', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://shop@db/shop',
      JWT_SECRET: 'x'.repeat(40),
      KEYS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      G2A_BASE_URL: 'https://api.g2a.com',
      G2A_API_HASH: 'hash',
      G2A_API_SECRET: 'secret',
      G2A_EMAIL: 'buyer@example.com',
      SMTP_URL: 'smtp://mail.example.com:587',
    });
    expect(config.g2a.webhookSecret).toBeUndefined();
    expect(config.warnings.join('\n')).toMatch(/G2A_WEBHOOK_SECRET is unset/);
  });

  it('signs the in-process simulator’s webhooks with a development secret, and keeps earlier key-encryption keys', () => {
    const earlier = Buffer.alloc(32, 3);
    const config = loadConfig({ KEYS_ENCRYPTION_PREVIOUS_KEYS: ` ${earlier.toString('base64')} ,` });
    expect(config.g2a.webhookSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(config.previousKeysEncryptionKeys).toEqual([earlier]);
    expect(problemsOf({ KEYS_ENCRYPTION_PREVIOUS_KEYS: 'c2hvcnQ=' }).join('\n')).toMatch(
      /KEYS_ENCRYPTION_PREVIOUS_KEYS entry 1 must be 32 bytes/,
    );
  });

  it('wants the G2A credentials together', () => {
    expect(problemsOf({ G2A_API_HASH: 'only-the-hash' }).join('\n')).toMatch(/must be set together/);
  });
});

describe('operator settings', () => {
  it('takes a metrics token of 16 characters or more, and warns in production without one', () => {
    expect(loadConfig({ METRICS_TOKEN: 'sixteen-chars-ok' }).metricsToken).toBe('sixteen-chars-ok');
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must be at least 16/);
    expect(loadConfig({}).metricsToken).toBeUndefined();
  });

  it('bounds the near cache and turns it off at 0 entries', () => {
    expect(loadConfig({}).nearCache).toEqual({
      maxEntries: 10_000,
      maxBytes: 64 * 1024 * 1024,
      ttlMs: 10_000,
    });
    expect(loadConfig({ NEAR_CACHE_MAX_ENTRIES: '0' }).nearCache.maxEntries).toBe(0);
    expect(() => loadConfig({ NEAR_CACHE_TTL_MS: '0' })).toThrow(/NEAR_CACHE_TTL_MS/);
    expect(() => loadConfig({ NEAR_CACHE_MAX_MB: 'lots' })).toThrow(/NEAR_CACHE_MAX_MB/);
  });
});
