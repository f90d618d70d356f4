import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

const common: Options = { useDefaults: true, allErrors: false, strict: false };

/**
 * Bodies are never coerced (`"100"` is not a number) and unknown fields are dropped; query strings, params and
 * headers arrive as text, so they are coerced.
 */
export function registerValidators(app: FastifyInstance): void {
  const bodyAjv = addFormats.default(new Ajv({ ...common, coerceTypes: false, removeAdditional: 'all' }));
  const textAjv = addFormats.default(new Ajv({ ...common, coerceTypes: 'array', removeAdditional: true }));
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? bodyAjv.compile(schema) : textAjv.compile(schema),
  );
}
