import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { prettyLogs } from '../../src/logger.js';

const run = promisify(execFile);
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const LOGGER = pathToFileURL(fileURLToPath(new URL('../../src/logger.ts', import.meta.url))).href;

it('picks pretty logs only outside production on a terminal, unless LOG_FORMAT says', () => {
  expect(prettyLogs(undefined, true)).toBe(false);
  expect(prettyLogs(undefined, false)).toBe(process.stdout.isTTY === true);
  expect(prettyLogs('pretty', true)).toBe(true);
  expect(prettyLogs('json', false)).toBe(false);
  expect(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
  expect(() => loadConfig({ LOG_FORMAT: 'yaml' })).toThrow(/LOG_FORMAT must be json or pretty/);
});

it('writes one readable line per event when pretty, secrets still redacted; JSON lines otherwise', async () => {
  const script = (pretty: boolean) =>
    `const { createLogger } = await import(${JSON.stringify(LOGGER)});
     const log = createLogger('info', { pretty: ${pretty} });
     log.info({ password: 'hunter2', route: '/games' }, 'request completed');`;
  const folder = await mkdtemp(path.join(tmpdir(), 'keyshop-logs-'));
  const probe = async (pretty: boolean) => {
    const file = path.join(folder, `probe-${pretty}.mjs`);
    await writeFile(file, script(pretty));
    return run(process.execPath, ['--import', TSX, file]);
  };
  const pretty = await probe(true);
  const lines = pretty.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/INFO.*request completed/);
  expect(lines[0]).toContain('[redacted]');
  expect(lines[0]).not.toContain('hunter2');
  expect(lines[0]!.startsWith('{')).toBe(false);

  const json = await probe(false);
  await rm(folder, { recursive: true, force: true });
  const line = JSON.parse(json.stdout.trim()) as Record<string, unknown>;
  expect(line).toMatchObject({ level: 30, msg: 'request completed', password: '[redacted]' });
});
