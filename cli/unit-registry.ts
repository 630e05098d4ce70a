/**
 * The unit registry file (`units.yaml`, core/schema/unit-registry.ts) on the command line (issue 17
 * item 2): loading it for `mrv server`, `mrv collector` and `mrv demo` (`--units-file FILE`), and
 * `mrv registry seed SITE.yaml...` / `mrv registry check FILE`.
 *
 * A bad file fails at start with the file, the line, the YAML path and what is expected, every problem
 * in one run (docs/architecture.md §10 rule 4), as a site file does.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LineCounter, parseDocument, stringify } from 'yaml';
import type { z } from 'zod';
import { MrvError } from '../core/errors.ts';
import { seedRegistry, UnitRegistry, UnitRegistryFile } from '../core/schema/unit-registry.ts';
import { loadSiteConfig, yamlIssuesText } from '../gateway/config.ts';

/** The `--units-file` flag of `mrv server`, `mrv collector` and `mrv demo` (parseArgs option). */
export const unitsFileFlag = { 'units-file': { type: 'string' } } as const;

/**
 * Parses and validates registry text.
 * @param file the file name used in messages
 * @throws MrvError `MRV_E_CONFIG` listing every problem as `file:line:col path: message`
 */
export function parseUnitRegistry(text: string, file: string): UnitRegistry {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true });
  if (doc.errors.length > 0) {
    const msgs = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return `${file}${pos ? `:${pos.line}:${pos.col}` : ''} ${e.message.split('\n')[0]}`;
    });
    throw new MrvError('MRV_E_CONFIG', `${file} is not valid YAML:\n  ${msgs.join('\n  ')}`, { file });
  }
  const value: unknown = doc.toJS();
  const r = UnitRegistryFile.safeParse(value);
  if (!r.success) {
    // zod skips the file's duplicate-id check once an entry is invalid: done here, so one run lists all.
    const issues = [...r.error.issues, ...duplicateIdIssues(value, r.error.issues)];
    throw new MrvError(
      'MRV_E_CONFIG',
      `${file} does not match the unit registry schema (version 1, see README "Unit registry"):\n  ${yamlIssuesText(file, doc, lc, issues).join('\n  ')}`,
      { file },
    );
  }
  return new UnitRegistry(r.data.units);
}

/** Issues for unit ids listed twice in a raw registry value, unless zod already reported them. */
function duplicateIdIssues(value: unknown, reported: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const units = (value as { units?: unknown } | null)?.units;
  if (!Array.isArray(units)) return [];
  const already = new Set(reported.map((i) => i.path.join('.')));
  const seen = new Map<string, number>();
  const out: z.core.$ZodIssue[] = [];
  units.forEach((u: unknown, i) => {
    const id = (u as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') return;
    const first = seen.get(id);
    if (first === undefined) seen.set(id, i);
    else if (!already.has(`units.${i}.id`))
      out.push({
        code: 'custom',
        path: ['units', i, 'id'],
        message: `unit ${id} is registered twice (first at units[${first}])`,
        input: id,
      });
  });
  return out;
}

/**
 * Reads a registry file.
 * @throws MrvError `MRV_E_CONFIG` when it cannot be read or does not validate (every problem listed)
 */
export function loadUnitRegistry(file: string): UnitRegistry {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MrvError(
      'MRV_E_CONFIG',
      `cannot read unit registry ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
  return parseUnitRegistry(text, file);
}

/** The registry as YAML text, with a header saying where it came from and what it decides. */
export function registryYaml(registry: UnitRegistryFile, seededFrom: readonly string[]): string {
  const header = [
    "# carbon-mrv unit registry (单位登记册), version 1: the only source of each unit's name, province,",
    '# industry and gateways. Scope (which regulators see a unit) follows this file, never MQTT.',
    "# Check every entry against the unit's registration before use; edit by hand, then",
    '# "mrv registry check FILE" and restart mrv server / mrv collector.',
    ...(seededFrom.length > 0 ? [`# Seeded by "mrv registry seed" from: ${seededFrom.join(', ')}`] : []),
    '',
  ].join('\n');
  return `${header}${stringify(registry)}`;
}

/**
 * `mrv registry seed SITE.yaml... [--out FILE]` prints (or writes) a registry seeded from site files;
 * `mrv registry check FILE` validates one and lists its units.
 * @throws MrvError `MRV_E_CONFIG` for bad usage, site files or registry files
 */
export async function registry(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  const { values: v, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { out: { type: 'string' } },
  });
  if (verb === 'seed' && positionals.length > 0) {
    const sites = positionals.map((f) => ({ file: f, site: loadSiteConfig(f).site }));
    const { registry: seeded, conflicts } = seedRegistry(sites);
    for (const c of conflicts) process.stderr.write(`mrv registry seed: warning: ${c}\n`);
    const text = registryYaml(seeded, positionals);
    if (v.out) {
      writeFileSync(v.out, text);
      process.stdout.write(`unit registry with ${seeded.units.length} units written to ${v.out}\n`);
    } else process.stdout.write(text);
    return 0;
  }
  if (verb === 'check' && positionals.length === 1) {
    const file = positionals[0] as string;
    const r = loadUnitRegistry(file);
    process.stdout.write(`${file}: ${r.size} units\n`);
    for (const u of r.units)
      process.stdout.write(
        `  ${u.id}  ${u.name}  ${u.province}  ${u.industry}  gateways: ${u.gateways.join(', ')}\n`,
      );
    return 0;
  }
  throw new MrvError(
    'MRV_E_CONFIG',
    'usage: mrv registry seed SITE.yaml... [--out units.yaml] | mrv registry check units.yaml',
  );
}
