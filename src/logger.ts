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

export function createLogger(level: string): PinoLogger {
  return pino({
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { service: 'keyshop' },
  });
}
