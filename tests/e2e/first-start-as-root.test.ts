import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const folders: string[] = [];
afterAll(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

/**
 * `npm start` as root from a private folder (mode 0700, like /root): embedded PostgreSQL would run as the
 * `postgres` user, who cannot enter it. The start must end with one line saying what to do, not a crash.
 */
it.runIf(process.getuid?.() === 0)(
  'started by root in a mode-0700 folder, exits with one line saying what to do',
  async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'keyshop-root-'));
    folders.push(home);
    expect((await stat(home)).mode & 0o777).toBe(0o700);
    const child = spawn(process.execPath, ['--import', TSX, path.join(REPO, 'src/main.ts')], {
      cwd: home,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        PORT: String(await freePort()),
        LOG_LEVEL: 'warn',
        SYNC_SCHEDULES: 'off',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);

    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^keyshop: embedded PostgreSQL runs as the `postgres` user/);
    expect(lines[0]).toContain(home);
    expect(lines[0]).toContain('DATABASE_URL');
    expect(stderr).not.toMatch(/EACCES|\n\s+at /);
    console.info(lines[0]);
    expect(stdout).not.toMatch(/"level":(50|60)/);
  },
  90_000,
);
