type LogFn = {
  (message: string): void;
  (fields: Record<string, unknown>, message?: string): void;
};

/** Structured logging (pino satisfies it). */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}
