/**
 * Loads and validates a site file (docs/architecture.md §3). The core schema checks the whole file; each device
 * is then checked by its driver's own schema. Every problem is reported with the file, the line and
 * column, the YAML path and what is expected, all at once, so an engineer fixes the file in one pass.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { MrvError } from '../core/errors.ts';
import { canonicalJson } from '../core/schema/canonical.ts';
import { SiteConfig, siteCrossReferenceIssues } from '../core/schema/site.ts';
import { suggest } from '../core/suggest.ts';
import { drivers } from '../drivers/registry.ts';
import type { LoadedSite } from './loaded-site.ts';
import type { Path } from './templates.ts';
import {
  DeviceTemplate,
  expandTemplates,
  type SourcedTemplate,
  TemplateFile,
  type TemplateSource,
} from './templates.ts';

export type { LoadedSite } from './loaded-site.ts';
export { siteDataDir, siteMeta } from './loaded-site.ts';

/** `devices[0].points[3].type` from a zod path. */
export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

/** Where in the text a YAML path points to (1-based line and column), as near as the document allows. */
function locate(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: Path): string {
  let node: unknown = doc.contents;
  for (const key of path) {
    if (isMap(node)) {
      const next = node.get(String(key), true);
      if (next === undefined) break;
      node = next;
    } else if (isSeq(node) && typeof key === 'number') {
      const next = node.get(key, true);
      if (next === undefined) break;
      node = next;
    } else break;
  }
  const range = (node as YamlNode | null)?.range;
  if (!range) return '';
  const { line, col } = lc.linePos(range[0]);
  return `:${line}:${col}`;
}

/** Where the key `key` of the map at `path` is written (its own line, not the map's). */
function locateKey(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: Path, key: string): string {
  let node: unknown = doc.contents;
  for (const k of path) {
    if (isMap(node) || (isSeq(node) && typeof k === 'number')) {
      const next = (node as { get(k: unknown, keepScalar: true): unknown }).get(
        isMap(node) ? String(k) : k,
        true,
      );
      if (next === undefined) return locate(doc, lc, path);
      node = next;
    } else return locate(doc, lc, path);
  }
  if (!isMap(node)) return locate(doc, lc, path);
  for (const pair of node.items) {
    const k = pair.key as YamlNode | null;
    if (isScalar(k) && String(k.value) === key && k.range) {
      const { line, col } = lc.linePos(k.range[0]);
      return `:${line}:${col}`;
    }
  }
  return locate(doc, lc, path);
}

/** Every object key any site-file schema knows (core and drivers), for "did you mean" on unknown keys. */
const KNOWN_KEYS: readonly string[] = (() => {
  const keys = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (schema: unknown): void => {
    if (schema === null || typeof schema !== 'object' || seen.has(schema)) return;
    seen.add(schema);
    // zod 4 keeps every schema's definition under `_zod.def`: objects their shape, wrappers their inner type.
    const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return;
    if (def.type === 'object' && def.shape && typeof def.shape === 'object')
      for (const [k, v] of Object.entries(def.shape as Record<string, unknown>)) {
        keys.add(k);
        walk(v);
      }
    for (const f of ['innerType', 'element', 'in', 'out', 'left', 'right', 'valueType', 'schema'])
      walk(def[f]);
    if (Array.isArray(def.options)) for (const o of def.options) walk(o);
  };
  walk(SiteConfig);
  walk(DeviceTemplate);
  for (const k of ['templates', 'templateFiles', 'template', 'pointPrefix', 'meter']) keys.add(k);
  for (const kind of Object.values(drivers)) walk(kind.schema);
  return [...keys];
})();

/**
 * Where a path of the (expanded) site was written: `at(path)` gives `file:line:col path`, `atKey` the
 * same for an unknown key at its own line.
 */
interface Where {
  at(path: Path): string;
  atKey(path: Path, key: string): string;
}

/** A {@link Where} for one document without templates. */
function whereIn(file: string, doc: ReturnType<typeof parseDocument>, lc: LineCounter): Where {
  return {
    at: (path) => `${file}${locate(doc, lc, path)} ${formatPath(path)}`,
    atKey: (path, key) => `${file}${locateKey(doc, lc, path, key)} ${formatPath([...path, key])}`,
  };
}

/**
 * Each zod issue of another YAML file (the unit registry) as `file:line:col path: message`, unknown keys
 * at their own line with a suggestion from `known`.
 */
export function yamlIssuesText(
  file: string,
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  issues: readonly z.core.$ZodIssue[],
  known: readonly string[] = [],
): string[] {
  return issuesText(whereIn(file, doc, lc), issues, [], known);
}

function issuesText(
  where: Where,
  issues: readonly z.core.$ZodIssue[],
  prefix: Path = [],
  known: readonly string[] = KNOWN_KEYS,
): string[] {
  // A misspelt required key is one mistake: drop the "missing" issue of the key an unknown one is near.
  const meant = new Set<string>();
  for (const i of issues)
    if (i.code === 'unrecognized_keys')
      for (const key of i.keys) {
        const near = suggest(key, known);
        if (near !== undefined) meant.add(formatPath([...prefix, ...i.path, near]));
      }
  return issues.flatMap((i) => {
    const path = [...prefix, ...i.path];
    if (i.code === 'invalid_type' && i.input === undefined && meant.has(formatPath(path))) return [];
    if (i.code === 'unrecognized_keys')
      // One line per key, at the key's own line, with the key it most likely meant.
      return i.keys.map((key) => {
        const near = suggest(key, known);
        return `${where.atKey(path, key)}: unknown key "${key}"${near ? `; did you mean "${near}"?` : ''}`;
      });
    return [`${where.at(path)}: ${i.message}`];
  });
}

/**
 * Devices that would read the same slave: two Modbus devices on one `host:port` (or serial `path`)
 * with the same unit id, e.g. a forgotten `unitId` that defaulted to 1 and reads another meter's
 * registers. One problem per later device, naming the first.
 */
function duplicateAddresses(where: Where, devices: LoadedSite['devices'], raw: readonly unknown[]): string[] {
  const first = new Map<string, string>();
  const problems: string[] = [];
  for (const d of devices) {
    const c = d.config as { id: string; host?: unknown; port?: unknown; path?: unknown; unitId?: unknown };
    if (c.unitId === undefined) continue; // not a Modbus device
    const line = typeof c.path === 'string' ? `serial ${c.path}` : `${String(c.host)}:${String(c.port)}`;
    const key = `${line} unit id ${String(c.unitId)}`;
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, c.id);
    else {
      const i = raw.findIndex((d) => (d as { id?: unknown })?.id === c.id);
      const explicit = (raw[i] as { unitId?: unknown } | undefined)?.unitId !== undefined;
      problems.push(
        `${where.at(['devices', i, explicit ? 'unitId' : 'id'])}: device "${c.id}" reads the same slave as "${earlier}" (${key}${
          explicit ? '' : ', unitId not given so it defaulted'
        }); give each meter its own unitId, or merge the two devices if both are meant`,
      );
    }
  }
  return problems;
}

/**
 * Parses and validates site-file text.
 * @param file the file name used in messages
 * @throws MrvError MRV_E_CONFIG listing every problem as `file:line:col path: message`
 */
export function parseSiteConfig(text: string, file: string): LoadedSite {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true });
  if (doc.errors.length > 0) {
    const msgs = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return `${file}${pos ? `:${pos.line}:${pos.col}` : ''} ${e.message.split('\n')[0]}`;
    });
    throw new MrvError('MRV_E_CONFIG', `${file} is not valid YAML:\n  ${msgs.join('\n  ')}`, { file });
  }
  return validateSite(doc.toJS(), file, { doc, lc });
}

/**
 * Expands the site's device templates (gateway/templates.ts): those under `templates:` and those of
 * the files named by `templateFiles:` (relative to the site file). Problems of the templates are added
 * to `problems`; the returned {@link Where} reports every later problem where it was written.
 */
function expandSiteTemplates(
  input: unknown,
  file: string,
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  problems: string[],
): { value: unknown; where: Where } {
  const site = input as { templates?: unknown; templateFiles?: unknown } | null;
  if (
    typeof site !== 'object' ||
    site === null ||
    (site.templates === undefined && site.templateFiles === undefined)
  )
    return { value: input, where: whereIn(file, doc, lc) };
  const siteWhere = whereIn(file, doc, lc);
  const files: { file: string; where: Where }[] = [];
  const sourced: SourcedTemplate[] = [];
  if (site.templates !== undefined && !Array.isArray(site.templates))
    problems.push(`${siteWhere.at(['templates'])}: expected a list of device templates`);
  for (const [index, raw] of (Array.isArray(site.templates) ? site.templates : []).entries())
    sourced.push({ raw, source: 'site', index });
  const names = site.templateFiles;
  if (names !== undefined && !(Array.isArray(names) && names.every((n) => typeof n === 'string')))
    problems.push(`${siteWhere.at(['templateFiles'])}: expected a list of file names`);
  else
    (names ?? []).forEach((name: string, n: number) => {
      const path = isAbsolute(name) ? name : resolve(dirname(resolve(file)), name);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        problems.push(
          `${siteWhere.at(['templateFiles', n])}: cannot read ${path}: ${(err as Error).message}`,
        );
        return;
      }
      const tlc = new LineCounter();
      const tdoc = parseDocument(text, { lineCounter: tlc, prettyErrors: true });
      const tw = whereIn(path, tdoc, tlc);
      if (tdoc.errors.length > 0) {
        for (const e of tdoc.errors) {
          const pos = e.linePos?.[0];
          problems.push(`${path}${pos ? `:${pos.line}:${pos.col}` : ''} ${e.message.split('\n')[0]}`);
        }
        return;
      }
      const parsed = TemplateFile.safeParse(tdoc.toJS());
      if (!parsed.success) {
        problems.push(...issuesText(tw, parsed.error.issues));
        return;
      }
      const source = files.length;
      files.push({ file: path, where: tw });
      for (const [index, raw] of parsed.data.templates.entries()) sourced.push({ raw, source, index });
    });
  const x = expandTemplates(input, sourced);
  const whereOf = (s: TemplateSource): Where => (s === 'site' ? siteWhere : (files[s]?.where ?? siteWhere));
  for (const p of x.problems) problems.push(`${whereOf(p.origin.source).at(p.origin.path)}: ${p.message}`);
  const where: Where = {
    at: (path) => {
      const o = x.origin(path);
      return whereOf(o.source).at(o.path);
    },
    atKey: (path, key) => {
      const o = x.origin(path);
      return whereOf(o.source).atKey(o.path, key);
    },
  };
  return { value: x.value, where };
}

/**
 * Validates the JS value of a site file (the core schema, then each device by its driver's schema).
 * @param source the parsed document, for the line and column of each problem
 * @throws MrvError MRV_E_CONFIG listing every problem
 */
function validateSite(
  input: unknown,
  file: string,
  source: { doc: ReturnType<typeof parseDocument>; lc: LineCounter },
): LoadedSite {
  const { doc, lc } = source;
  // Every stage runs whatever the others found, so one run lists every problem of the file.
  const problems: string[] = [];
  const expansion = expandSiteTemplates(input, file, doc, lc, problems);
  const value = expansion.value;
  const where = expansion.where;
  const parsed = SiteConfig.safeParse(value);
  if (!parsed.success) {
    problems.push(...issuesText(where, parsed.error.issues));
    // zod runs the cross-reference refinement only on an otherwise valid file: run it here as well.
    if (!parsed.error.issues.some((i) => i.code === 'custom'))
      problems.push(...issuesText(where, siteCrossReferenceIssues(value)));
  }
  const rawDevices = (value as { devices?: unknown })?.devices;
  const raw: unknown[] = Array.isArray(rawDevices) ? rawDevices : [];
  const devices: LoadedSite['devices'] = [];
  raw.forEach((device: unknown, i: number) => {
    const driver = (device as { driver?: unknown })?.driver;
    if (typeof driver !== 'string') return; // the core schema said so
    const kind = drivers[driver];
    if (!kind) {
      const near = suggest(driver, Object.keys(drivers));
      problems.push(
        `${where.at(['devices', i, 'driver'])}: unknown driver "${driver}"${
          near ? `; did you mean "${near}"?` : ''
        }; valid drivers: ${Object.keys(drivers).join(', ')}`,
      );
      return;
    }
    const r = kind.schema.safeParse(device);
    if (!r.success) problems.push(...issuesText(where, r.error.issues, ['devices', i]));
    else
      devices.push({
        id: (device as { id: string }).id,
        kind,
        config: r.data as LoadedSite['devices'][number]['config'],
      });
  });
  // Two entries for one slave may be meant (two poll rates), or a forgotten unitId: said, not refused.
  const warnings = duplicateAddresses(where, devices, raw);
  // The core schema and a driver's schema may both see one fault (a device without an id), and a
  // template's fault shows in each of its devices: say each once.
  const unique = [...new Set(problems)];
  if (unique.length > 0 || !parsed.success)
    throw new MrvError(
      'MRV_E_CONFIG',
      `${file}: ${unique.length} problem${unique.length === 1 ? '' : 's'} (site schema version 1, see README "Configuration"):\n  ${unique.join('\n  ')}`,
      { file },
    );
  const site = parsed.data;
  // Hashed as written: moving the site file to another folder does not change its hash.
  const configHash = createHash('sha256').update(canonicalJson(site)).digest('hex');
  const base = dirname(resolve(file));
  resolveSitePaths(site.gateway, base);
  for (const d of devices) resolveSitePaths(d.config, base);
  return { file, site, devices, configHash, warnings };
}

/**
 * Fields of a site file that name a file or folder. Wherever they occur in the gateway section or in a
 * device (also nested, e.g. an OPC UA device's `identity`), a relative value is taken relative to the
 * site file's folder, never to the working directory, so `mrv gateway -c /etc/mrv/site.yaml` reads the
 * same files from any folder (systemd starts it in `/`).
 */
export const SITE_PATH_FIELDS: ReadonlySet<string> = new Set([
  'bufferDir',
  'signingKeyFile',
  'dataDir',
  'passwordFile',
  'caFile',
  'certFile',
  'keyFile',
  'pkiDir',
]);

/** Replaces, in place, every relative {@link SITE_PATH_FIELDS} value under `node` by its absolute path from `base`. */
function resolveSitePaths(node: unknown, base: string): void {
  if (Array.isArray(node)) return; // points and meters name no files
  if (typeof node !== 'object' || node === null) return;
  const o = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string' && SITE_PATH_FIELDS.has(k)) o[k] = isAbsolute(v) ? v : resolve(base, v);
    else resolveSitePaths(v, base);
  }
}

/**
 * Reads and validates a site file.
 * @throws MrvError MRV_E_CONFIG when the file cannot be read or is invalid (see {@link parseSiteConfig})
 */
export function loadSiteConfig(file: string): LoadedSite {
  return parseSiteConfig(readSiteText(file), file);
}

/** @throws MrvError MRV_E_CONFIG when the file cannot be read */
function readSiteText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new MrvError(
      'MRV_E_CONFIG',
      `cannot read site file ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
}
