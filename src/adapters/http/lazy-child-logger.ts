import type { FastifyBaseLogger } from 'fastify';

type Bindings = Record<string, unknown>;
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1];
type LogMethod = (...args: unknown[]) => void;

/**
 * A request's logger that becomes a real child (pino serialises and redacts its bindings when a child is made)
 * only when something logs at an enabled level. Most requests write nothing at `warn`; making their child
 * anyway was per-request work for no line. One object per request: every method lives on the prototype.
 */
class LazyChildLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildOptions | undefined,
  ) {}

  get level(): string {
    return this.made?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  silent(): void {}

  /** A child of this one: its bindings merged (as pino's grandchildren have them), still made on first use. */
  child(more: Bindings, moreOptions?: ChildOptions): FastifyBaseLogger {
    return this.made || moreOptions
      ? this.real().child(more, moreOptions)
      : lazyChildLogger(this.parent, { ...this.bindings, ...more }, this.options);
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }

  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', args: unknown[]): void {
    const isLevelEnabled = (this.parent as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
    if (isLevelEnabled && !isLevelEnabled.call(this.parent, level)) return;
    (this.real()[level] as LogMethod)(...args);
  }

  private real(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }
}

export function lazyChildLogger(
  parent: FastifyBaseLogger,
  bindings: Bindings,
  options?: ChildOptions,
): FastifyBaseLogger {
  return new LazyChildLogger(parent, bindings, options) as unknown as FastifyBaseLogger;
}
