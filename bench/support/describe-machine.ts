import os from 'node:os';

export interface Machine {
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  platform: string;
  /** Load average over the last minute when the benchmark started: other work skews the figures. */
  loadAverage: number;
}

/** What the figures were measured on; call it when the benchmark starts. */
export function describeMachine(): Machine {
  return {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}
