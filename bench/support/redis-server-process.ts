import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';

export interface RedisServerProcess {
  url: string;
  /** SIGSTOP: the server keeps its connections but answers nothing (a hung Redis). */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** A throwaway `redis-server` on a loopback port, without persistence, ready when this resolves. */
export async function startRedisServer(): Promise<RedisServerProcess> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.on('error', () => {});
  const killed = () => child.exitCode !== null || child.signalCode !== null;
  process.on('exit', () => {
    if (!killed()) child.kill('SIGKILL');
  });
  const stop = async () => {
    if (killed()) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };

  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
      try {
        if (probe.status !== 'ready') await probe.connect();
        if ((await probe.ping()) === 'PONG') break;
      } catch (error) {
        if (killed() || Date.now() > deadline) {
          await stop();
          throw new Error(`redis-server on ${port} did not start: ${(error as Error).message}`);
        }
      }
    }
  } finally {
    probe.disconnect();
  }
  return {
    url,
    freeze: () => child.kill('SIGSTOP'),
    thaw: () => child.kill('SIGCONT'),
    stop,
  };
}
