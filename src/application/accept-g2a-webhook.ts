import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../domain/errors.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';

/** How far a webhook's timestamp may be from the shop's clock. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

export interface G2AWebhookInput {
  /** `X-G2A-Timestamp`: Unix seconds. */
  timestamp: string | undefined;
  /** `X-G2A-Signature`: lowercase hex HMAC-SHA256 of `timestamp + "." + rawBody`. */
  signature: string | undefined;
  /** The body exactly as it arrived: the signature covers these bytes, not a re-encoding. */
  rawBody: string;
}

export type G2AWebhookOutcome = 'accepted' | 'duplicate' | 'early';

const invalidSignature = (why: string) => new DomainError('INVALID_SIGNATURE', `webhook refused: ${why}`);

/** True when `signature` is the HMAC of the timestamped body with `secret`, compared in constant time. */
export function webhookSignatureMatches(
  secret: string,
  timestamp: string,
  rawBody: string,
  signature: string,
): boolean {
  const expected = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest();
  const given = /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * A G2A order notification. It only hurries fulfilment along: the unit holding the G2A order is handed to a
 * worker at once, and the worker still asks G2A itself (a key in the body is never used or stored). An event
 * id is accepted once (`duplicate` afterwards); an event for a G2A order no unit holds yet is kept and applied
 * when a unit records that order (`early`). Bad or missing signatures and timestamps more than five minutes
 * off are INVALID_SIGNATURE.
 */
export async function acceptG2AWebhook(
  deps: { uow: UnitOfWork; clock: Clock; logger: Logger; secret: string | undefined },
  input: G2AWebhookInput,
): Promise<G2AWebhookOutcome> {
  if (!deps.secret) throw invalidSignature('no webhook secret is configured');
  if (!input.timestamp || !/^\d{1,12}$/.test(input.timestamp))
    throw invalidSignature('missing or malformed timestamp');
  if (!input.signature) throw invalidSignature('missing signature');
  const skewSeconds = Math.abs(deps.clock.now().getTime() / 1000 - Number(input.timestamp));
  if (skewSeconds > WEBHOOK_TOLERANCE_SECONDS)
    throw invalidSignature('timestamp is more than five minutes off');
  if (!webhookSignatureMatches(deps.secret, input.timestamp, input.rawBody, input.signature.toLowerCase())) {
    throw invalidSignature('signature does not match');
  }

  const event = parseEvent(input.rawBody);
  const outcome = await deps.uow.run(async (scope): Promise<G2AWebhookOutcome> => {
    if (!(await scope.webhookEvents.record(event))) return 'duplicate';
    const unitId = await scope.webhookEvents.unitOfG2AOrder(event.g2aOrderId);
    if (!unitId) return 'early';
    await scope.webhookEvents.markApplied(event.g2aOrderId, deps.clock.now());
    await scope.outbox.add('g2a.fulfil', { unitId });
    return 'accepted';
  });
  deps.logger.info(
    {
      operation: 'webhook.g2a',
      outcome,
      eventId: event.eventId,
      g2aOrderId: event.g2aOrderId,
      status: event.status,
    },
    `G2A webhook ${outcome}`,
  );
  return outcome;
}

function parseEvent(rawBody: string): { eventId: string; g2aOrderId: string; status: string } {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    throw new DomainError('VALIDATION_FAILED', 'the webhook body is not JSON', { field: 'body' });
  }
  const { eventId, orderId, status } = (typeof body === 'object' && body !== null ? body : {}) as Record<
    string,
    unknown
  >;
  const text = (value: unknown) =>
    typeof value === 'string' || typeof value === 'number' ? String(value) : '';
  const fields = { eventId: text(eventId), g2aOrderId: text(orderId), status: text(status) };
  for (const [name, value] of Object.entries({
    eventId: fields.eventId,
    orderId: fields.g2aOrderId,
    status: fields.status,
  })) {
    if (value === '' || value.length > 200) {
      throw new DomainError('VALIDATION_FAILED', `body.${name} must be a string of 1 to 200 characters`, {
        field: name,
      });
    }
  }
  return fields;
}
