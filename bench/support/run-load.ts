import autocannon from 'autocannon';
import { processCpuMs } from './process-cpu-ms.js';
import { summarize, type Summary } from './summarize.js';

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  /** Sent in turn by each connection; a `setupRequest` may rewrite each send (path, body). */
  requests: autocannon.Request[];
  timeoutSeconds?: number;
  /** The server's process, to report the CPU it spent (Linux only). */
  serverPid?: number;
}

export interface LoadFigures {
  durationSeconds: number;
  /** 2xx answers per second. */
  requestsPerSecond: number;
  ok: number;
  /** Non-2xx answers, connection errors and timeouts. */
  failed: number;
  statusCodes: Record<string, number>;
  /** Latency of the 2xx answers, in milliseconds (sub-millisecond precision). */
  latencyMs: Summary;
  /** CPU the server process used, in % of one core, and per 2xx answer in µs (NaN when unknown). */
  serverCpuPercent: number;
  serverCpuUsPerRequest: number;
  /** CPU this process (autocannon) used, in % of one core. */
  loadGeneratorCpuPercent: number;
}

/**
 * Drives `url` with autocannon from this process at a fixed number of connections for a fixed time. The
 * latencies are kept here at full precision: autocannon's own histogram rounds to whole milliseconds and has
 * no p95.
 */
export async function runLoad(options: LoadOptions): Promise<LoadFigures> {
  let latencies = new Float64Array(1 << 16);
  let ok = 0;
  const serverCpuBefore = options.serverPid ? processCpuMs(options.serverPid) : NaN;
  const ownCpuBefore = process.cpuUsage();
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: options.timeoutSeconds ?? 30,
    requests: options.requests,
  });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    if (statusCode < 200 || statusCode >= 300) return;
    if (ok === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[ok++] = responseTimeMs;
  });
  const result = await instance;
  const serverCpuMs = (options.serverPid ? processCpuMs(options.serverPid) : NaN) - serverCpuBefore;
  const ownCpu = process.cpuUsage(ownCpuBefore);
  const ownCpuMs = (ownCpu.user + ownCpu.system) / 1000;
  return {
    durationSeconds: result.duration,
    requestsPerSecond: ok / result.duration,
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, count]),
    ),
    latencyMs: summarize(latencies.subarray(0, ok)),
    serverCpuPercent: serverCpuMs / (result.duration * 10),
    serverCpuUsPerRequest: (serverCpuMs * 1000) / ok,
    loadGeneratorCpuPercent: ownCpuMs / (result.duration * 10),
  };
}
