/** Shared builders for the domain tests: in-memory reading sources and packs loaded from the repo. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Sample } from '../../../core/domain/aggregate.ts';
import type { ReadingSource } from '../../../core/domain/evidence.ts';
import { type FactorPack, parseFactorPack } from '../../../core/domain/factors.ts';
import { parseRulePack, type RulePack } from '../../../core/domain/rules.ts';
import type { Industry } from '../../../core/schema/wire.ts';

/** UTC+8 wall time → ms epoch. */
export const cst = (y: number, mo: number, d: number, h = 0, mi = 0) => Date.UTC(y, mo - 1, d, h - 8, mi);
export const DAY = 86_400_000;

/** A good sample. */
export const good = (ts: number, value: string): Sample => ({ ts, value, quality: 'good' });
/** A bad sample. */
export const bad = (ts: number, reason = 'MRV_E_MODBUS_TIMEOUT: no answer'): Sample => ({
  ts,
  value: null,
  quality: 'bad',
  reason,
});

/** An in-memory source; also counts what was read. */
export function memorySource(data: Record<string, Sample[]>): ReadingSource & { reads: number } {
  const src = {
    reads: 0,
    async read(point: string, from: number, to: number) {
      src.reads++;
      return (data[point] ?? []).filter((s) => s.ts >= from && s.ts < to).sort((a, b) => a.ts - b.ts);
    },
  };
  return src;
}

/** The repo's default factor pack. */
export function defaultFactors(): FactorPack {
  return parseFactorPack(
    parse(
      readFileSync(new URL('../../../core/domain/factors/cn-ets-defaults.yaml', import.meta.url), 'utf8'),
    ),
  );
}

/** The repo's rule pack of an industry. */
export function rulePack(industry: Industry): RulePack {
  return parseRulePack(
    parse(readFileSync(new URL(`../../../core/domain/rules/${industry}.yaml`, import.meta.url), 'utf8')),
  );
}
