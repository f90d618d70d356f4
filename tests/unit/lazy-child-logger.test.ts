import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChildLogger } from '../../src/adapters/http/lazy-child-logger.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('lazyChildLogger', () => {
  it('makes no child while nothing is written at an enabled level, and one with its bindings once something is', () => {
    const { logger, lines } = capture('warn');
    let children = 0;
    const counting = Object.assign(Object.create(logger) as typeof logger, {
      child: (...args: Parameters<typeof logger.child>) => {
        children += 1;
        return logger.child(...args);
      },
    });
    const log = lazyChildLogger(counting, { reqId: 'r-1' });
    log.info('quiet');
    log.debug({ a: 1 }, 'quieter');
    expect(children).toBe(0);
    log.warn({ code: 'X' }, 'loud');
    log.error('louder');
    expect(children).toBe(1);
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
      ['r-1', 'loud'],
      ['r-1', 'louder'],
    ]);
  });

  it('gives its children its bindings and theirs, and reports the level', () => {
    const { logger, lines } = capture('info');
    const log = lazyChildLogger(logger, { reqId: 'r-2' });
    expect(log.level).toBe('info');
    log.child({ runId: 'run-9' }).info('nested');
    expect(lines[0]).toMatchObject({ reqId: 'r-2', runId: 'run-9', msg: 'nested' });
  });
});
