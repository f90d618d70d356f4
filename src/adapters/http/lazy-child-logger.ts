import type { FastifyBaseLogger } from 'fastify';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
const LEVELS: Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

type Bindings = Record<string, unknown>;
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1];

/**
 * A request's logger that becomes a real child (pino serialises and redacts its bindings when a child is made)
 * only when something logs at an enabled level. Most requests write nothing at `warn`; making their child
 * anyway was per-request work for no line.
 */
export function lazyChildLogger(
  parent: FastifyBaseLogger,
  bindings: Bindings,
  options?: ChildOptions,
): FastifyBaseLogger {
  let child: FastifyBaseLogger | undefined;
  const real = () => (child ??= parent.child(bindings, options));
  const enabled = (level: Level) => {
    const isLevelEnabled = (parent as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
    return isLevelEnabled ? isLevelEnabled.call(parent, level) : true;
  };
  const logger = {
    get level() {
      return child?.level ?? parent.level;
    },
    set level(level: string) {
      real().level = level;
    },
    silent: () => undefined,
    // A child of this one: its bindings merged (as pino's grandchildren have them), still made on first use.
    child: (more: Bindings, moreOptions?: ChildOptions) =>
      child || moreOptions
        ? real().child(more, moreOptions)
        : lazyChildLogger(parent, { ...bindings, ...more }, options),
  } as unknown as FastifyBaseLogger;
  for (const level of LEVELS) {
    (logger as unknown as Record<Level, (...args: unknown[]) => void>)[level] = (...args: unknown[]) => {
      if (!enabled(level)) return;
      (real()[level] as (...rest: unknown[]) => void)(...args);
    };
  }
  return logger;
}
