import pino, { type Logger as PinoLogger } from 'pino';

/** Paths that may carry secrets, keys or tokens; pino replaces them before anything is written. */
const REDACT = [
  'req.headers.authorization',
  'req.headers["x-session-id"]',
  'password',
  'passwordHash',
  'refreshToken',
  'accessToken',
  'token',
  'key',
  'keys',
  '*.password',
  '*.refreshToken',
  '*.token',
  '*.key',
];

/**
 * JSON lines (production, or output to a file or a pipe), or one readable line per event for a person at a
 * terminal (`pino-pretty` in a worker thread; redaction happens before it).
 */
export function createLogger(level: string, options: { pretty?: boolean } = {}): PinoLogger {
  return pino({
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { service: 'keyshop' },
    ...(options.pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: {
              singleLine: true,
              colorize: true,
              translateTime: 'SYS:HH:MM:ss.l',
              ignore: 'pid,hostname,service',
            },
          },
        }
      : {}),
  });
}

/** `LOG_FORMAT`: `pretty` or `json`; unset, pretty only outside production on a terminal. */
export function prettyLogs(format: 'json' | 'pretty' | undefined, production: boolean): boolean {
  return format === undefined ? !production && process.stdout.isTTY === true : format === 'pretty';
}
