/** The root logger of a CLI process: pino, JSON lines on stderr, secrets redacted. */
import pino, { type Logger } from 'pino';

/** Creates the root logger; `MRV_LOG_LEVEL` sets the level (default info). */
export function createLogger(name: string): Logger {
  return pino(
    {
      name,
      level: process.env.MRV_LOG_LEVEL ?? 'info',
      redact: { paths: ['password', '*.password', 'token', '*.token', 'key', '*.key'], censor: '[redacted]' },
    },
    pino.destination(2),
  );
}
