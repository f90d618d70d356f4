import { readFileSync } from 'node:fs';

// USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every Linux architecture Node supports.
const TICKS_PER_SECOND = 100;
const UTIME_FIELD = 11;
const STIME_FIELD = 12;

/** CPU time (user + system, all threads) process `pid` has used so far, in ms; NaN without Linux /proc. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself contain spaces and parentheses; the first is the state.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[UTIME_FIELD]) + Number(fields[STIME_FIELD])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}
