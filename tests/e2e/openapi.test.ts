import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { renderOpenApiYaml } from '../../src/adapters/http/openapi-document.js';

it('openapi.yaml is the document the route schemas generate (run `npm run openapi` after changing a route)', async () => {
  const committed = await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8');
  expect(committed).toBe(await renderOpenApiYaml());
});

it('documents every route with a summary and the shared error body', async () => {
  const yaml = await renderOpenApiYaml();
  expect(yaml).toContain('openapi: 3.1.0');
  expect(yaml).toContain('/api/v1/auth/register');
  expect(yaml).toContain('ErrorResponse');
});
