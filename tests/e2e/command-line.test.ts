import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const run = promisify(execFile);

/** One of the shop's commands as `npm run` starts it; its exit code and what it printed. */
async function command(script: string, args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', TSX, path.join(REPO, script), ...args],
      // No DATABASE_URL and a closed port: a command that went past its command line would fail differently.
      { cwd: REPO, env: { PATH: process.env.PATH, DATABASE_URL: '', PORT: '1' }, timeout: 30_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const COMMANDS = [
  { script: 'src/main.ts', usage: /^Usage: keyshop \[--role all\|api\|worker\]/ },
  { script: 'src/cli/migrate.ts', usage: /^Usage: npm run migrate/ },
  { script: 'src/cli/admin-create.ts', usage: /^Usage: npm run admin:create -- --email E --password P/ },
  { script: 'src/cli/openapi.ts', usage: /^Usage: npm run openapi/ },
  { script: 'src/cli/g2a-simulator.ts', usage: /^Usage: npm run g2a:simulator/ },
];

describe.each(COMMANDS)('$script', ({ script, usage }) => {
  it('--help prints the usage and does nothing else', async () => {
    const openapiBefore = (await stat(path.join(REPO, 'openapi.yaml'))).mtimeMs;
    const result = await command(script, ['--help']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(usage);
    expect((await stat(path.join(REPO, 'openapi.yaml'))).mtimeMs).toBe(openapiBefore);
  }, 40_000);

  it('an unknown flag is named with the usage, exit 2, no stack trace', async () => {
    const result = await command(script, ['--colour', 'red']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Unknown option '--colour'/);
    expect(result.stderr).toMatch(new RegExp(usage.source.replace('^', '\\n\\n')));
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 40_000);
});

it('a missing or wrong value is named with the usage, exit 2', async () => {
  const [role, admin, port] = await Promise.all([
    command('src/main.ts', ['--role', 'cashier']),
    command('src/cli/admin-create.ts', ['--email', 'ops@example.com']),
    command('src/cli/g2a-simulator.ts', ['--port', '70000']),
  ]);
  expect(role.code).toBe(2);
  expect(role.stderr).toMatch(/^--role must be one of all, api, worker\n\nUsage: keyshop/);
  expect(admin.code).toBe(2);
  expect(admin.stderr).toMatch(/^--email and --password are both required\n\nUsage: npm run admin:create/);
  expect(port.code).toBe(2);
  expect(port.stderr).toMatch(/^--port must be an integer from 0 to 65535\n\nUsage: npm run g2a:simulator/);
}, 40_000);
