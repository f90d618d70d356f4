import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AesGcmKeyVault } from '../../src/adapters/security/aes-gcm-key-vault.js';
import { BODY_LIMIT_BYTES } from '../../src/adapters/http/app.js';
import { MAX_TOP_UP_CENTS } from '../../src/domain/ledger.js';
import { orderStatusFor } from '../../src/domain/order.js';
import { insertGame, updateGame } from '../support/games.js';
import { api, ApiClient, bearer, type Headers } from '../support/http.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { outboxJobs } from '../support/outbox.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

// The HTTP contract of checkout, orders, the ledger, top-ups and refunds, as a client calls it: statuses, the
// stable `code` and `field` of error bodies, headers, and that every refused request changes nothing (read back
// over HTTP and from PostgreSQL). The shop serves the API only (role `api`): no worker fulfils or refunds units
// behind the tests' backs, so a unit stays `pending` until a test moves it.

type Response = LightMyRequestResponse;

let shop: TestShop;
let http: ApiClient;
let admin: Headers;

/** 500 cents, plenty in stock. */
let cheap: string;
/** 750 cents, plenty in stock. */
let other: string;
/** 20,000 cents: more than a customer's wallet of 10,000. */
let dear: string;
let soldOut: string;
let delisted: string;
let notForSale: string;
/** Two in stock. */
let scarce: string;
/** Exactly a customer's wallet, and one cent more. */
let wholeWallet: string;
let oneCentTooDear: string;

const START_BALANCE = 10_000;

beforeAll(async () => {
  shop = await startTestShop({ role: 'api', env: { AUTH_RATE_LIMIT_PER_IP: '10000' } });
  http = new ApiClient(shop);
  admin = await http.admin();
  cheap = await insertGame(shop.db, { name: 'Cheap', priceCents: 500, qty: 1000 });
  other = await insertGame(shop.db, { name: 'Other', priceCents: 750, qty: 1000 });
  dear = await insertGame(shop.db, { name: 'Dear', priceCents: 20_000, qty: 1000 });
  soldOut = await insertGame(shop.db, { name: 'Sold Out', priceCents: 500, qty: 0 });
  delisted = await insertGame(shop.db, { name: 'Delisted', priceCents: 500, qty: 10, delisted: true });
  notForSale = await insertGame(shop.db, {
    name: 'Not For Sale',
    priceCents: 500,
    qty: 10,
    availableToBuy: false,
  });
  scarce = await insertGame(shop.db, { name: 'Scarce', priceCents: 500, qty: 2 });
  wholeWallet = await insertGame(shop.db, { priceCents: START_BALANCE, qty: 1000 });
  oneCentTooDear = await insertGame(shop.db, { priceCents: START_BALANCE + 1, qty: 1000 });
});
afterAll(() => shop?.dispose());

interface Customer {
  headers: Headers;
  userId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const topUp = (userId: string, amountCents: number, reference: string = randomUUID(), as: Headers = admin) =>
  http.post(`/admin/users/${userId}/top-ups`, { amountCents, reference }, as);

async function customer(balanceCents = START_BALANCE): Promise<Customer> {
  const { headers, userId } = await http.registered();
  if (balanceCents > 0) expect((await topUp(userId, balanceCents)).statusCode).toBe(201);
  return { headers, userId };
}

async function addToCart(who: Customer, gameId: string, quantity: number): Promise<void> {
  const response = await http.post('/cart/items', { gameId, quantity }, who.headers);
  expect([200, 201], response.body).toContain(response.statusCode);
}

const keyed = (who: Customer, key: string): Headers => ({ ...who.headers, 'idempotency-key': key });

/** POST /orders with a JSON body (or none at all: no payload, no content-type). */
const checkout = (who: Customer, key: string, body?: object) =>
  body === undefined
    ? http.request({ method: 'POST', url: api('/orders'), headers: keyed(who, key) })
    : http.post('/orders', body, keyed(who, key));

/** POST /orders with the raw bytes and headers given. */
const rawCheckout = (headers: Headers, payload?: string, contentType?: string) =>
  http.request({
    method: 'POST',
    url: api('/orders'),
    headers: contentType ? { ...headers, 'content-type': contentType } : headers,
    ...(payload !== undefined ? { payload } : {}),
  });

const refund = (orderId: string, body: object = {}, as: Headers = admin) =>
  http.post(`/admin/orders/${orderId}/refund`, body, as);

const oneCheap = () => ({ items: [{ gameId: cheap, quantity: 1 }] });

/**
 * An error body as SPEC §3 has it: the status, a stable SCREAMING_SNAKE `code`, `error` and `message`, no
 * framework code, JSON; `field` when one is given (`null`: no field at all).
 */
function expectError(response: Response, status: number, code: string, field?: string | null) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json();
  expect(body).toMatchObject({
    statusCode: status,
    code,
    error: expect.any(String),
    message: expect.any(String),
  });
  expect(body.code).toMatch(/^[A-Z][A-Z0-9_]*$/);
  expect(response.body).not.toMatch(/FST_/);
  if (field === null) expect(body).not.toHaveProperty('field');
  else if (field !== undefined) expect(body.field).toBe(field);
  expect(response.headers['idempotent-replayed']).toBeUndefined();
  return body as { code: string; field?: string; message: string; details?: Record<string, unknown> };
}

async function getJson(path: string, headers: Headers) {
  const response = await http.get(path, headers);
  expect(response.statusCode, `${path}: ${response.body}`).toBe(200);
  return response.json();
}

async function balanceOf(who: Customer): Promise<number> {
  return (await getJson('/me', who.headers)).balanceCents;
}

async function outboxSize(): Promise<number> {
  const topics = ['cache.invalidate', 'email.send', 'g2a.fulfil'] as const;
  const jobs = await Promise.all(topics.map((topic) => outboxJobs(shop.db, topic)));
  return jobs.reduce((sum, list) => sum + list.length, 0);
}

/**
 * Everything a request of these routes could change for a user, as a client reads it (GET /me, /transactions,
 * /cart, /orders) and as PostgreSQL holds it (orders, units, ledger, cart rows, idempotency keys, the outbox).
 */
async function stateOf(who: Customer) {
  const count = async (table: 'orders' | 'transactions' | 'cart_items' | 'idempotency_keys') => {
    const row = await shop.db
      .selectFrom(table)
      .select(shop.db.fn.countAll<number>().as('n'))
      .where('user_id', '=', who.userId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  const units = await shop.db
    .selectFrom('order_units as u')
    .innerJoin('orders as o', 'o.id', 'u.order_id')
    .select(['u.id', 'u.state'])
    .where('o.user_id', '=', who.userId)
    .orderBy('u.id')
    .execute();
  return {
    balanceCents: await balanceOf(who),
    transactions: await getJson('/transactions?pageSize=100', who.headers),
    cart: await getJson('/cart', who.headers),
    orders: await getJson('/orders?pageSize=100', who.headers),
    rows: {
      orders: await count('orders'),
      transactions: await count('transactions'),
      cartItems: await count('cart_items'),
      idempotencyKeys: await count('idempotency_keys'),
      units,
    },
    outbox: await outboxSize(),
  };
}

/** Moves `count` pending units of the order to `delivered` with a real sealed key, as fulfilment would. */
async function deliver(orderId: string, count: number): Promise<string[]> {
  const vault = new AesGcmKeyVault(shop.config.keysEncryptionKey, shop.config.previousKeysEncryptionKeys);
  const units = await shop.db
    .selectFrom('order_units')
    .select('id')
    .where('order_id', '=', orderId)
    .where('state', '=', 'pending')
    .orderBy('id')
    .limit(count)
    .execute();
  const keys: string[] = [];
  for (const unit of units) {
    const key = `KEY-${randomUUID()}`;
    const sealed = vault.seal(key, unit.id);
    await shop.db
      .updateTable('order_units')
      .set({
        state: 'delivered',
        key_ciphertext: sealed.ciphertext,
        key_iv: sealed.iv,
        key_auth_tag: sealed.authTag,
        key_key_id: sealed.keyId,
        delivered_at: new Date(),
      })
      .where('id', '=', unit.id)
      .execute();
    keys.push(key);
  }
  // The status its units add up to, as fulfilment leaves it.
  const states = await shop.db
    .selectFrom('order_units')
    .select('state')
    .where('order_id', '=', orderId)
    .execute();
  await shop.db
    .updateTable('orders')
    .set({ status: orderStatusFor(states.map((unit) => unit.state)) })
    .where('id', '=', orderId)
    .execute();
  return keys;
}

describe('POST /orders: a checkout', () => {
  it('answers 201 with the order, charges the wallet once and leaves the cart alone (explicit items)', async () => {
    const who = await customer();
    await addToCart(who, cheap, 2);
    const cartBefore = await getJson('/cart', who.headers);
    const key = randomUUID();

    const response = await checkout(who, key, {
      items: [
        { gameId: other, quantity: 1 },
        { gameId: cheap, quantity: 3 },
      ],
    });

    expect(response.statusCode, response.body).toBe(201);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.headers['idempotent-replayed']).toBeUndefined();
    expect(response.headers['x-request-id']).toEqual(expect.any(String));
    const order = response.json();
    expect(order).toEqual({
      id: expect.stringMatching(UUID),
      status: 'paid',
      totalCents: 750 + 3 * 500,
      refundedCents: 0,
      currency: 'EUR',
      items: [
        { gameId: other, name: 'Other', quantity: 1, unitPriceCents: 750, delivered: 0, refunded: 0 },
        { gameId: cheap, name: 'Cheap', quantity: 3, unitPriceCents: 500, delivered: 0, refunded: 0 },
      ],
      createdAt: expect.stringMatching(ISO_DATE),
      updatedAt: expect.stringMatching(ISO_DATE),
    });

    expect(await balanceOf(who)).toBe(START_BALANCE - 2250);
    const ledger = await getJson('/transactions', who.headers);
    expect(ledger.items[0]).toEqual({
      id: expect.stringMatching(UUID),
      type: 'purchase',
      amountCents: -2250,
      balanceAfterCents: START_BALANCE - 2250,
      orderId: order.id,
      reference: null,
      createdAt: expect.stringMatching(ISO_DATE),
    });
    expect(ledger.total).toBe(2);
    expect(await getJson('/cart', who.headers)).toEqual(cartBefore);
    const list = await getJson('/orders', who.headers);
    expect(list.items.map((o: { id: string }) => o.id)).toEqual([order.id]);
    const one = await getJson(`/orders/${order.id}`, who.headers);
    expect(one).toEqual({ ...order, items: order.items.map((i: object) => ({ ...i, keys: [] })) });
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });

  it('drops unknown body fields (SPEC §3, §9): a price, total, owner or status sent along changes nothing', async () => {
    const who = await customer();
    const bystander = await customer(0);
    const key = randomUUID();
    const response = await checkout(who, key, {
      items: [{ gameId: cheap, quantity: 2, unitPriceCents: 1, name: 'Free' }],
      totalCents: 1,
      userId: bystander.userId,
      status: 'completed',
      coupon: 'FREE',
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({
      status: 'paid',
      totalCents: 1000,
      items: [{ gameId: cheap, name: 'Cheap', quantity: 2, unitPriceCents: 500 }],
    });
    expect(await balanceOf(who)).toBe(START_BALANCE - 1000);
    expect((await getJson('/orders', bystander.headers)).total).toBe(0);
    expect(await balanceOf(bystander)).toBe(0);
    // The dropped fields are no part of the request: the clean body is the same request, a replay.
    const clean = await checkout(who, key, { items: [{ gameId: cheap, quantity: 2 }] });
    expect(clean.statusCode).toBe(201);
    expect(clean.headers['idempotent-replayed']).toBe('true');
    expect(clean.body).toBe(response.body);
  });

  it('a replay with the same key and body answers the first status and bytes, says so, and charges nothing more', async () => {
    const who = await customer();
    const key = randomUUID();
    const body = { items: [{ gameId: cheap, quantity: 2 }] };
    const first = await checkout(who, key, body);
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const after = await stateOf(who);

    for (let i = 0; i < 3; i++) {
      const replay = await checkout(who, key, body);
      expect(replay.statusCode).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(replay.body).toBe(first.body);
    }
    expect(await stateOf(who)).toEqual(after);
    expect(after.balanceCents).toBe(START_BALANCE - 1000);
    expect(after.rows.orders).toBe(1);
  });

  it('a replay answers the first response even after the order changed (not a fresh read)', async () => {
    const who = await customer();
    const key = randomUUID();
    const first = await checkout(who, key, oneCheap());
    expect(first.statusCode).toBe(201);
    expect((await refund(first.json().id)).statusCode).toBe(200);
    expect((await getJson(`/orders/${first.json().id}`, who.headers)).status).toBe('refunded');

    const replay = await checkout(who, key, oneCheap());
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(first.body);
    expect(replay.json().status).toBe('paid');
    expect(await balanceOf(who)).toBe(START_BALANCE);
  });

  it('the same items in another order, or with upper-case ids, are the same request: a replay', async () => {
    const who = await customer();
    const key = randomUUID();
    const first = await checkout(who, key, {
      items: [
        { gameId: cheap, quantity: 1 },
        { gameId: other, quantity: 2 },
      ],
    });
    expect(first.statusCode).toBe(201);
    for (const items of [
      [
        { gameId: other, quantity: 2 },
        { gameId: cheap, quantity: 1 },
      ],
      [
        { gameId: cheap.toUpperCase(), quantity: 1 },
        { gameId: other.toUpperCase(), quantity: 2 },
      ],
    ]) {
      const replay = await checkout(who, key, { items });
      expect(replay.statusCode, replay.body).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toBe(first.body);
    }
    expect(await balanceOf(who)).toBe(START_BALANCE - 500 - 1500);
  });

  describe('the same key with another body: 422 IDEMPOTENCY_KEY_REUSED naming idempotency-key, nothing changes', () => {
    const variants: { name: string; first?: () => object; second: () => object | undefined }[] = [
      { name: 'another quantity', second: () => ({ items: [{ gameId: cheap, quantity: 2 }] }) },
      { name: 'another game', second: () => ({ items: [{ gameId: other, quantity: 1 }] }) },
      {
        name: 'one more game',
        second: () => ({
          items: [
            { gameId: cheap, quantity: 1 },
            { gameId: other, quantity: 1 },
          ],
        }),
      },
      { name: 'the cart ({}) after items', second: () => ({}) },
      { name: 'the cart (no body) after items', second: () => undefined },
      { name: 'items after the cart', first: () => ({}), second: oneCheap },
    ];
    for (const variant of variants) {
      it(variant.name, async () => {
        const who = await customer();
        await addToCart(who, other, 1);
        const key = randomUUID();
        const first = await checkout(who, key, (variant.first ?? oneCheap)());
        expect(first.statusCode, first.body).toBe(201);
        const before = await stateOf(who);

        const reused = await checkout(who, key, variant.second());
        expectError(reused, 422, 'IDEMPOTENCY_KEY_REUSED', 'idempotency-key');
        expect(await stateOf(who)).toEqual(before);

        // The key still answers its first request.
        const replay = await checkout(who, key, (variant.first ?? oneCheap)());
        expect(replay.statusCode).toBe(201);
        expect(replay.body).toBe(first.body);
      });
    }
  });

  it('may spend the whole wallet, down to 0', async () => {
    const who = await customer();
    const response = await checkout(who, randomUUID(), { items: [{ gameId: wholeWallet, quantity: 1 }] });
    expect(response.statusCode, response.body).toBe(201);
    expect(await balanceOf(who)).toBe(0);
    expect((await getJson('/transactions', who.headers)).items[0]).toMatchObject({
      type: 'purchase',
      amountCents: -START_BALANCE,
      balanceAfterCents: 0,
    });
  });

  it('keys are scoped per user: another user with the same key gets an order of their own', async () => {
    const [a, b] = [await customer(), await customer()];
    const key = randomUUID();
    const first = await checkout(a, key, oneCheap());
    const second = await checkout(b, key, { items: [{ gameId: other, quantity: 1 }] });
    expect(first.statusCode).toBe(201);
    expect(second.statusCode, second.body).toBe(201);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.json().id).not.toBe(first.json().id);
    expect(await balanceOf(a)).toBe(START_BALANCE - 500);
    expect(await balanceOf(b)).toBe(START_BALANCE - 750);
  });

  it('accepts any key of 1 to 255 visible ASCII characters', async () => {
    const who = await customer();
    for (const key of ['k'.repeat(255), 'x', '!#$%&\'*+-.^_`|~:/?=@[]{}<>"\\,;()']) {
      const response = await checkout(who, key, oneCheap());
      expect(response.statusCode, `${key}: ${response.body}`).toBe(201);
      const replay = await checkout(who, key, oneCheap());
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toBe(response.body);
    }
    expect(await balanceOf(who)).toBe(START_BALANCE - 3 * 500);
  });

  it(`accepts a body of exactly ${BODY_LIMIT_BYTES} bytes (the limit; padding in an unknown field)`, async () => {
    const who = await customer();
    const base = JSON.stringify({ ...oneCheap(), pad: '' });
    const payload = JSON.stringify({ ...oneCheap(), pad: 'x'.repeat(BODY_LIMIT_BYTES - base.length) });
    expect(Buffer.byteLength(payload)).toBe(BODY_LIMIT_BYTES);
    const response = await rawCheckout(keyed(who, randomUUID()), payload, 'application/json');
    expect(response.statusCode, response.body.slice(0, 300)).toBe(201);
    expect(await balanceOf(who)).toBe(START_BALANCE - 500);
  });
});

describe('POST /orders: checking out the cart', () => {
  it('no body at all (no content-type) orders the cart exactly as {} does, and replays as {}', async () => {
    const [bare, braces] = [await customer(), await customer()];
    for (const who of [bare, braces]) {
      await addToCart(who, cheap, 2);
      await addToCart(who, other, 1);
    }
    const [bareKey, bracesKey] = [randomUUID(), randomUUID()];
    const withoutBody = await rawCheckout(keyed(bare, bareKey));
    const withBraces = await checkout(braces, bracesKey, {});

    for (const response of [withoutBody, withBraces]) {
      expect(response.statusCode, response.body).toBe(201);
      expect(response.headers['idempotent-replayed']).toBeUndefined();
    }
    const strip = (order: Record<string, unknown>) => ({
      ...order,
      id: undefined,
      createdAt: undefined,
      updatedAt: undefined,
    });
    expect(strip(withoutBody.json())).toEqual(strip(withBraces.json()));
    expect(withoutBody.json()).toMatchObject({
      status: 'paid',
      totalCents: 2 * 500 + 750,
      items: expect.arrayContaining([
        expect.objectContaining({ gameId: cheap, quantity: 2, unitPriceCents: 500 }),
        expect.objectContaining({ gameId: other, quantity: 1, unitPriceCents: 750 }),
      ]),
    });
    expect(withoutBody.json().items).toHaveLength(2);
    for (const who of [bare, braces]) {
      expect(await getJson('/cart', who.headers)).toEqual({ items: [], totalCents: 0, currency: 'EUR' });
      expect(await balanceOf(who)).toBe(START_BALANCE - 1750);
    }

    // No body and `{}` are one request for the key, both ways round.
    const bareAsBraces = await checkout(bare, bareKey, {});
    expect(bareAsBraces.headers['idempotent-replayed']).toBe('true');
    expect(bareAsBraces.body).toBe(withoutBody.body);
    const bracesAsBare = await rawCheckout(keyed(braces, bracesKey));
    expect(bracesAsBare.statusCode).toBe(201);
    expect(bracesAsBare.headers['idempotent-replayed']).toBe('true');
    expect(bracesAsBare.body).toBe(withBraces.body);
    expect(await balanceOf(bare)).toBe(START_BALANCE - 1750);
  });

  it('the OpenAPI document says the request body of POST /orders is optional and the key header required', async () => {
    const document = await http.request({ method: 'GET', url: '/docs/json' });
    expect(document.statusCode).toBe(200);
    const operation = document.json().paths['/api/v1/orders'].post;
    expect(operation.requestBody.required).toBe(false);
    expect(operation.requestBody.content['application/json']).toBeDefined();
    expect(operation).not.toHaveProperty('x-optional-body');
    const keyHeader = operation.parameters.find(
      (p: { in: string; name: string }) => p.in === 'header' && p.name === 'idempotency-key',
    );
    expect(keyHeader).toMatchObject({ required: true });
  });

  it('a replay of a cart checkout does not order the refilled cart', async () => {
    const who = await customer();
    await addToCart(who, cheap, 1);
    const key = randomUUID();
    const first = await rawCheckout(keyed(who, key));
    expect(first.statusCode).toBe(201);
    await addToCart(who, other, 3);
    const before = await stateOf(who);

    const replay = await rawCheckout(keyed(who, key));
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(first.body);
    expect(await stateOf(who)).toEqual(before);
    expect(before.cart.items).toEqual([expect.objectContaining({ gameId: other, quantity: 3 })]);
  });
});

describe('POST /orders: every refusal answers its code and changes nothing', () => {
  type Cart = 'cheap' | 'empty' | 'goneOutOfStock';
  interface Refusal {
    name: string;
    /** What the customer's cart holds first (default: 2 × cheap). */
    cart?: Cart;
    send: (who: Customer, key: string) => Promise<Response>;
    status: number;
    code: string;
    /** The `field` of the body; `null`: none. */
    field?: string | null;
    details?: (who: Customer) => Record<string, unknown>;
    /** The request's key was valid: after the refusal the same key places an order. */
    keyReusable: boolean;
  }

  const json = (who: Customer, key: string, payload: string) =>
    rawCheckout(keyed(who, key), payload, 'application/json');
  const items = (who: Customer, key: string, list: unknown) => checkout(who, key, { items: list });

  const refusals: Refusal[] = [
    {
      name: 'no Authorization header: 401 UNAUTHORIZED',
      send: (_who, key) => http.post('/orders', oneCheap(), { 'idempotency-key': key }),
      status: 401,
      code: 'UNAUTHORIZED',
      keyReusable: true,
    },
    {
      name: 'a forged bearer token: 401 UNAUTHORIZED',
      send: (_who, key) =>
        http.post('/orders', oneCheap(), { ...bearer('not.a.token'), 'idempotency-key': key }),
      status: 401,
      code: 'UNAUTHORIZED',
      keyReusable: true,
    },
    {
      name: 'no Idempotency-Key: 400 naming idempotency-key',
      send: (who) => http.post('/orders', oneCheap(), who.headers),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'idempotency-key',
      keyReusable: false,
    },
    {
      name: 'an empty Idempotency-Key: 400',
      send: (who) => checkout(who, '', oneCheap()),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'idempotency-key',
      keyReusable: false,
    },
    {
      name: 'an Idempotency-Key of 256 characters: 400',
      send: (who) => checkout(who, 'k'.repeat(256), oneCheap()),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'idempotency-key',
      keyReusable: false,
    },
    {
      name: 'an Idempotency-Key with a space: 400',
      send: (who) => checkout(who, 'my key', oneCheap()),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'idempotency-key',
      keyReusable: false,
    },
    {
      name: 'an Idempotency-Key with non-ASCII characters: 400',
      send: (who) => checkout(who, 'clé-☃', oneCheap()),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'idempotency-key',
      keyReusable: false,
    },
    {
      name: 'quantity 0: 400 naming the item',
      send: (who, key) => items(who, key, [{ gameId: cheap, quantity: 0 }]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items.0.quantity',
      keyReusable: true,
    },
    {
      name: 'a negative quantity: 400',
      send: (who, key) => items(who, key, [{ gameId: cheap, quantity: -1 }]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items.0.quantity',
      keyReusable: true,
    },
    {
      name: 'a fractional quantity: 400',
      send: (who, key) => items(who, key, [{ gameId: cheap, quantity: 1.5 }]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items.0.quantity',
      keyReusable: true,
    },
    {
      name: 'a quantity as a string (no coercion): 400',
      send: (who, key) => items(who, key, [{ gameId: cheap, quantity: '1' }]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items.0.quantity',
      keyReusable: true,
    },
    {
      name: 'no quantity: 400',
      send: (who, key) => items(who, key, [{ gameId: cheap }]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items.0.quantity',
      keyReusable: true,
    },
    {
      name: 'a gameId that is not a UUID: 400 naming it',
      send: (who, key) => items(who, key, [{ gameId: 'cheap-game', quantity: 1 }]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items.0.gameId',
      keyReusable: true,
    },
    {
      name: 'a malformed gameId in the second item: 400 naming that one',
      send: (who, key) =>
        items(who, key, [
          { gameId: cheap, quantity: 1 },
          { gameId: 42, quantity: 1 },
        ]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items.1.gameId',
      keyReusable: true,
    },
    {
      name: 'no gameId: 400',
      send: (who, key) => items(who, key, [{ quantity: 1 }]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items.0.gameId',
      keyReusable: true,
    },
    {
      name: 'a gameId in URN form (urn:uuid:…): 400, not a 500',
      send: (who, key) => items(who, key, [{ gameId: `urn:uuid:${cheap}`, quantity: 1 }]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items.0.gameId',
      keyReusable: true,
    },
    {
      name: 'items that are an object, not an array: 400 naming items',
      send: (who, key) => items(who, key, { gameId: cheap, quantity: 1 }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items',
      keyReusable: true,
    },
    {
      name: 'items that are a string: 400',
      send: (who, key) => items(who, key, cheap),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items',
      keyReusable: true,
    },
    {
      name: 'items null: 400 (not the cart)',
      send: (who, key) => items(who, key, null),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items',
      keyReusable: true,
    },
    {
      name: 'an item that is not an object: 400',
      send: (who, key) => items(who, key, [cheap]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items.0',
      keyReusable: true,
    },
    {
      name: '51 different games (over MAX_ORDER_LINES): 400 naming items',
      send: (who, key) =>
        items(
          who,
          key,
          Array.from({ length: 51 }, () => ({ gameId: randomUUID(), quantity: 1 })),
        ),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items',
      keyReusable: true,
    },
    {
      name: 'one game listed twice: 400 naming items',
      send: (who, key) =>
        items(who, key, [
          { gameId: cheap, quantity: 1 },
          { gameId: cheap, quantity: 2 },
        ]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items',
      keyReusable: true,
    },
    {
      name: 'one game listed twice in two spellings (case): 400',
      send: (who, key) =>
        items(who, key, [
          { gameId: cheap, quantity: 1 },
          { gameId: cheap.toUpperCase(), quantity: 1 },
        ]),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'items',
      keyReusable: true,
    },
    {
      name: 'a JSON array as the body: 400 naming the body',
      send: (who, key) => json(who, key, '[]'),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'body',
      keyReusable: true,
    },
    {
      name: 'a JSON number as the body: 400',
      send: (who, key) => json(who, key, '42'),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'body',
      keyReusable: true,
    },
    {
      name: 'a JSON null as the body: 400, not a checkout of the cart',
      send: (who, key) => json(who, key, 'null'),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'body',
      keyReusable: true,
    },
    {
      name: 'malformed JSON: 400 INVALID_JSON',
      send: (who, key) => json(who, key, '{"items": [{"gameId": '),
      status: 400,
      code: 'INVALID_JSON',
      keyReusable: true,
    },
    {
      name: 'content-type JSON with an empty body: 400 INVALID_JSON',
      send: (who, key) => json(who, key, ''),
      status: 400,
      code: 'INVALID_JSON',
      keyReusable: true,
    },
    {
      name: 'text/plain: 415 UNSUPPORTED_MEDIA_TYPE',
      send: (who, key) => rawCheckout(keyed(who, key), JSON.stringify(oneCheap()), 'text/plain'),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      keyReusable: true,
    },
    {
      name: 'a form body: 415 UNSUPPORTED_MEDIA_TYPE',
      send: (who, key) =>
        rawCheckout(keyed(who, key), `gameId=${cheap}&quantity=1`, 'application/x-www-form-urlencoded'),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      keyReusable: true,
    },
    {
      name: `a body of ${BODY_LIMIT_BYTES} + 1 bytes: 413 PAYLOAD_TOO_LARGE`,
      send: (who, key) => {
        const base = JSON.stringify({ ...oneCheap(), pad: '' });
        return json(
          who,
          key,
          JSON.stringify({ ...oneCheap(), pad: 'x'.repeat(BODY_LIMIT_BYTES + 1 - base.length) }),
        );
      },
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      keyReusable: true,
    },
    {
      name: 'a 2 MiB body: 413 PAYLOAD_TOO_LARGE',
      send: (who, key) => json(who, key, JSON.stringify({ ...oneCheap(), pad: 'x'.repeat(2 * 1024 * 1024) })),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      keyReusable: true,
    },
    {
      name: 'items: []: 422 CART_EMPTY',
      send: (who, key) => items(who, key, []),
      status: 422,
      code: 'CART_EMPTY',
      keyReusable: true,
    },
    {
      name: 'an empty cart (no body): 422 CART_EMPTY',
      cart: 'empty',
      send: (who, key) => rawCheckout(keyed(who, key)),
      status: 422,
      code: 'CART_EMPTY',
      keyReusable: true,
    },
    {
      name: 'an empty cart ({}): 422 CART_EMPTY',
      cart: 'empty',
      send: (who, key) => checkout(who, key, {}),
      status: 422,
      code: 'CART_EMPTY',
      keyReusable: true,
    },
    {
      name: '11 units of one game: 422 QUANTITY_LIMIT',
      send: (who, key) => items(who, key, [{ gameId: cheap, quantity: 11 }]),
      status: 422,
      code: 'QUANTITY_LIMIT',
      field: 'items.quantity',
      keyReusable: true,
    },
    {
      name: 'an unknown game: 404 GAME_NOT_FOUND with its id',
      send: (who, key) => items(who, key, [{ gameId: '00000000-0000-4000-8000-000000000000', quantity: 1 }]),
      status: 404,
      code: 'GAME_NOT_FOUND',
      details: () => ({ gameIds: ['00000000-0000-4000-8000-000000000000'] }),
      keyReusable: true,
    },
    {
      name: 'an unknown game beside a good one: 404, the good one not bought either',
      send: (who, key) =>
        items(who, key, [
          { gameId: cheap, quantity: 1 },
          { gameId: '00000000-0000-4000-8000-00000000000a', quantity: 1 },
        ]),
      status: 404,
      code: 'GAME_NOT_FOUND',
      keyReusable: true,
    },
    {
      name: 'more than the wallet holds: 402 INSUFFICIENT_FUNDS with the amounts',
      send: (who, key) => items(who, key, [{ gameId: dear, quantity: 1 }]),
      status: 402,
      code: 'INSUFFICIENT_FUNDS',
      details: () => ({ totalCents: 20_000, balanceCents: START_BALANCE }),
      keyReusable: true,
    },
    {
      name: 'one cent more than the wallet holds: 402',
      send: (who, key) => items(who, key, [{ gameId: oneCentTooDear, quantity: 1 }]),
      status: 402,
      code: 'INSUFFICIENT_FUNDS',
      details: () => ({ totalCents: START_BALANCE + 1, balanceCents: START_BALANCE }),
      keyReusable: true,
    },
    {
      name: 'a game out of stock: 409 OUT_OF_STOCK with the reason',
      send: (who, key) => items(who, key, [{ gameId: soldOut, quantity: 1 }]),
      status: 409,
      code: 'OUT_OF_STOCK',
      details: () => ({
        games: [{ gameId: soldOut, reason: 'out_of_stock', requested: 1, available: 0 }],
      }),
      keyReusable: true,
    },
    {
      name: 'a delisted game: 409 OUT_OF_STOCK (delisted)',
      send: (who, key) => items(who, key, [{ gameId: delisted, quantity: 1 }]),
      status: 409,
      code: 'OUT_OF_STOCK',
      details: () => ({ games: [expect.objectContaining({ gameId: delisted, reason: 'delisted' })] }),
      keyReusable: true,
    },
    {
      name: 'a game not available to buy: 409 OUT_OF_STOCK',
      send: (who, key) => items(who, key, [{ gameId: notForSale, quantity: 1 }]),
      status: 409,
      code: 'OUT_OF_STOCK',
      keyReusable: true,
    },
    {
      name: 'more units than in stock: 409 OUT_OF_STOCK (insufficient_stock)',
      send: (who, key) => items(who, key, [{ gameId: scarce, quantity: 3 }]),
      status: 409,
      code: 'OUT_OF_STOCK',
      details: () => ({
        games: [{ gameId: scarce, reason: 'insufficient_stock', requested: 3, available: 2 }],
      }),
      keyReusable: true,
    },
    {
      name: 'a cart holding a game that went out of stock: 409, the cart kept whole',
      cart: 'goneOutOfStock',
      send: (who, key) => checkout(who, key, {}),
      status: 409,
      code: 'OUT_OF_STOCK',
      keyReusable: true,
    },
  ];

  for (const c of refusals) {
    it(c.name, async () => {
      const who = await customer();
      if (c.cart !== 'empty') await addToCart(who, cheap, 2);
      if (c.cart === 'goneOutOfStock') {
        const going = await insertGame(shop.db, { priceCents: 300, qty: 5 });
        await addToCart(who, going, 1);
        await updateGame(shop.db, going, { qty: 0 });
      }
      const before = await stateOf(who);
      const key = randomUUID();

      const body = expectError(await c.send(who, key), c.status, c.code, c.field);
      if (c.details) expect(body.details).toEqual(c.details(who));
      expect(await stateOf(who)).toEqual(before);

      if (c.keyReusable) {
        // A refusal is not stored: the key then places an order (an explicit one, so the cart stays).
        const placed = await checkout(who, key, oneCheap());
        expect(placed.statusCode, placed.body).toBe(201);
        expect(placed.headers['idempotent-replayed']).toBeUndefined();
        expect(await balanceOf(who)).toBe(before.balanceCents - 500);
        expect(await getJson('/cart', who.headers)).toEqual(before.cart);
      }
    });
  }

  it('a refused request with a key does not block the same key with another body', async () => {
    const who = await customer(1000);
    const key = randomUUID();
    expectError(
      await checkout(who, key, { items: [{ gameId: dear, quantity: 1 }] }),
      402,
      'INSUFFICIENT_FUNDS',
    );
    expectError(await checkout(who, key, { items: [{ gameId: soldOut, quantity: 1 }] }), 409, 'OUT_OF_STOCK');
    const placed = await checkout(who, key, oneCheap());
    expect(placed.statusCode).toBe(201);
    expect(await balanceOf(who)).toBe(500);
  });

  it('after a 402, a top-up lets the same key and body through', async () => {
    const who = await customer(1000);
    const key = randomUUID();
    const body = { items: [{ gameId: cheap, quantity: 3 }] };
    expectError(await checkout(who, key, body), 402, 'INSUFFICIENT_FUNDS');
    expect((await topUp(who.userId, 500)).statusCode).toBe(201);
    const placed = await checkout(who, key, body);
    expect(placed.statusCode).toBe(201);
    expect(placed.headers['idempotent-replayed']).toBeUndefined();
    expect(await balanceOf(who)).toBe(0);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });
});

describe('GET /orders', () => {
  it('answers 401 UNAUTHORIZED without a token', async () => {
    expectError(await http.get('/orders'), 401, 'UNAUTHORIZED');
  });

  it('lists only the own orders, newest first, without keys, as {items, page, pageSize, total}', async () => {
    const who = await customer();
    const stranger = await customer();
    expect((await checkout(stranger, randomUUID(), oneCheap())).statusCode).toBe(201);
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await checkout(who, randomUUID(), { items: [{ gameId: cheap, quantity: i + 1 }] });
      expect(response.statusCode).toBe(201);
      placed.push(response.json().id);
    }
    await deliver(placed[0]!, 1);

    const list = await getJson('/orders', who.headers);
    expect(list).toMatchObject({ page: 1, pageSize: 20, total: 3 });
    expect(list.items.map((o: { id: string }) => o.id)).toEqual([...placed].reverse());
    for (const order of list.items) {
      expect(order).toMatchObject({ status: expect.any(String), currency: 'EUR' });
      for (const item of order.items) expect(item).not.toHaveProperty('keys');
    }
    expect(list.items[2]).toMatchObject({ status: 'completed', items: [{ delivered: 1, quantity: 1 }] });
  });

  it('pages with page and pageSize', async () => {
    const who = await customer();
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await checkout(who, randomUUID(), oneCheap());
      placed.push(response.json().id);
    }
    const newestFirst = [...placed].reverse();
    const page = async (query: string) => getJson(`/orders?${query}`, who.headers);
    const ids = (p: { items: { id: string }[] }) => p.items.map((o) => o.id);

    const first = await page('pageSize=2');
    expect(first).toMatchObject({ page: 1, pageSize: 2, total: 3 });
    expect(ids(first)).toEqual(newestFirst.slice(0, 2));
    const second = await page('page=2&pageSize=2');
    expect(second).toMatchObject({ page: 2, pageSize: 2, total: 3 });
    expect(ids(second)).toEqual(newestFirst.slice(2));
    const beyond = await page('page=3&pageSize=2');
    expect(beyond).toMatchObject({ items: [], page: 3, total: 3 });
    expect(ids(await page('pageSize=100'))).toEqual(newestFirst);
    expect(ids(await page('page=1&pageSize=1&unknown=x'))).toEqual(newestFirst.slice(0, 1));
  });

  for (const [query, field] of [
    ['page=0', 'page'],
    ['page=-1', 'page'],
    ['page=abc', 'page'],
    ['page=1.5', 'page'],
    ['page=1&page=2', 'page'],
    ['pageSize=0', 'pageSize'],
    ['pageSize=101', 'pageSize'],
    ['pageSize=ten', 'pageSize'],
  ] as const) {
    it(`answers ?${query} with 400 naming ${field}`, async () => {
      const who = await customer(0);
      expectError(await http.get(`/orders?${query}`, who.headers), 400, 'VALIDATION_FAILED', field);
    });
  }
});

it('the OpenAPI document marks page and pageSize optional, as the API treats them', async () => {
  const who = await customer(0);
  expect((await http.get('/orders', who.headers)).statusCode).toBe(200);
  expect((await http.get('/transactions', who.headers)).statusCode).toBe(200);
  const document = (await http.request({ method: 'GET', url: '/docs/json' })).json();
  for (const path of ['/api/v1/orders', '/api/v1/transactions']) {
    const query = document.paths[path].get.parameters.filter((p: { in: string }) => p.in === 'query');
    expect(query.map((p: { name: string }) => p.name).sort()).toEqual(['page', 'pageSize']);
    for (const parameter of query) expect(parameter.required, `${path} ${parameter.name}`).not.toBe(true);
  }
});

describe('GET /orders/{id}', () => {
  it('answers 401 UNAUTHORIZED without a token', async () => {
    expectError(await http.get(`/orders/${randomUUID()}`), 401, 'UNAUTHORIZED');
  });

  for (const id of ['not-a-uuid', '12345', `{${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}}`]) {
    it(`answers a malformed id (${id}) with 400 naming id`, async () => {
      const who = await customer(0);
      expectError(
        await http.get(`/orders/${encodeURIComponent(id)}`, who.headers),
        400,
        'VALIDATION_FAILED',
        'id',
      );
    });
  }

  it('answers an id in URN form (urn:uuid:…) with 400, not 500', async () => {
    const who = await customer(0);
    expectError(
      await http.get(`/orders/urn:uuid:${randomUUID()}`, who.headers),
      400,
      'VALIDATION_FAILED',
      'id',
    );
  });

  it('answers an unknown order and another user’s order alike: 404 ORDER_NOT_FOUND, nothing of it shown', async () => {
    const owner = await customer();
    const stranger = await customer(0);
    const order = (await checkout(owner, randomUUID(), oneCheap())).json();
    const unknown = await http.get(`/orders/${randomUUID()}`, stranger.headers);
    expectError(unknown, 404, 'ORDER_NOT_FOUND');

    // Before and after the owner's read has cached it.
    const before = await http.get(`/orders/${order.id}`, stranger.headers);
    expectError(before, 404, 'ORDER_NOT_FOUND');
    expect((await getJson(`/orders/${order.id}`, owner.headers)).id).toBe(order.id);
    const after = await http.get(`/orders/${order.id}`, stranger.headers);
    expectError(after, 404, 'ORDER_NOT_FOUND');
    for (const response of [before, after]) {
      expect(response.body).toBe(unknown.body);
      expect(response.body).not.toContain(order.id);
    }
  });

  it('answers the own order with its units, and the delivered keys to the owner only', async () => {
    const owner = await customer();
    const stranger = await customer(0);
    const placed = await checkout(owner, randomUUID(), {
      items: [
        { gameId: cheap, quantity: 2 },
        { gameId: other, quantity: 1 },
      ],
    });
    const order = placed.json();
    const [key] = await deliver(order.id, 1);
    const deliveredLine = await shop.db
      .selectFrom('order_units as u')
      .innerJoin('order_lines as l', 'l.id', 'u.line_id')
      .select('l.game_id')
      .where('u.order_id', '=', order.id)
      .where('u.state', '=', 'delivered')
      .executeTakeFirstOrThrow();

    const response = await http.get(`/orders/${order.id}`, owner.headers);
    expect(response.statusCode).toBe(200);
    const view = response.json();
    expect(view).toMatchObject({ id: order.id, status: 'processing', totalCents: 1750, refundedCents: 0 });
    expect(view.items).toHaveLength(2);
    for (const item of view.items) {
      const delivered = item.gameId === deliveredLine.game_id;
      expect(item.delivered).toBe(delivered ? 1 : 0);
      expect(item.keys).toEqual(delivered ? [key] : []);
    }
    // The owner's own upper-case spelling of the id is the same order.
    expect((await getJson(`/orders/${order.id.toUpperCase()}`, owner.headers)).id).toBe(order.id);
    const foreign = await http.get(`/orders/${order.id}`, stranger.headers);
    expectError(foreign, 404, 'ORDER_NOT_FOUND');
    expect(foreign.body).not.toContain(key!);
  });

  it('an order read by its upper-case id shows a refund made after that read', async () => {
    const owner = await customer();
    const order = (await checkout(owner, randomUUID(), oneCheap())).json();
    const upper = `/orders/${order.id.toUpperCase()}`;
    expect((await getJson(upper, owner.headers)).status).toBe('paid');
    expect((await refund(order.id)).statusCode).toBe(200);
    expect((await getJson(`/orders/${order.id}`, owner.headers)).status).toBe('refunded');
    expect((await getJson(upper, owner.headers)).status).toBe('refunded');
  });
});

describe('GET /transactions and GET /me', () => {
  it('answer 401 UNAUTHORIZED without a token', async () => {
    expectError(await http.get('/transactions'), 401, 'UNAUTHORIZED');
    expectError(await http.get('/me'), 401, 'UNAUTHORIZED');
    expectError(await http.get('/me', bearer('forged')), 401, 'UNAUTHORIZED');
  });

  it('list the own ledger newest first, each entry with the balance after it; /me the balance', async () => {
    const who = await customer(0);
    const stranger = await customer(999);
    const reference = `pay-${randomUUID()}`;
    expect((await topUp(who.userId, 3000, reference)).statusCode).toBe(201);
    const order = (await checkout(who, randomUUID(), { items: [{ gameId: cheap, quantity: 2 }] })).json();
    expect((await refund(order.id)).statusCode).toBe(200);

    const ledger = await getJson('/transactions', who.headers);
    expect(ledger).toMatchObject({ page: 1, pageSize: 20, total: 4 });
    expect(
      ledger.items.map((e: Record<string, unknown>) => [
        e.type,
        e.amountCents,
        e.balanceAfterCents,
        e.orderId,
      ]),
    ).toEqual([
      ['refund', 500, 3000, order.id],
      ['refund', 500, 2500, order.id],
      ['purchase', -1000, 2000, order.id],
      ['top_up', 3000, 3000, null],
    ]);
    expect(ledger.items[3]).toEqual({
      id: expect.stringMatching(UUID),
      type: 'top_up',
      amountCents: 3000,
      balanceAfterCents: 3000,
      orderId: null,
      reference,
      createdAt: expect.stringMatching(ISO_DATE),
    });
    for (const entry of ledger.items.slice(0, 3)) expect(entry.reference).toBeNull();
    expect(new Set(ledger.items.map((e: { id: string }) => e.id)).size).toBe(4);
    expect(await balanceOf(who)).toBe(3000);
    const me = await getJson('/me', who.headers);
    expect(me).toMatchObject({ id: who.userId, role: 'customer', balanceCents: 3000 });
    expect((await getJson('/transactions', stranger.headers)).total).toBe(1);
  });

  it('pages with page and pageSize', async () => {
    const who = await customer(0);
    for (const amount of [100, 200, 300]) expect((await topUp(who.userId, amount)).statusCode).toBe(201);
    const amounts = async (query: string) => {
      const page = await getJson(`/transactions?${query}`, who.headers);
      expect(page.total).toBe(3);
      return page.items.map((e: { amountCents: number }) => e.amountCents);
    };
    expect(await amounts('pageSize=2')).toEqual([300, 200]);
    expect(await amounts('page=2&pageSize=2')).toEqual([100]);
    expect(await amounts('page=5&pageSize=2')).toEqual([]);
    expect(await amounts('pageSize=100')).toEqual([300, 200, 100]);
  });

  for (const [query, field] of [
    ['page=0', 'page'],
    ['page=x', 'page'],
    ['page=2.5', 'page'],
    ['pageSize=0', 'pageSize'],
    ['pageSize=101', 'pageSize'],
    ['pageSize=-5', 'pageSize'],
  ] as const) {
    it(`answer ?${query} with 400 naming ${field}`, async () => {
      const who = await customer(0);
      expectError(await http.get(`/transactions?${query}`, who.headers), 400, 'VALIDATION_FAILED', field);
    });
  }
});

describe('POST /admin/users/{id}/top-ups', () => {
  it('answers 201 with the ledger entry and credits the wallet', async () => {
    const who = await customer(0);
    const reference = `pay-${randomUUID()}`;
    const response = await topUp(who.userId, 2500, reference);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const entry = response.json();
    expect(entry).toEqual({
      id: expect.stringMatching(UUID),
      userId: who.userId,
      type: 'top_up',
      amountCents: 2500,
      balanceAfterCents: 2500,
      orderId: null,
      reference,
      createdAt: expect.stringMatching(ISO_DATE),
    });
    expect(await balanceOf(who)).toBe(2500);
    const { userId: _userId, ...asListed } = entry;
    expect((await getJson('/transactions', who.headers)).items).toEqual([asListed]);
  });

  it(`accepts exactly MAX_TOP_UP_CENTS (${MAX_TOP_UP_CENTS}) and a reference of 100 characters`, async () => {
    const who = await customer(0);
    const response = await topUp(who.userId, MAX_TOP_UP_CENTS, 'r'.repeat(100));
    expect(response.statusCode, response.body).toBe(201);
    expect(await balanceOf(who)).toBe(MAX_TOP_UP_CENTS);
  });

  it('a replay of the reference answers 200 with the first entry, byte for byte, and credits nothing more', async () => {
    const who = await customer(0);
    const reference = `pay-${randomUUID()}`;
    const first = await topUp(who.userId, 4000, reference);
    expect(first.statusCode).toBe(201);
    // The wallet moves on; the replay still answers the first entry, not a fresh read.
    expect((await checkout(who, randomUUID(), oneCheap())).statusCode).toBe(201);
    const before = await stateOf(who);

    for (let i = 0; i < 2; i++) {
      const replay = await topUp(who.userId, 4000, reference);
      expect(replay.statusCode).toBe(200);
      expect(replay.body).toBe(first.body);
      expect(replay.json().balanceAfterCents).toBe(4000);
    }
    expect(await stateOf(who)).toEqual(before);
    expect(before.balanceCents).toBe(3500);
  });

  it('the same reference with another amount is 422 IDEMPOTENCY_KEY_REUSED naming reference; nothing changes', async () => {
    const who = await customer(0);
    const reference = `pay-${randomUUID()}`;
    const first = await topUp(who.userId, 1000, reference);
    expect(first.statusCode).toBe(201);
    const before = await stateOf(who);
    expectError(await topUp(who.userId, 1001, reference), 422, 'IDEMPOTENCY_KEY_REUSED', 'reference');
    expect(await stateOf(who)).toEqual(before);
    const replay = await topUp(who.userId, 1000, reference);
    expect(replay.statusCode).toBe(200);
    expect(replay.body).toBe(first.body);
  });

  it('the same reference for another user is 422 IDEMPOTENCY_KEY_REUSED; neither wallet changes', async () => {
    const [first, second] = [await customer(0), await customer(0)];
    const reference = `pay-${randomUUID()}`;
    expect((await topUp(first.userId, 1000, reference)).statusCode).toBe(201);
    const before = [await stateOf(first), await stateOf(second)];
    expectError(await topUp(second.userId, 1000, reference), 422, 'IDEMPOTENCY_KEY_REUSED', 'reference');
    expect([await stateOf(first), await stateOf(second)]).toEqual(before);
  });

  interface TopUpRefusal {
    name: string;
    send: (who: Customer, reference: string) => Promise<Response>;
    status: number;
    code: string;
    field?: string;
    /** The reference sent was valid: after the refusal it credits the wallet. */
    referenceReusable: boolean;
  }
  const post = (who: Customer, body: unknown, as: Headers = admin) =>
    http.post(`/admin/users/${who.userId}/top-ups`, body, as);
  const raw = (who: Customer, payload: string, contentType: string) =>
    http.request({
      method: 'POST',
      url: api(`/admin/users/${who.userId}/top-ups`),
      headers: { ...admin, 'content-type': contentType },
      payload,
    });

  const topUpRefusals: TopUpRefusal[] = [
    {
      name: 'as a customer: 403 FORBIDDEN',
      send: (who, reference) => post(who, { amountCents: 500, reference }, who.headers),
      status: 403,
      code: 'FORBIDDEN',
      referenceReusable: true,
    },
    {
      name: 'without a token: 401 UNAUTHORIZED',
      send: (who, reference) => post(who, { amountCents: 500, reference }, {}),
      status: 401,
      code: 'UNAUTHORIZED',
      referenceReusable: true,
    },
    {
      name: 'with a forged token: 401 UNAUTHORIZED',
      send: (who, reference) => post(who, { amountCents: 500, reference }, bearer('a.b.c')),
      status: 401,
      code: 'UNAUTHORIZED',
      referenceReusable: true,
    },
    ...(
      [
        ['0', 0],
        ['negative', -500],
        ['fractional', 12.5],
        ['a string', '500'],
        ['null', null],
        [`above MAX_TOP_UP_CENTS`, MAX_TOP_UP_CENTS + 1],
      ] as const
    ).map(([what, amountCents]): TopUpRefusal => ({
      name: `an amount ${what}: 400 naming amountCents`,
      send: (who, reference) => post(who, { amountCents, reference }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'amountCents',
      referenceReusable: true,
    })),
    {
      name: 'no amount: 400 naming amountCents',
      send: (who, reference) => post(who, { reference }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'amountCents',
      referenceReusable: true,
    },
    {
      name: 'no reference: 400 naming reference',
      send: (who) => post(who, { amountCents: 500 }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'reference',
      referenceReusable: false,
    },
    ...(
      [
        ['empty', ''],
        ['blank', '   '],
        ['of 101 characters', 'r'.repeat(101)],
        ['a number', 42],
      ] as const
    ).map(([what, reference]): TopUpRefusal => ({
      name: `a reference ${what}: 400 naming reference`,
      send: (who) => post(who, { amountCents: 500, reference }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'reference',
      referenceReusable: false,
    })),
    {
      name: 'a user id that is not a UUID: 400 naming id',
      send: (_who, reference) =>
        http.post('/admin/users/nobody/top-ups', { amountCents: 500, reference }, admin),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'id',
      referenceReusable: true,
    },
    {
      name: 'a user id in URN form (urn:uuid:…): 400, not 500',
      send: (who, reference) =>
        http.post(`/admin/users/urn:uuid:${who.userId}/top-ups`, { amountCents: 500, reference }, admin),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'id',
      referenceReusable: true,
    },
    {
      name: 'an unknown user: 404 USER_NOT_FOUND',
      send: (_who, reference) =>
        http.post(`/admin/users/${randomUUID()}/top-ups`, { amountCents: 500, reference }, admin),
      status: 404,
      code: 'USER_NOT_FOUND',
      referenceReusable: true,
    },
    {
      name: 'text/plain: 415 UNSUPPORTED_MEDIA_TYPE',
      send: (who, reference) => raw(who, JSON.stringify({ amountCents: 500, reference }), 'text/plain'),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      referenceReusable: true,
    },
    {
      name: 'malformed JSON: 400 INVALID_JSON',
      send: (who) => raw(who, '{"amountCents": 500,', 'application/json'),
      status: 400,
      code: 'INVALID_JSON',
      referenceReusable: true,
    },
    {
      name: 'a body over 1 MiB: 413 PAYLOAD_TOO_LARGE',
      send: (who, reference) =>
        raw(
          who,
          JSON.stringify({ amountCents: 500, reference, pad: 'x'.repeat(BODY_LIMIT_BYTES) }),
          'application/json',
        ),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      referenceReusable: true,
    },
  ];

  for (const c of topUpRefusals) {
    it(`refuses ${c.name}, and changes nothing`, async () => {
      const who = await customer(700);
      const before = await stateOf(who);
      const reference = `pay-${randomUUID()}`;
      expectError(await c.send(who, reference), c.status, c.code, c.field);
      expect(await stateOf(who)).toEqual(before);
      const stored = await shop.db
        .selectFrom('transactions')
        .select('id')
        .where('reference', '=', reference)
        .execute();
      expect(stored).toEqual([]);

      // A refusal is not stored: a valid top-up then credits (with the same reference when it was valid).
      const credited = await topUp(who.userId, 300, c.referenceReusable ? reference : `pay-${randomUUID()}`);
      expect(credited.statusCode, credited.body).toBe(201);
      expect(await balanceOf(who)).toBe(1000);
    });
  }

  it('refuses an admin demoted since the token was issued: 403 FORBIDDEN, nothing credited', async () => {
    const who = await customer(0);
    const { user } = await shop.useCases.createAdmin({
      email: `demoted-${randomUUID()}@example.com`,
      password: 'admin password',
    });
    const { accessToken } = await shop.app!.signAccessToken({ sub: user.id, role: 'admin' });
    await shop.db.updateTable('users').set({ role: 'customer' }).where('id', '=', user.id).execute();
    expectError(await topUp(who.userId, 500, randomUUID(), bearer(accessToken)), 403, 'FORBIDDEN');
    expect(await balanceOf(who)).toBe(0);
  });
});

describe('POST /admin/orders/{id}/refund', () => {
  async function paidOrder(who: Customer) {
    const response = await checkout(who, randomUUID(), {
      items: [
        { gameId: cheap, quantity: 2 },
        { gameId: other, quantity: 1 },
      ],
    });
    expect(response.statusCode).toBe(201);
    return response.json() as { id: string; totalCents: number };
  }

  interface RefundRefusal {
    name: string;
    send: (who: Customer, orderId: string) => Promise<Response>;
    status: number;
    code: string;
    field?: string;
  }
  const raw = (orderId: string, payload: string | undefined, contentType?: string) =>
    http.request({
      method: 'POST',
      url: api(`/admin/orders/${orderId}/refund`),
      headers: contentType ? { ...admin, 'content-type': contentType } : admin,
      ...(payload !== undefined ? { payload } : {}),
    });

  const refundRefusals: RefundRefusal[] = [
    {
      name: 'as the customer who owns it: 403 FORBIDDEN',
      send: (who, orderId) => refund(orderId, {}, who.headers),
      status: 403,
      code: 'FORBIDDEN',
    },
    {
      name: 'without a token: 401 UNAUTHORIZED',
      send: (_who, orderId) => refund(orderId, {}, {}),
      status: 401,
      code: 'UNAUTHORIZED',
    },
    {
      name: 'an unknown order: 404 ORDER_NOT_FOUND',
      send: () => refund(randomUUID(), {}),
      status: 404,
      code: 'ORDER_NOT_FOUND',
    },
    {
      name: 'an order id that is not a UUID: 400 naming id',
      send: () => refund('order-1', {}),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'id',
    },
    {
      name: 'an order id in URN form (urn:uuid:…): 400, not 500',
      send: (_who, orderId) => refund(`urn:uuid:${orderId}`, {}),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'id',
    },
    {
      name: 'all as a string (no coercion): 400 naming all',
      send: (_who, orderId) => refund(orderId, { all: 'true' }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'all',
    },
    {
      name: 'all as a number: 400 naming all',
      send: (_who, orderId) => refund(orderId, { all: 1 }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'all',
    },
    {
      name: 'all null: 400 naming all',
      send: (_who, orderId) => refund(orderId, { all: null }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'all',
    },
    {
      name: 'a JSON array as the body: 400 naming the body',
      send: (_who, orderId) => raw(orderId, '[]', 'application/json'),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'body',
    },
    {
      name: 'malformed JSON: 400 INVALID_JSON',
      send: (_who, orderId) => raw(orderId, '{"all": tru', 'application/json'),
      status: 400,
      code: 'INVALID_JSON',
    },
    {
      name: 'text/plain: 415 UNSUPPORTED_MEDIA_TYPE',
      send: (_who, orderId) => raw(orderId, '{}', 'text/plain'),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'a body over 1 MiB: 413 PAYLOAD_TOO_LARGE',
      send: (_who, orderId) =>
        raw(orderId, JSON.stringify({ all: true, pad: 'x'.repeat(BODY_LIMIT_BYTES) }), 'application/json'),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
  ];

  for (const c of refundRefusals) {
    it(`refuses ${c.name}, and refunds nothing`, async () => {
      const who = await customer();
      const order = await paidOrder(who);
      const before = await stateOf(who);
      expectError(await c.send(who, order.id), c.status, c.code, c.field);
      expect(await stateOf(who)).toEqual(before);
      expect(before.balanceCents).toBe(START_BALANCE - order.totalCents);
    });
  }

  it('without a body refunds the undelivered units, as {} does; the document marks the body optional', async () => {
    const document = (await http.request({ method: 'GET', url: '/docs/json' })).json();
    expect(document.paths['/api/v1/admin/orders/{id}/refund'].post.requestBody.required).toBe(false);
    const who = await customer();
    const order = await paidOrder(who);
    const answer = await http.request({
      method: 'POST',
      url: `/api/v1/admin/orders/${order.id}/refund`,
      headers: admin,
    });
    expect(answer.statusCode, answer.body).toBe(200);
    expect(answer.json()).toMatchObject({
      id: order.id,
      status: 'refunded',
      refundedCents: order.totalCents,
    });
    expect((await stateOf(who)).balanceCents).toBe(START_BALANCE);
  });

  it('refunds every pending unit once: 200 with the order, the wallet credited exactly once', async () => {
    const who = await customer();
    const order = await paidOrder(who);
    // Fill the caches first: the refund must show through them at once.
    await getJson('/orders', who.headers);
    await getJson(`/orders/${order.id}`, who.headers);

    const first = await refund(order.id, {});
    expect(first.statusCode, first.body).toBe(200);
    const refunded = first.json();
    expect(refunded).toMatchObject({
      id: order.id,
      userId: who.userId,
      status: 'refunded',
      totalCents: 1750,
      refundedCents: 1750,
      currency: 'EUR',
      items: [
        { gameId: cheap, quantity: 2, delivered: 0, refunded: 2 },
        { gameId: other, quantity: 1, delivered: 0, refunded: 1 },
      ],
    });
    expect(await balanceOf(who)).toBe(START_BALANCE);
    const ledger = await getJson('/transactions', who.headers);
    const refunds = ledger.items.filter((e: { type: string }) => e.type === 'refund');
    expect(
      refunds.map((e: { amountCents: number; orderId: string }) => [e.amountCents, e.orderId]).sort(),
    ).toEqual(
      [
        [500, order.id],
        [500, order.id],
        [750, order.id],
      ].sort(),
    );
    expect(ledger.items[0].balanceAfterCents).toBe(START_BALANCE);
    expect(await getJson(`/orders/${order.id}`, who.headers)).toMatchObject({
      status: 'refunded',
      refundedCents: 1750,
    });
    expect((await getJson('/orders', who.headers)).items[0]).toMatchObject({
      id: order.id,
      status: 'refunded',
    });

    // Again, and with `all`: nothing more to refund; the same order answers, nothing is credited.
    const after = await stateOf(who);
    for (const body of [{}, { all: false }, { all: true }]) {
      const again = await refund(order.id, body);
      expect(again.statusCode, again.body).toBe(200);
      expect(again.json()).toEqual(refunded);
    }
    expect(await stateOf(who)).toEqual(after);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });

  it('{} leaves delivered units alone (partially_refunded); {all: true} then refunds them too', async () => {
    const who = await customer();
    const order = (await checkout(who, randomUUID(), { items: [{ gameId: cheap, quantity: 3 }] })).json();
    const [key] = await deliver(order.id, 1);

    const partial = await refund(order.id, { unknownField: true });
    expect(partial.statusCode, partial.body).toBe(200);
    expect(partial.json()).toMatchObject({
      status: 'partially_refunded',
      refundedCents: 1000,
      items: [{ quantity: 3, delivered: 1, refunded: 2 }],
    });
    expect(await balanceOf(who)).toBe(START_BALANCE - 500);
    const view = await getJson(`/orders/${order.id}`, who.headers);
    expect(view).toMatchObject({ status: 'partially_refunded', items: [{ keys: [key] }] });

    const again = await refund(order.id, {});
    expect(again.json()).toEqual(partial.json());
    expect(await balanceOf(who)).toBe(START_BALANCE - 500);

    const all = await refund(order.id, { all: true });
    expect(all.statusCode).toBe(200);
    expect(all.json()).toMatchObject({
      status: 'refunded',
      refundedCents: 1500,
      items: [{ delivered: 0, refunded: 3 }],
    });
    expect(await balanceOf(who)).toBe(START_BALANCE);
    const refunds = (await getJson('/transactions', who.headers)).items.filter(
      (e: { type: string }) => e.type === 'refund',
    );
    expect(refunds).toHaveLength(3);
    // A refunded unit shows its key no more.
    expect((await getJson(`/orders/${order.id}`, who.headers)).items[0].keys).toEqual([]);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });

  it('refuses an admin demoted since the token was issued: 403 FORBIDDEN, nothing refunded', async () => {
    const who = await customer();
    const order = await paidOrder(who);
    const { user } = await shop.useCases.createAdmin({
      email: `demoted-${randomUUID()}@example.com`,
      password: 'admin password',
    });
    const { accessToken } = await shop.app!.signAccessToken({ sub: user.id, role: 'admin' });
    await shop.db.updateTable('users').set({ role: 'customer' }).where('id', '=', user.id).execute();
    const before = await stateOf(who);
    expectError(await refund(order.id, {}, bearer(accessToken)), 403, 'FORBIDDEN');
    expect(await stateOf(who)).toEqual(before);
  });
});
