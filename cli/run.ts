/**
 * What every long-running `mrv` command shares: waiting for SIGINT/SIGTERM, number flags, the demo clock.
 * Kept apart from `commands.ts` so the simulators' commands import it without importing every command.
 */
import type { Logger } from 'pino';
import { MrvError } from '../core/errors.ts';
import { type Clock, ScaledClock, systemClock } from '../core/time.ts';

/** Resolves when the process gets SIGINT or SIGTERM; then runs `stop` once. */
export async function runUntilSignal(log: Logger, stop: () => Promise<void>): Promise<number> {
  const signal = await new Promise<string>((res) => {
    process.once('SIGINT', () => res('SIGINT'));
    process.once('SIGTERM', () => res('SIGTERM'));
  });
  log.info({ signal }, 'stopping');
  const force = setTimeout(() => {
    log.error('stop took longer than 10 s; exiting');
    process.exit(1);
  }, 10_000);
  force.unref();
  await stop();
  clearTimeout(force);
  return 0;
}

/** A non-negative number flag. @throws MrvError MRV_E_CONFIG naming the flag when it is not one */
export function intFlag(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new MrvError('MRV_E_CONFIG', `--${name}: expected a number, got "${v}"`);
  return n;
}

/** The system clock at speed 1, else a clock running `speed` times faster from now. */
export function clockFor(speed: number): Clock {
  return speed === 1 ? systemClock : new ScaledClock(Date.now(), speed);
}

/**
 * An instant flag: ISO 8601 with its zone (`2026-11-01T00:00:00+08:00`, `...Z`).
 * @throws MrvError MRV_E_CONFIG naming the flag when the text is not such an instant
 */
export function instantFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(v) || !Number.isFinite(ms))
    throw new MrvError(
      'MRV_E_CONFIG',
      `--${name}: expected an ISO 8601 instant with its zone (e.g. 2026-11-01T00:00:00+08:00), got "${v}"`,
    );
  return ms;
}
