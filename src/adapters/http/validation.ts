import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../../domain/errors.js';

// `strictNumbers`: `Infinity` and `NaN` are never numbers (Ajv takes `?page=Infinity` as an integer otherwise).
const common: Options = { useDefaults: true, allErrors: false, strict: false, strictNumbers: true };

/**
 * A UUID as PostgreSQL reads it: ajv-formats' `uuid` also takes `urn:uuid:…`, which the database refuses (a
 * 500 where a 400 is due).
 */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** PostgreSQL's `integer`: an integer a schema leaves unbounded is kept inside it, so no column overflows. */
const INT4_MIN = -2_147_483_648;
const INT4_MAX = 2_147_483_647;

function withFormats(ajv: Ajv): Ajv {
  return addFormats.default(ajv).addFormat('uuid', UUID);
}

/**
 * A copy of `schema` in which every integer without a bound gets PostgreSQL's: `?page=99999999999999999999` is
 * a 400, not an overflow in the database. Routes still set the bounds their domain wants (and the API
 * document shows); this is the floor under every one of them.
 */
export function boundIntegers(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object') return schema;
  // The same schema object compiles to the same copy: Ajv refuses a second schema with an `$id` it has seen.
  let copy = boundCopies.get(schema);
  if (!copy) boundCopies.set(schema, (copy = boundCopy(schema)));
  return copy;
}

const boundCopies = new WeakMap<object, unknown>();

function boundCopy(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(boundIntegers);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = boundCopy(value);
  const types = [copy.type].flat();
  if (types.includes('integer')) {
    copy.maximum ??= INT4_MAX;
    copy.minimum ??= INT4_MIN;
  }
  return copy;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The first top-level field of coerced text (query, params, headers) that became Infinity or NaN. */
function nonFiniteField(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  for (const [key, value] of Object.entries(data)) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === 'number' && !Number.isFinite(v))) return key;
  }
  return undefined;
}

/** Why a string cannot be stored or sent on, if it cannot: PostgreSQL refuses U+0000, JSON refuses a lone surrogate. */
function unfitString(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain U+0000';
  if (LONE_SURROGATE.test(value)) return 'must not contain a lone surrogate (not valid Unicode)';
  return undefined;
}

/**
 * The path of the first string in `value` (keys included) that is unfit, with the reason; undefined when all
 * are fit. Walks with a stack of its own, to any depth: a body is at most 1 MiB, and nesting must not hide one.
 */
function findUnfitString(value: unknown): { field: string; reason: string } | undefined {
  const pending: [unknown, string][] = [[value, '']];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'string') {
      const reason = unfitString(item);
      if (reason) return { field: path, reason };
    } else if (item !== null && typeof item === 'object') {
      const entries = Object.entries(item);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const field = path ? `${path}.${key}` : key;
        const keyReason = unfitString(key);
        if (keyReason) return { field, reason: keyReason };
        pending.push([child, field]);
      }
    }
  }
  return undefined;
}

/** Refuses a request any of whose strings (query, path, body, keys included) cannot be stored: 400 naming it. */
const PARTS = ['querystring', 'params', 'body'] as const;

/** The first unfit string of a request as the error that refuses it, if any. */
function unfitStringError(request: FastifyRequest): DomainError | undefined {
  for (const part of PARTS) {
    const found = findUnfitString(part === 'querystring' ? request.query : request[part]);
    if (found) {
      // A path parameter named `*` (a static folder's wildcard) is the path itself to a client.
      const field = found.field === '*' ? 'path' : found.field || part;
      const where = found.field ? `${part}.${field}` : part;
      return new DomainError('VALIDATION_FAILED', `${where} ${found.reason}`, { field });
    }
  }
  return undefined;
}

/**
 * Bodies are never coerced (`"100"` is not a number) and unknown fields are dropped; query strings, params and
 * headers arrive as text, so they are coerced. Before any schema runs, every string of every route is checked
 * once for what no schema says and nothing downstream can hold (U+0000, lone surrogates).
 */
export function registerValidators(app: FastifyInstance): void {
  const bodyAjv = withFormats(new Ajv({ ...common, coerceTypes: false, removeAdditional: 'all' }));
  const textAjv = withFormats(new Ajv({ ...common, coerceTypes: 'array', removeAdditional: true }));
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const validate = (httpPart === 'body' ? bodyAjv : textAjv).compile(boundIntegers(schema) as object);
    if (httpPart === 'body') return validate;
    // Ajv coerces the text `Infinity` to a number that then passes `integer` and `maximum`: refuse it after.
    const checked = (data: unknown) => {
      if (!validate(data)) {
        checked.errors = validate.errors;
        return false;
      }
      const field = nonFiniteField(data);
      if (field === undefined) return true;
      return {
        error: new DomainError('VALIDATION_FAILED', `${httpPart}.${field} must be a finite number`, {
          field,
        }),
      };
    };
    checked.errors = validate.errors;
    return checked;
  });
  // A callback hook, not an async one: no promise per request on every route.
  app.addHook('preValidation', (request, _reply, done) => done(unfitStringError(request)));
}
