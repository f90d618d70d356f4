import { createHash } from 'node:crypto';
import {
  SIMULATOR_DEV_API_HASH,
  SIMULATOR_DEV_API_SECRET,
  SIMULATOR_DEV_EMAIL,
} from './adapters/g2a/simulator-defaults.js';

export type Role = 'all' | 'api' | 'worker';

export interface G2AConfig {
  /** Host only (`https://api.g2a.com`); the client adds `/v1`. Absent: the in-process simulator. */
  baseUrl?: string;
  apiHash: string;
  apiSecret: string;
  email: string;
  ratePerMinute: number;
  /** Per request, from sending it to the end of its answer. */
  timeoutMs: number;
  webhookSecret?: string;
}

export interface Config {
  production: boolean;
  port: number;
  host: string;
  publicUrl: string;
  logLevel: string;
  /** `LOG_FORMAT`; unset: pretty on a terminal outside production, JSON otherwise. */
  logFormat?: 'json' | 'pretty';
  databaseUrl?: string;
  redisUrl?: string;
  redisKeyPrefix: string;
  /**
   * The in-process cache of catalogue entries in front of Redis (`NEAR_CACHE_MAX_ENTRIES=0` turns it off),
   * bounded by entries and megabytes of JSON, entries kept at most `ttlMs`.
   */
  nearCache: { maxEntries: number; maxBytes: number; ttlMs: number };
  jwtSecret: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  bcryptCost: number;
  smtpUrl?: string;
  mailFrom: string;
  g2a: G2AConfig;
  keysEncryptionKey: Buffer;
  /** Earlier encryption keys (`KEYS_ENCRYPTION_PREVIOUS_KEYS`): keys sealed with them still open. */
  previousKeysEncryptionKeys: Buffer[];
  fulfilment: {
    /** How long a worker holds a unit it works on; a dead worker's unit is taken up again after it. */
    leaseMs: number;
    /** How long G2A holds an unpaid order; an order whose creation went unanswered counts as lapsed after it. */
    orderReservationMs: number;
    /** How long a paid unit's key may stay "not processed yet" before an operator is told. */
    keyWaitMs: number;
  };
  priceMarkupPercent: number;
  loginRateLimit: number;
  /** Sign-ups plus failed sign-ins per client address per minute. */
  authRateLimitPerIp: number;
  /** Guest sessions started per client address per minute. */
  guestSessionRateLimitPerIp: number;
  globalRateLimitPerMinute?: number;
  /** `METRICS_TOKEN`: `GET /metrics` answers only `Authorization: Bearer {token}`; unset, anyone. */
  metricsToken?: string;
  corsOrigin: string | boolean;
  /** Fastify's `trustProxy`: behind a load balancer, the client address comes from X-Forwarded-For. */
  trustProxy: boolean | string;
  outboxMaxAttempts: number;
  /**
   * Cron jobs: syncs (and a first catalogue sync when the shop has none), the outbox sweep, guest cleanup.
   * `SYNC_SCHEDULES=off` disables them (tests).
   */
  syncSchedules: boolean;
  syncStaleAfterMs: number;
  /** Size of the in-process G2A simulator's catalogue when no G2A credentials are set. */
  simulatorProducts: number;
  /** Problems that do not stop the start but deserve a warning (development fallbacks). */
  warnings: string[];
}

export const DEV_JWT_SECRET = 'keyshop-development-only-jwt-secret-do-not-deploy';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the environment; throws one `ConfigError` naming every bad variable. */
/** How long the sync lock outlives a holder that died, in Redis (`RedlockLock`'s lease). */
const SYNC_LOCK_LEASE_SECONDS = 30;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const warnings: string[] = [];
  const production = env.NODE_ENV === 'production';

  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };

  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        problems.push(`${name} must use ${protocols.join(' or ')} (got "${parsed.protocol}")`);
      }
    } catch {
      problems.push(`${name} is not a valid URL`);
    }
    return raw;
  };

  const port = integer('PORT', 3000, 0, 65535);
  const host = read('HOST') ?? '0.0.0.0';
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:']);
  const smtpUrl = url('SMTP_URL', ['smtp:', 'smtps:']);
  const g2aBaseUrl = url('G2A_BASE_URL', ['http:', 'https:']);
  if (g2aBaseUrl && new URL(g2aBaseUrl).pathname.replace(/\/$/, '') !== '') {
    problems.push('G2A_BASE_URL must be the host only (e.g. https://api.g2a.com); the client adds /v1');
  }

  let jwtSecret = read('JWT_SECRET');
  if (jwtSecret === undefined) {
    if (production) problems.push('JWT_SECRET is required in production');
    else warnings.push('JWT_SECRET is unset: using the development secret');
    jwtSecret = DEV_JWT_SECRET;
  } else if (jwtSecret.length < 32) {
    if (production) problems.push('JWT_SECRET must be at least 32 characters');
    else warnings.push('JWT_SECRET is shorter than 32 characters: refused in production');
  }

  const g2aHash = read('G2A_API_HASH');
  const g2aSecret = read('G2A_API_SECRET');
  const g2aEmail = read('G2A_EMAIL');
  const g2aCredentials = [g2aHash, g2aSecret, g2aEmail].filter((v) => v !== undefined).length;
  if (g2aCredentials > 0 && g2aCredentials < 3) {
    problems.push('G2A_API_HASH, G2A_API_SECRET and G2A_EMAIL must be set together');
  }
  if (production && (g2aCredentials < 3 || !g2aBaseUrl)) {
    problems.push('G2A_BASE_URL, G2A_API_HASH, G2A_API_SECRET and G2A_EMAIL are required in production');
  }
  if (g2aBaseUrl && g2aCredentials < 3 && !production) {
    problems.push('G2A_BASE_URL needs G2A_API_HASH, G2A_API_SECRET and G2A_EMAIL');
  }

  let keysEncryptionKey: Buffer;
  const rawKey = read('KEYS_ENCRYPTION_KEY');
  if (rawKey !== undefined) {
    keysEncryptionKey = Buffer.from(rawKey, 'base64');
    if (keysEncryptionKey.length !== 32) problems.push('KEYS_ENCRYPTION_KEY must be 32 bytes in base64');
  } else {
    if (production) problems.push('KEYS_ENCRYPTION_KEY is required in production');
    else warnings.push('KEYS_ENCRYPTION_KEY is unset: deriving it from JWT_SECRET');
    keysEncryptionKey = createHash('sha256').update(`keyshop-keys:${jwtSecret}`).digest();
  }

  const previousKeysEncryptionKeys: Buffer[] = [];
  for (const [index, raw] of (read('KEYS_ENCRYPTION_PREVIOUS_KEYS') ?? '').split(',').entries()) {
    if (raw.trim() === '') continue;
    const key = Buffer.from(raw.trim(), 'base64');
    if (key.length !== 32)
      problems.push(`KEYS_ENCRYPTION_PREVIOUS_KEYS entry ${index + 1} must be 32 bytes in base64`);
    else previousKeysEncryptionKeys.push(key);
  }

  let g2aWebhookSecret = read('G2A_WEBHOOK_SECRET');
  if (g2aWebhookSecret === undefined) {
    if (production)
      warnings.push('G2A_WEBHOOK_SECRET is unset: POST /api/v1/webhooks/g2a refuses every event');
    else if (g2aBaseUrl === undefined) {
      // The in-process simulator signs its pushes with it, so webhooks work out of the box.
      g2aWebhookSecret = createHash('sha256').update(`keyshop-webhook:${jwtSecret}`).digest('hex');
    }
  }
  const markupRaw = read('PRICE_MARKUP_PERCENT');
  let priceMarkupPercent = 2;
  if (markupRaw !== undefined) {
    priceMarkupPercent = Number(markupRaw);
    if (!/^\d+(\.\d{1,2})?$/.test(markupRaw) || priceMarkupPercent > 1000) {
      problems.push(
        `PRICE_MARKUP_PERCENT must be a number from 0 to 1000 with at most 2 decimals (got "${markupRaw}")`,
      );
      priceMarkupPercent = 2;
    }
  }

  const logLevel = read('LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent`);
  }

  const logFormat = read('LOG_FORMAT');
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'pretty')
    problems.push(`LOG_FORMAT must be json or pretty (got "${logFormat}")`);

  const corsRaw = read('CORS_ORIGIN');
  const config: Config = {
    production,
    port,
    host,
    publicUrl: read('PUBLIC_URL') ?? `http://localhost:${port}`,
    logLevel,
    logFormat: logFormat === 'json' || logFormat === 'pretty' ? logFormat : undefined,
    databaseUrl,
    redisUrl,
    redisKeyPrefix: read('REDIS_KEY_PREFIX') ?? '',
    nearCache: {
      maxEntries: integer('NEAR_CACHE_MAX_ENTRIES', 10_000, 0, 1_000_000),
      maxBytes: integer('NEAR_CACHE_MAX_MB', 64, 1, 65_536) * 1024 * 1024,
      ttlMs: integer('NEAR_CACHE_TTL_MS', 10_000, 1, 300_000),
    },
    jwtSecret,
    accessTokenTtlSeconds: integer('ACCESS_TOKEN_TTL_SECONDS', 15 * 60, 30, 24 * 3600),
    refreshTokenTtlDays: integer('REFRESH_TOKEN_TTL_DAYS', 30, 1, 365),
    bcryptCost: integer('BCRYPT_COST', 12, 4, 15),
    smtpUrl,
    mailFrom: read('MAIL_FROM') ?? 'Keyshop <no-reply@keyshop.local>',
    g2a: {
      baseUrl: g2aBaseUrl,
      apiHash: g2aHash ?? SIMULATOR_DEV_API_HASH,
      apiSecret: g2aSecret ?? SIMULATOR_DEV_API_SECRET,
      email: g2aEmail ?? SIMULATOR_DEV_EMAIL,
      ratePerMinute: integer('G2A_RATE_PER_MINUTE', 600, 2, 1_000_000),
      timeoutMs: integer('G2A_TIMEOUT_SECONDS', 15, 1, 300) * 1000,
      webhookSecret: g2aWebhookSecret,
    },
    keysEncryptionKey,
    previousKeysEncryptionKeys,
    fulfilment: {
      leaseMs: integer('FULFILMENT_LEASE_SECONDS', 5 * 60, 1, 3600) * 1000,
      orderReservationMs: integer('G2A_ORDER_RESERVATION_SECONDS', 30 * 60, 1, 24 * 3600) * 1000,
      keyWaitMs: integer('FULFILMENT_KEY_WAIT_SECONDS', 30 * 60, 1, 7 * 24 * 3600) * 1000,
    },
    priceMarkupPercent,
    loginRateLimit: integer('LOGIN_RATE_LIMIT', 10, 1, 1_000_000),
    authRateLimitPerIp: integer('AUTH_RATE_LIMIT_PER_IP', 30, 1, 1_000_000),
    guestSessionRateLimitPerIp: integer('GUEST_SESSION_RATE_LIMIT_PER_IP', 60, 1, 1_000_000),
    globalRateLimitPerMinute: read('RATE_LIMIT_PER_MINUTE')
      ? integer('RATE_LIMIT_PER_MINUTE', 0, 1, 10_000_000)
      : undefined,
    metricsToken: read('METRICS_TOKEN'),
    corsOrigin: corsRaw === undefined ? !production : corsRaw === '*' ? true : corsRaw,
    trustProxy: trustProxyOf(read('TRUST_PROXY')),
    outboxMaxAttempts: integer('OUTBOX_MAX_ATTEMPTS', 10, 1, 1000),
    syncSchedules: !['off', 'false', '0'].includes((read('SYNC_SCHEDULES') ?? 'on').toLowerCase()),
    syncStaleAfterMs: integer('SYNC_STALE_AFTER_SECONDS', 120, 1, 24 * 3600) * 1000,
    simulatorProducts: integer('G2A_SIMULATOR_PRODUCTS', 500, 0, 1_000_000),
    warnings,
  };
  // A run whose heartbeat went stale is resumed by the next trigger; with Redis, the dead holder's lock lease
  // must have run out by then, or the resume would meet the lock and find nothing to do.
  if (redisUrl && config.syncStaleAfterMs < SYNC_LOCK_LEASE_SECONDS * 1000)
    problems.push(
      `SYNC_STALE_AFTER_SECONDS must be at least ${SYNC_LOCK_LEASE_SECONDS} with REDIS_URL (the sync lock's lease in Redis)`,
    );
  // A call that buys or pays must be answered within the worker's lease on the unit, with a tenth to spare.
  if (config.g2a.timeoutMs >= config.fulfilment.leaseMs * 0.9)
    problems.push(
      `FULFILMENT_LEASE_SECONDS (${config.fulfilment.leaseMs / 1000}) must leave room for a G2A call: at least ${Math.floor(config.g2a.timeoutMs / 900) + 1} with G2A_TIMEOUT_SECONDS ${config.g2a.timeoutMs / 1000} (a tenth to spare; a purchase is never sent that could be answered after the lease)`,
    );
  if (production && !config.metricsToken)
    warnings.push(
      'METRICS_TOKEN is unset: GET /metrics (order and sync figures) is open to anyone who reaches it',
    );
  if (config.metricsToken !== undefined && config.metricsToken.length < 16)
    problems.push('METRICS_TOKEN must be at least 16 characters');
  if (production && config.bcryptCost < 10) problems.push('BCRYPT_COST must be at least 10 in production');
  if (production && !smtpUrl)
    problems.push('SMTP_URL is required in production (e-mails would only be logged)');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** `TRUST_PROXY`: unset or "false" trusts no proxy, "true" any, otherwise addresses or CIDRs (comma-separated). */
function trustProxyOf(raw: string | undefined): boolean | string {
  if (raw === undefined || raw === 'false') return false;
  return raw === 'true' ? true : raw;
}
