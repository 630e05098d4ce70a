/** The root logger of a CLI process: pino, JSON lines on stderr, secrets redacted. */
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Fields never written as they are, at the top level or one level down (`{password}`, `{opts: {key}}`):
 * MQTT/OPC UA passwords, API tokens, private keys (`key` is MQTT.js's and node:tls's name for the PEM
 * private key, `passphrase` its password). The code logs no secrets in the first place (issue 4 item 5:
 * passwords and keys are read from files or environment variables and passed on, never logged); this is
 * the net under it. URLs are logged through `redactUrl` (core/mqtt-errors.ts).
 */
export const REDACTED_PATHS = ['password', 'token', 'key', 'passphrase', 'privateKey'].flatMap((f) => [
  f,
  `*.${f}`,
]);

/**
 * Creates the root logger; `MRV_LOG_LEVEL` sets the level (default info).
 * @param destination where the JSON lines go; default stderr (tests pass a stream to check redaction)
 */
export function createLogger(name: string, destination: DestinationStream = pino.destination(2)): Logger {
  return pino(
    {
      name,
      level: process.env.MRV_LOG_LEVEL ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
