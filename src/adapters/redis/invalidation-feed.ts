import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { CacheFamily, CacheInvalidation } from '../../ports/cache.js';
import type { Logger } from '../../ports/logger.js';
import type { NearCache } from './near-cache.js';

const HEARTBEAT_MS = 1_000;

/** The key counting published invalidations, so that a subscriber can tell when it missed one. */
export const INVALIDATION_SEQUENCE_KEY = 'cache:invalidation-sequence';

/** The pub/sub channel of cache invalidations (channels are not prefixed by the client: the prefix is added). */
export function invalidationChannel(keyPrefix: string): string {
  return `${keyPrefix}cache:invalidations`;
}

/** A published invalidation: `{sequence} {json}`, the JSON holding the keys (`k`) and families (`f`). */
export function parseInvalidationMessage(
  message: string,
): { sequence: number; target: CacheInvalidation } | undefined {
  const space = message.indexOf(' ');
  const sequence = Number(message.slice(0, space));
  if (space < 1 || !Number.isSafeInteger(sequence)) return undefined;
  try {
    const body = JSON.parse(message.slice(space + 1)) as { k?: unknown; f?: unknown };
    const keys = Array.isArray(body.k) ? body.k.filter((k): k is string => typeof k === 'string') : [];
    // Any family named, known here or not (a newer process during a rolling deploy may have more).
    const families = Array.isArray(body.f)
      ? body.f.filter((f): f is CacheFamily => typeof f === 'string')
      : [];
    return { sequence, target: { keys, families } };
  } catch {
    return undefined;
  }
}

export function invalidationMessageBody(target: { keys: string[]; families: string[] }): string {
  return JSON.stringify({ k: target.keys, f: target.families });
}

/**
 * Listens to the invalidation channel on a connection of its own and applies every message to the near
 * cache. The near cache is active only between Redis confirming the subscription and the connection closing;
 * a message whose sequence number does not follow the last one (one was missed, or the counter was lost)
 * clears it.
 */
export class InvalidationFeed {
  /** The subscriber connection's name in `CLIENT LIST` (unique per feed). */
  readonly connectionName = `keyshop-invalidations-${randomBytes(6).toString('hex')}`;
  private readonly subscriber: Redis;
  private readonly channel: string;
  private lastSequence: number | undefined;
  private closed = false;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    client: Redis,
    private readonly near: NearCache,
    private readonly logger?: Logger,
  ) {
    this.channel = invalidationChannel(client.options.keyPrefix ?? '');
    // Subscribed again by hand on every connection, so that the near cache starts only once Redis confirms.
    this.subscriber = client.duplicate({
      autoResubscribe: false,
      lazyConnect: true,
      connectionName: this.connectionName,
      // The heartbeat's bound: long enough for a loaded machine's healthy Redis, short enough to notice soon.
      commandTimeout: 1_000,
    });
    this.subscriber.on('error', () => this.lost());
    this.subscriber.on('close', () => this.lost());
    this.subscriber.on('ready', () => void this.subscribe());
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
  }

  /** The sequence number of the last invalidation heard since the subscription began. */
  get heardSequence(): number | undefined {
    return this.lastSequence;
  }

  /** Connects in the background; the near cache stays inactive until the subscription is confirmed. */
  start(): void {
    this.subscriber.connect().catch(() => undefined);
    // A connection that died without a word (a NAT or load balancer dropping it while idle) delivers nothing
    // and reports nothing: a PING that goes unanswered within the command timeout drops it, which clears the
    // near cache and reconnects.
    this.heartbeat = setInterval(() => {
      if (this.subscriber.status !== 'ready') return;
      this.subscriber.ping().catch(() => this.subscriber.disconnect(true));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.lost();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  private async subscribe(): Promise<void> {
    if (this.closed) return;
    try {
      await this.subscriber.subscribe(this.channel);
      if (this.closed) return;
      this.lastSequence = undefined;
      this.near.setSubscribed(true);
    } catch (error) {
      this.logger?.warn({ err: error }, 'cache invalidation channel: subscription failed; near cache off');
      this.subscriber.disconnect(true);
    }
  }

  private lost(): void {
    this.lastSequence = undefined;
    this.near.setSubscribed(false);
  }

  private receive(message: string): void {
    const parsed = parseInvalidationMessage(message);
    if (!parsed) {
      this.near.clear();
      return;
    }
    if (this.lastSequence !== undefined && parsed.sequence !== this.lastSequence + 1) this.near.clear();
    this.lastSequence = parsed.sequence;
    this.near.drop(parsed.target);
  }
}
