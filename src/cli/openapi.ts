import { writeFile } from 'node:fs/promises';
import { renderOpenApiYaml } from '../adapters/http/openapi-document.js';
import { readCommandLine } from './command-line.js';

readCommandLine(
  `Usage: npm run openapi   (built: node dist/cli/openapi.js)
Writes openapi.yaml, the API's OpenAPI 3 document, from the routes' schemas.`,
  {},
);

const target = new URL('../../openapi.yaml', import.meta.url);
await writeFile(target, await renderOpenApiYaml());
console.log(`wrote ${target.pathname}`);
