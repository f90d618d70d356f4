import type { Logger } from '../../ports/logger.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  level: LogLevel;
  /** The child bindings merged with the fields of the call. */
  fields: Record<string, unknown>;
  message: string | undefined;
}

/** Records every log call so tests can assert on what was logged; children share the record. */
export class InMemoryLogger implements Logger {
  readonly debug = this.recorder('debug');
  readonly info = this.recorder('info');
  readonly warn = this.recorder('warn');
  readonly error = this.recorder('error');

  constructor(
    readonly entries: LogEntry[] = [],
    private readonly bindings: Record<string, unknown> = {},
  ) {}

  child(bindings: Record<string, unknown>): Logger {
    return new InMemoryLogger(this.entries, { ...this.bindings, ...bindings });
  }

  at(level: LogLevel): LogEntry[] {
    return this.entries.filter((entry) => entry.level === level);
  }

  private recorder(level: LogLevel): Logger[LogLevel] {
    return (fieldsOrMessage: Record<string, unknown> | string, message?: string) => {
      const entry =
        typeof fieldsOrMessage === 'string'
          ? { level, fields: { ...this.bindings }, message: fieldsOrMessage }
          : { level, fields: { ...this.bindings, ...fieldsOrMessage }, message };
      this.entries.push(entry);
    };
  }
}
