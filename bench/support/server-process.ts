import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  /** The last lines the process wrote (for failure reports). */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within the grace period. Idempotent. */
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  name: string;
  /** A TypeScript entry point, relative to the repository root. */
  script: string;
  args?: string[];
  /** Added to this process's environment; `undefined` removes a variable. */
  env: Record<string, string | undefined>;
  port: number;
  healthPath: string;
  startTimeoutMs?: number;
  stopGraceMs?: number;
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUTPUT_LINES_KEPT = 40;
const HEALTH_POLL_MS = 100;

const running = new Set<ChildProcess>();
// Whatever way this process ends, no server it started outlives it.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `node --import tsx <script>` (a built `.js` script: `node --enable-source-maps <script>`) on loopback
 * and waits until `healthPath` answers 2xx.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(options.env)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const runner = options.script.endsWith('.js') ? ['--enable-source-maps'] : ['--import', 'tsx'];
  const child = spawn(process.execPath, [...runner, options.script, ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));

  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length > OUTPUT_LINES_KEPT) lines.shift();
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);

  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const stop = async () => {
    if (exited()) return;
    const gone = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.stopGraceMs ?? 20_000);
    await gone;
    clearTimeout(timer);
  };
  const output = () => lines.join('\n');

  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exited()) {
      throw new Error(
        `${options.name} exited (${child.exitCode ?? child.signalCode}) before it was up:\n${output()}`,
      );
    }
    try {
      const response = await fetch(`${url}${options.healthPath}`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${options.name} did not answer ${options.healthPath} in time:\n${output()}`);
    }
    await sleep(HEALTH_POLL_MS);
  }
  return { name: options.name, url, pid: child.pid!, output, stop };
}
