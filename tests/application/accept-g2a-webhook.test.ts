import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UndiciG2AClient } from '../../src/adapters/g2a/undici-g2a-client.js';
import { acceptG2AWebhook, type G2AWebhookInput } from '../../src/application/accept-g2a-webhook.js';
import type { FulfilOrderUnitDeps } from '../../src/application/fulfil-order-unit.js';
import { expectDomainError } from '../support/errors.js';
import {
  buy,
  fulfil,
  fulfilMessages,
  fulfilmentDeps,
  productDispenser,
  simulatorClient,
  startClockedSimulator,
  tablesContaining,
  unitRow,
  wrapG2A,
  type ClockedSimulator,
} from '../support/g2a-purchase.js';
import { countRows, startGround, type Ground } from '../support/ground.js';
import { waitFor } from '../support/wait-for.js';

const SECRET = 'webhook-secret-for-tests-0123456789';

let ground: Ground;
let sim: ClockedSimulator;
let g2a: UndiciG2AClient;
let nextProduct: ReturnType<typeof productDispenser>;
/** A delivered unit and the G2A order it holds. */
let known: { unitId: string; g2aOrderId: string };
/** What the receiver answered to each push of the simulator. */
const receiverAnswers: { status: number; outcome: string }[] = [];
let receiver: Server;
let receiverUrl: string;

beforeAll(async () => {
  ground = await startGround();
  // A stand-in for the shop's route: the raw body and headers as they arrived, handed to the use case.
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const header = (name: string) => request.headers[name] as string | undefined;
      accept({
        timestamp: header('x-g2a-timestamp'),
        signature: header('x-g2a-signature'),
        rawBody: Buffer.concat(chunks).toString('utf8'),
      }).then(
        (outcome) => {
          receiverAnswers.push({ status: 202, outcome });
          response.writeHead(202).end();
        },
        (error: { code?: string }) => {
          receiverAnswers.push({ status: 401, outcome: error.code ?? 'error' });
          response.writeHead(401).end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  receiverUrl = `http://127.0.0.1:${port}/api/v1/webhooks/g2a`;
  // The simulator signs pushes with the secret, but pushes only while a test sets its webhook URL.
  sim = await startClockedSimulator(ground, { webhook: { secret: SECRET } });
  g2a = simulatorClient(sim);
  nextProduct = productDispenser(sim);
  const bought = await buy(ground, [nextProduct()]);
  expect(await fulfil(deps(), bought.units[0]!)).toBe('delivered');
  known = { unitId: bought.units[0]!, g2aOrderId: (await unitRow(ground, bought.units[0]!)).g2a_order_id! };
});
afterAll(async () => {
  await g2a?.close();
  await sim?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await ground?.dispose();
});
beforeEach(async () => {
  await ground.clearOutbox();
});

const deps = (overrides: Partial<FulfilOrderUnitDeps> = {}) => fulfilmentDeps(ground, g2a, overrides);
const accept = (input: G2AWebhookInput, options: { secret?: string } = { secret: SECRET }) =>
  acceptG2AWebhook(
    { uow: ground.uow, clock: ground.clock, logger: ground.logger, secret: options.secret },
    input,
  );
const hmac = (secret: string, timestamp: string, rawBody: string) =>
  createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
const nowSeconds = () => Math.floor(ground.clock.now().getTime() / 1000);

/** A webhook G2A would send now (or `offsetSeconds` off), signed with the shared secret. */
function signed(body: Record<string, unknown>, offsetSeconds = 0): G2AWebhookInput {
  const rawBody = JSON.stringify(body);
  const timestamp = String(nowSeconds() + offsetSeconds);
  return { timestamp, rawBody, signature: hmac(SECRET, timestamp, rawBody) };
}
const eventFor = (orderId: string, extra: Record<string, unknown> = {}) => ({
  eventId: randomUUID(),
  orderId,
  status: 'complete',
  ...extra,
});
const setWebhookUrl = async (webhookUrl: string | null) => {
  const response = await fetch(`${sim.url}/__sim/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ webhookUrl }),
  });
  expect(response.status).toBe(200);
};
const storedEvent = (eventId: string) =>
  ground.db.selectFrom('g2a_webhook_events').selectAll().where('event_id', '=', eventId).executeTakeFirst();

describe('acceptG2AWebhook: refusals', () => {
  const refusals: [string, () => G2AWebhookInput][] = [
    [
      'a signature made with another secret',
      () => {
        const input = signed(eventFor(known.g2aOrderId));
        return { ...input, signature: hmac('another-secret', input.timestamp!, input.rawBody) };
      },
    ],
    ['no signature', () => ({ ...signed(eventFor(known.g2aOrderId)), signature: undefined })],
    ['an empty signature', () => ({ ...signed(eventFor(known.g2aOrderId)), signature: '' })],
    [
      'a signature that is not hex',
      () => ({ ...signed(eventFor(known.g2aOrderId)), signature: 'z'.repeat(64) }),
    ],
    [
      'a truncated signature',
      () => {
        const input = signed(eventFor(known.g2aOrderId));
        return { ...input, signature: input.signature!.slice(0, 62) };
      },
    ],
    ['no timestamp', () => ({ ...signed(eventFor(known.g2aOrderId)), timestamp: undefined })],
    ['an empty timestamp', () => ({ ...signed(eventFor(known.g2aOrderId)), timestamp: '' })],
    [
      'a timestamp that is not Unix seconds',
      () => {
        const rawBody = JSON.stringify(eventFor(known.g2aOrderId));
        const timestamp = ground.clock.now().toISOString();
        return { timestamp, rawBody, signature: hmac(SECRET, timestamp, rawBody) };
      },
    ],
    [
      'a fractional timestamp',
      () => {
        const rawBody = JSON.stringify(eventFor(known.g2aOrderId));
        const timestamp = `${nowSeconds()}.5`;
        return { timestamp, rawBody, signature: hmac(SECRET, timestamp, rawBody) };
      },
    ],
    [
      'a body changed after signing',
      () => {
        const input = signed(eventFor(known.g2aOrderId));
        return { ...input, rawBody: input.rawBody.replace('"complete"', '"new"') };
      },
    ],
    [
      'a body with a byte added after signing',
      () => {
        const input = signed(eventFor(known.g2aOrderId));
        return { ...input, rawBody: `${input.rawBody} ` };
      },
    ],
    [
      'a timestamp changed after signing',
      () => {
        const input = signed(eventFor(known.g2aOrderId));
        return { ...input, timestamp: String(Number(input.timestamp) + 1) };
      },
    ],
    ['a timestamp 6 minutes ahead', () => signed(eventFor(known.g2aOrderId), 6 * 60)],
    ['a timestamp 6 minutes behind', () => signed(eventFor(known.g2aOrderId), -6 * 60)],
    ['a timestamp 5 minutes and 1 second behind', () => signed(eventFor(known.g2aOrderId), -301)],
  ];

  it.each(refusals)('%s is INVALID_SIGNATURE and stores nothing', async (_name, make) => {
    const events = await countRows(ground, 'g2a_webhook_events');
    await expectDomainError(accept(make()), 'INVALID_SIGNATURE');
    expect(await countRows(ground, 'g2a_webhook_events')).toBe(events);
    expect(await fulfilMessages(ground)).toEqual([]);
  });

  it('no secret configured is INVALID_SIGNATURE, whatever the signature', async () => {
    const input = signed(eventFor(known.g2aOrderId));
    await expectDomainError(accept(input, {}), 'INVALID_SIGNATURE');
    await expectDomainError(accept(input, { secret: undefined }), 'INVALID_SIGNATURE');
    await expectDomainError(accept(input, { secret: '' }), 'INVALID_SIGNATURE');
    const unsigned = JSON.stringify(eventFor(known.g2aOrderId));
    await expectDomainError(
      accept(
        {
          timestamp: String(nowSeconds()),
          rawBody: unsigned,
          signature: hmac('', String(nowSeconds()), unsigned),
        },
        { secret: '' },
      ),
      'INVALID_SIGNATURE',
    );
    expect(await fulfilMessages(ground)).toEqual([]);
  });

  it('a signed body that is not an event is VALIDATION_FAILED and stores nothing', async () => {
    const events = await countRows(ground, 'g2a_webhook_events');
    const timestamp = String(nowSeconds());
    for (const rawBody of ['not json', JSON.stringify({ orderId: known.g2aOrderId, status: 'complete' })]) {
      await expectDomainError(
        accept({ timestamp, rawBody, signature: hmac(SECRET, timestamp, rawBody) }),
        'VALIDATION_FAILED',
      );
    }
    expect(await countRows(ground, 'g2a_webhook_events')).toBe(events);
  });
});

describe('acceptG2AWebhook: accepted events', () => {
  it.each([
    ['4 minutes ahead', 4 * 60],
    ['4 minutes behind', -4 * 60],
    ['exactly 5 minutes behind', -5 * 60],
    ['exactly 5 minutes ahead', 5 * 60],
    ['on time', 0],
  ])('a timestamp %s is accepted', async (_name, offset) => {
    // On a whole second, so that "exactly five minutes" is exactly that.
    ground.clock.set(new Date(Math.ceil(ground.clock.now().getTime() / 1000) * 1000 + 1000));
    const event = eventFor(known.g2aOrderId);
    expect(await accept(signed(event, offset))).toBe('accepted');
    expect(await storedEvent(event.eventId)).toMatchObject({
      g2a_order_id: known.g2aOrderId,
      status: 'complete',
    });
  });

  it('an event for a known G2A order hands its unit to a worker: one g2a.fulfil message', async () => {
    ground.clock.advance(1_000);
    const event = eventFor(known.g2aOrderId);
    expect(await accept(signed(event))).toBe('accepted');
    expect(await fulfilMessages(ground)).toEqual([{ unitId: known.unitId, startAfter: expect.any(Date) }]);
    expect((await storedEvent(event.eventId))!.applied_at).toEqual(ground.clock.now());
  });

  it('an event for a unit waiting on its key brings the worker, which asks G2A itself and delivers', async () => {
    sim.state.setFaults({ keyDelayMs: 30_000 });
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    expect(await fulfil(deps(), unitId)).toBe('waiting');
    const g2aOrderId = (await unitRow(ground, unitId)).g2a_order_id!;
    await ground.clearOutbox();

    ground.clock.advance(30_000);
    expect(await accept(signed(eventFor(g2aOrderId, { key: 'NOT-THE-KEY-00000' })))).toBe('accepted');
    expect((await fulfilMessages(ground)).map((m) => m.unitId)).toEqual([unitId]);
    expect(await fulfil(deps(), unitId)).toBe('delivered');
    const row = await unitRow(ground, unitId);
    const sealed = {
      ciphertext: row.key_ciphertext!,
      iv: row.key_iv!,
      authTag: row.key_auth_tag!,
      keyId: row.key_key_id!,
    };
    // The key is G2A's answer, never the one the webhook body carried.
    expect(ground.vault.open(sealed, unitId)).toBe(sim.state.findOrder(g2aOrderId)!.key);
    sim.state.setFaults({ keyDelayMs: 0 });
  });

  it('a duplicate event id is `duplicate`: one row, no second message', async () => {
    const event = eventFor(known.g2aOrderId);
    expect(await accept(signed(event))).toBe('accepted');
    ground.clock.advance(2_000);
    expect(await accept(signed(event))).toBe('duplicate');
    expect(await accept(signed({ ...event, status: 'other' }))).toBe('duplicate');
    expect(await fulfilMessages(ground)).toHaveLength(1);
    expect(
      await ground.db
        .selectFrom('g2a_webhook_events')
        .select('status')
        .where('event_id', '=', event.eventId)
        .execute(),
    ).toEqual([{ status: 'complete' }]);
  });

  it('an event for a G2A order no unit holds yet is `early`: kept, and applied when a unit records the order', async () => {
    const stray = eventFor('80999999999999');
    expect(await accept(signed(stray))).toBe('early');
    expect(await storedEvent(stray.eventId)).toMatchObject({
      g2a_order_id: '80999999999999',
      applied_at: null,
    });
    expect(await fulfilMessages(ground)).toEqual([]);

    // G2A's notification overtakes its own answer to the create call.
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    const early: { eventId: string; outcome: string }[] = [];
    const racing = wrapG2A(g2a, {
      createOrder: async (input) => {
        const created = await g2a.createOrder(input);
        for (let i = 0; i < 2; i++) {
          const event = eventFor(created.orderId, { status: 'new' });
          early.push({ eventId: event.eventId, outcome: await accept(signed(event)) });
        }
        return created;
      },
    });
    await ground.clearOutbox();
    ground.clock.advance(1_000);
    const recordedAt = ground.clock.now();
    expect(await fulfil(deps({ g2a: racing }), unitId)).toBe('delivered');

    expect(early.map((e) => e.outcome)).toEqual(['early', 'early']);
    const g2aOrderId = (await unitRow(ground, unitId)).g2a_order_id!;
    for (const { eventId } of early) {
      expect(await storedEvent(eventId)).toMatchObject({ g2a_order_id: g2aOrderId, applied_at: recordedAt });
    }
    expect((await storedEvent(stray.eventId))!.applied_at).toBeNull();
  });
});

describe('acceptG2AWebhook: the key in a body', () => {
  it('is never stored or logged, for a known order or an early one', async () => {
    const keys = ['WHKEY-AAAAA-11111', 'WHKEY-BBBBB-22222'];
    expect(await accept(signed(eventFor(known.g2aOrderId, { key: keys[0] })))).toBe('accepted');
    expect(await accept(signed(eventFor('80999999999998', { key: keys[1] })))).toBe('early');
    for (const key of keys) {
      expect(await tablesContaining(ground, key)).toEqual([]);
      expect(JSON.stringify(ground.logger.entries)).not.toContain(key);
    }
    // The probe finds what is there: the event ids are stored.
    expect(await tablesContaining(ground, known.g2aOrderId)).toEqual(
      expect.arrayContaining(['public.g2a_webhook_events', 'public.order_units']),
    );
  });

  it("the simulator's own signed push is accepted, and its key stays out of every table", async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    const before = receiverAnswers.length;
    await setWebhookUrl(receiverUrl);
    try {
      expect(await fulfil(deps(), unitId)).toBe('delivered');
    } finally {
      await setWebhookUrl(null);
    }
    const g2aOrderId = (await unitRow(ground, unitId)).g2a_order_id!;
    const pushed = await waitFor(
      () =>
        ground.db
          .selectFrom('g2a_webhook_events')
          .selectAll()
          .where('g2a_order_id', '=', g2aOrderId)
          .executeTakeFirst(),
      'the simulator push to be recorded',
    );
    expect(pushed).toMatchObject({ status: 'complete' });
    await waitFor(() => receiverAnswers.length > before, 'the receiver to answer');
    expect(receiverAnswers.slice(before)).toEqual([{ status: 202, outcome: 'accepted' }]);
    const key = sim.state.findOrder(g2aOrderId)!.key!;
    expect(await tablesContaining(ground, key)).toEqual([]);
  });
});
