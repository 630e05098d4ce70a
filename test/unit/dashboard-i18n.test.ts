/**
 * The dashboard's messages (dashboard/src/i18n/): zh-CN and en have the same keys, no empty text, every
 * `t('...')` key the sources use exists, and every key is used (literally, through a `t(`prefix.${...}`)`
 * of the sources, or as an enum group read by `enumLabel`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { en } from '../../dashboard/src/i18n/en.ts';
import { zhCN } from '../../dashboard/src/i18n/zh-CN.ts';

const SRC = new URL('../../dashboard/src/', import.meta.url).pathname;
const ENUM_GROUPS = [
  'unitStatus',
  'completeness',
  'quality',
  'calibration',
  'role',
  'industry',
  'meterKind',
  'uom',
  'configKey',
  'configMode',
  'auditAction',
  'auditTarget',
];

function leaves(o: object, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object') for (const [kk, vv] of leaves(v, key)) out.set(kk, vv);
    else out.set(key, v);
  }
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : /\.(vue|ts)$/.test(e.name) && !e.name.endsWith('.d.ts') && !dir.endsWith('i18n')
        ? [readFileSync(join(dir, e.name), 'utf8')]
        : [],
  );
}

const zh = leaves(zhCN);
const enKeys = leaves(en);
const text = sources(SRC).join('\n');
const literal = new Set([...text.matchAll(/\bt\(\s*'([A-Za-z_.]+)'/g)].map((m) => m[1] as string));
// keys held in variables and translated by t(error): 'login.failed' and the like
for (const m of text.matchAll(/'((?:[a-z][A-Za-z]*)\.[A-Za-z_]+)'/g)) literal.add(m[1] as string);
const prefixes = [...text.matchAll(/\bt\(\s*`([A-Za-z_.]+)\.\$\{/g)].map((m) => m[1] as string);

describe('dashboard messages', () => {
  it('zh-CN and en have the same keys and no empty text', () => {
    expect([...enKeys.keys()].sort()).toEqual([...zh.keys()].sort());
    for (const [k, v] of [...zh, ...enKeys]) {
      expect(typeof v, k).toBe('string');
      expect((v as string).trim().length, k).toBeGreaterThan(0);
    }
  });

  it('every key the sources use exists', () => {
    const used = [...literal].filter((k) => Object.keys(zhCN).includes(k.split('.')[0] as string));
    expect(used.length).toBeGreaterThan(20);
    for (const k of used) expect(zh.has(k), k).toBe(true);
  });

  it('every key is used', () => {
    const unused = [...zh.keys()].filter(
      (k) =>
        !literal.has(k) &&
        !prefixes.some((p) => k.startsWith(`${p}.`)) &&
        !ENUM_GROUPS.includes(k.split('.')[0] as string),
    );
    expect(unused).toEqual([]);
  });
});
