/**
 * Model parameters as data, and the options every plant simulator takes. Each simulator's model keeps
 * its tunable numbers in one table of {@link ParameterInfo} (default, unit, source; unconfirmed numbers
 * say so, docs/domain.md conventions), so the model code has no other plant constants and the README can
 * list them.
 */
import type { Clock } from '../../core/time.ts';

/** One model parameter: default, unit and source. */
export interface ParameterInfo {
  value: number;
  unit: string;
  source: string;
}

/** The plain values of a parameter table, one number per parameter. */
export type ParamValues<T extends Record<string, ParameterInfo>> = { [K in keyof T]: number };

/** The defaults of a parameter table as plain values (frozen). */
export function parameterDefaults<T extends Record<string, ParameterInfo>>(
  table: T,
): Readonly<ParamValues<T>> {
  return Object.freeze(
    Object.fromEntries(Object.entries(table).map(([k, v]) => [k, v.value])) as ParamValues<T>,
  );
}

/** Options shared by the simulators' `start…Simulator` functions. */
export interface SimulatorBaseOptions<P> {
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Seed of the model; default 1. */
  seed?: number;
  /** Clock driving the model (a ScaledClock runs faster than real time); default the system clock. */
  clock?: Clock;
  /** Virtual time of the model's tick 0, ms since the epoch; default `clock.now()` at start. */
  start?: number;
  /** Overrides of the model's parameters. */
  params?: Partial<P>;
}

/** Options of a simulator's pure model. */
export interface ModelOptions<P> {
  seed: number;
  /** Virtual time of tick 0, ms since the epoch. */
  start: number;
  params?: Partial<P>;
}
