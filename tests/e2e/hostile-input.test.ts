import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ApiClient, type Headers } from '../support/http.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

// Values no route may answer with a 500: U+0000 (PostgreSQL refuses it), a lone surrogate (not Unicode; a
// jsonb insert refuses it), Infinity and integers past any column. Every operation of the API document gets
// each of them in every string and integer it reads — path, query and body — from an administrator (so no
// route stops at its auth check first) who also sends a live guest session. Each must be 400
// VALIDATION_FAILED naming the field, and nothing may change.

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  $ref?: string;
  format?: string;
  anyOf?: Schema[];
}
interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  schema: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema: Schema }> };
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

let shop: TestShop;
let http: ApiClient;
let headers: Headers;
let document: Document;

const UUID = '00000000-0000-4000-8000-000000000000';

beforeAll(async () => {
  shop = await startTestShop({ role: 'api', env: { AUTH_RATE_LIMIT_PER_IP: '100000' } });
  http = new ApiClient(shop);
  headers = { ...(await http.admin()), ...(await http.guest()) };
  document = shop.app!.swagger() as unknown as Document;
});
afterAll(() => shop?.dispose());

function resolve(schema: Schema): Schema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.split('/').pop()!;
  return resolve(document.components?.schemas?.[name] ?? {});
}

const typesOf = (schema: Schema) => [schema.type ?? []].flat();

/** A valid-looking value for a schema, so that only the hostile field is wrong. */
function plausible(schema: Schema): unknown {
  const s = resolve(schema);
  if (s.anyOf) return plausible(s.anyOf[0]!);
  if (typesOf(s).includes('object'))
    return Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, plausible(v)]));
  if (typesOf(s).includes('array')) return [plausible(s.items ?? {})];
  if (typesOf(s).includes('integer') || typesOf(s).includes('number')) return 1;
  if (typesOf(s).includes('boolean')) return true;
  return s.format === 'uuid' ? UUID : 'plausible';
}

interface Field {
  path: string[];
  kind: 'string' | 'integer';
}

/** Every string and integer a body schema reads, with its path (arrays through their first item). */
function fieldsOf(schema: Schema, path: string[] = []): Field[] {
  const s = resolve(schema);
  if (s.anyOf) return s.anyOf.flatMap((option) => fieldsOf(option, path));
  if (typesOf(s).includes('object'))
    return Object.entries(s.properties ?? {}).flatMap(([k, v]) => fieldsOf(v, [...path, k]));
  if (typesOf(s).includes('array')) return fieldsOf(s.items ?? {}, [...path, '0']);
  if (typesOf(s).includes('string')) return [{ path, kind: 'string' }];
  if (typesOf(s).includes('integer')) return [{ path, kind: 'integer' }];
  return [];
}

function withValue(body: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const copy = (Array.isArray(body) ? [...body] : { ...(body as object) }) as Record<string, unknown>;
  copy[head] = withValue(copy[head] ?? (rest[0] === '0' ? [] : {}), rest, value);
  return copy;
}

const HOSTILE_STRINGS = { nul: 'a\u0000b', 'lone surrogate': '\ud800x' } as const;
const HOSTILE_QUERY_STRINGS = { nul: 'a%00b' } as const;
const HOSTILE_INTEGERS = { Infinity: 'Infinity', '1e20': '99999999999999999999', '-Infinity': '-Infinity' };

interface Case {
  name: string;
  method: string;
  url: string;
  payload?: string;
  field: string;
}

function cases(): Case[] {
  const all: Case[] = [];
  for (const [template, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const params = operation.parameters ?? [];
      const pathParams = params.filter((p) => p.in === 'path');
      const query = params.filter((p) => p.in === 'query');
      const urlWith = (pathValue?: [string, string], queryValue?: [string, string]) => {
        let url = template;
        for (const p of pathParams)
          url = url.replace(
            `{${p.name}}`,
            pathValue?.[0] === p.name ? pathValue[1] : encodeURIComponent(String(plausible(p.schema))),
          );
        const search = queryValue ? `?${queryValue[0]}=${queryValue[1]}` : '';
        return `${url}${search}`;
      };
      const bodySchema = operation.requestBody?.content?.['application/json']?.schema;
      const body = bodySchema ? JSON.stringify(plausible(bodySchema)) : undefined;
      const base = { method: method.toUpperCase(), ...(body ? { payload: body } : {}) };
      for (const p of pathParams)
        all.push({ ...base, name: `${p.name} with U+0000`, url: urlWith([p.name, 'a%00b']), field: p.name });
      for (const p of query) {
        const kinds = typesOf(resolve(p.schema));
        const values: Record<string, string> = kinds.includes('integer')
          ? HOSTILE_INTEGERS
          : kinds.includes('string')
            ? HOSTILE_QUERY_STRINGS
            : {};
        for (const [label, value] of Object.entries(values))
          all.push({
            ...base,
            name: `?${p.name}=${label}`,
            url: urlWith(undefined, [p.name, value]),
            field: p.name,
          });
      }
      if (bodySchema) {
        for (const field of fieldsOf(bodySchema)) {
          const values: Record<string, unknown> =
            field.kind === 'string' ? HOSTILE_STRINGS : { '1e20': 1e20, '-1e20': -1e20 };
          for (const [label, value] of Object.entries(values))
            all.push({
              ...base,
              name: `body ${field.path.join('.')} = ${label}`,
              url: urlWith(),
              payload: JSON.stringify(withValue(plausible(bodySchema), field.path, value)),
              field: field.path.join('.'),
            });
        }
      }
    }
  }
  return all;
}

/** Routes that check a signature over the raw body before reading it: a hostile body is refused as unsigned. */
const SIGNED = new Set(['/webhooks/g2a']);

async function counts() {
  const { rows } = await sql<{ users: string; games: string; lines: string; ledger: string }>`
    SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM games) AS games,
            (SELECT count(*) FROM cart_items) AS lines, (SELECT count(*) FROM transactions) AS ledger`.execute(
    shop.db,
  );
  return rows[0];
}

describe('hostile values in every field of every route of the API document', () => {
  it('are refused with 400 VALIDATION_FAILED naming the field, and change nothing', async () => {
    const table = cases();
    expect(table.length).toBeGreaterThan(60);
    const before = await counts();
    const wrong: string[] = [];
    for (const c of table) {
      const path = c.url.replace(/^\/api\/v1/, '');
      const response = await shop.app!.inject({
        method: c.method as 'GET',
        url: c.url.startsWith('/api/v1') ? c.url : c.url,
        headers: {
          ...headers,
          ...(c.payload ? { 'content-type': 'application/json' } : {}),
          'idempotency-key': UUID,
        },
        ...(c.payload ? { payload: c.payload } : {}),
      });
      const body = response.json<{ code?: string; field?: string }>();
      const signed = [...SIGNED].some((s) => path.startsWith(s));
      const fine = signed
        ? response.statusCode === 401 || (response.statusCode === 400 && body.code === 'VALIDATION_FAILED')
        : response.statusCode === 400 && body.code === 'VALIDATION_FAILED' && body.field !== undefined;
      if (!fine)
        wrong.push(`${c.method} ${c.url} (${c.name}): ${response.statusCode} ${response.body.slice(0, 160)}`);
    }
    expect(wrong).toEqual([]);
    expect(await counts()).toEqual(before);
  });
});

describe('the requests the attack sent', () => {
  const email = (local: string) => `${local}@example.com`;

  it.each([
    ['GET', '/games?q=%00', 'q'],
    ['GET', '/games/a%00b', 'idOrSlug'],
    ['GET', '/games?page=Infinity', 'page'],
    ['GET', '/games?page=99999999999999999999', 'page'],
    ['GET', '/games?maxPriceCents=99999999999999999999', 'maxPriceCents'],
    ['GET', '/wishlist?page=Infinity', 'page'],
  ])('%s %s is 400 naming %s', async (method, path, field) => {
    const response = await http.request({ method: method as 'GET', url: api(path), headers });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', field });
  });

  it.each([
    ['email', { email: email('a\u0000b'), password: 'long enough' }],
    ['email', { email: email('\ud800x'), password: 'long enough' }],
    ['nickname', { email: email('nick'), password: 'long enough', nickname: 'a\u0000' }],
    ['firstName', { email: email('first'), password: 'long enough', firstName: 'a\u0000' }],
    ['lastName', { email: email('last'), password: 'long enough', lastName: '\udfff' }],
  ])('a sign-up with a hostile %s is 400 and creates no account', async (field, body) => {
    const before = await counts();
    const response = await http.post('/auth/register', body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', field });
    expect(await counts()).toEqual(before);
  });

  it('a sign-in with U+0000 in the e-mail is 400', async () => {
    const response = await http.post('/auth/login', { email: email('a\u0000b'), password: 'long enough' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'email' });
  });

  it('a lone surrogate written as an escape in raw JSON is refused too', async () => {
    const response = await http.request({
      method: 'POST',
      url: api('/auth/register'),
      headers: { 'content-type': 'application/json' },
      payload: '{"email":"\\ud800@example.com","password":"long enough"}',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'email' });
  });

  it('a well-formed pair of surrogates (an emoji) is a character like any other', async () => {
    const response = await http.post('/auth/register', {
      email: email(`emoji-${Date.now()}`),
      password: 'long enough',
      nickname: 'gamer 🎮',
    });
    expect(response.statusCode).toBe(201);
    expect(response.json().user.nickname).toBe('gamer 🎮');
  });
});

describe('strings deep inside a body', () => {
  it('a U+0000 at any depth of a JSON body is refused with its path', async () => {
    let nested: unknown = 'a\u0000b';
    for (let depth = 0; depth < 200; depth++) nested = { inner: nested };
    const response = await http.post('/auth/register', {
      email: 'deep@example.com',
      password: 'long enough',
      extra: nested,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(response.json().field).toMatch(/^extra(\.inner){200}$/);
  });

  it('a U+0000 in a key of a JSON body is refused', async () => {
    const response = await http.post('/auth/register', {
      email: 'key@example.com',
      password: 'long enough',
      'x\u0000': 1,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'x\u0000' });
  });
});
