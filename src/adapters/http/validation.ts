import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

const common: Options = { useDefaults: true, allErrors: false, strict: false };

/**
 * A UUID as PostgreSQL reads it: ajv-formats' `uuid` also takes `urn:uuid:…`, which the database refuses (a
 * 500 where a 400 is due).
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function withFormats(ajv: Ajv): Ajv {
  return addFormats.default(ajv).addFormat('uuid', UUID);
}

/**
 * Bodies are never coerced (`"100"` is not a number) and unknown fields are dropped; query strings, params and
 * headers arrive as text, so they are coerced.
 */
export function registerValidators(app: FastifyInstance): void {
  const bodyAjv = withFormats(new Ajv({ ...common, coerceTypes: false, removeAdditional: 'all' }));
  const textAjv = withFormats(new Ajv({ ...common, coerceTypes: 'array', removeAdditional: true }));
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? bodyAjv.compile(schema) : textAjv.compile(schema),
  );
}
