/**
 * Loads and validates a site file (DESIGN.md §3). The core schema checks the whole file; each device
 * is then checked by its driver's own schema. Every problem is reported with the file, the line and
 * column, the YAML path and what is expected, all at once, so an engineer fixes the file in one pass.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { MrvError } from '../core/errors.ts';
import { canonicalJson } from '../core/schema/canonical.ts';
import { SiteConfig } from '../core/schema/site.ts';
import { type GatewayMeta, PointMeta } from '../core/schema/wire.ts';
import { drivers } from '../drivers/registry.ts';
import type { DriverKind } from '../drivers/types.ts';

/**
 * A validated site: the file, each device with its driver kind and parsed config, and a config hash.
 * Every file or folder named in the site (see {@link SITE_PATH_FIELDS}) is absolute, resolved against
 * the site file's folder.
 */
export interface LoadedSite {
  file: string;
  site: SiteConfig;
  devices: {
    id: string;
    // biome-ignore lint/suspicious/noExplicitAny: configs differ per driver kind, see drivers/registry.ts
    kind: DriverKind<any>;
    config: { id: string; points: PointMeta[] | Omit<PointMeta, 'device'>[] };
  }[];
  /** SHA-256 of the canonical JSON of the validated file. */
  configHash: string;
}

type Path = readonly PropertyKey[];

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

/** Each zod issue as `file:line:col path: message` (the line and column from the parsed document). */
export function issuesText(
  file: string,
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  issues: z.core.$ZodIssue[],
  prefix: Path = [],
): string[] {
  return issues.map((i) => {
    const path = [...prefix, ...i.path];
    return `${file}${locate(doc, lc, path)} ${formatPath(path)}: ${i.message}`;
  });
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
 * Validates the JS value of a site file (the core schema, then each device by its driver's schema).
 * @param source the parsed document, for the line and column of each problem
 * @throws MrvError MRV_E_CONFIG listing every problem
 */
function validateSite(
  value: unknown,
  file: string,
  source: { doc: ReturnType<typeof parseDocument>; lc: LineCounter },
): LoadedSite {
  const { doc, lc } = source;
  const parsed = SiteConfig.safeParse(value);
  if (!parsed.success)
    throw new MrvError(
      'MRV_E_CONFIG',
      `${file} does not match the site schema (version 1, see README "Configuration"):\n  ${issuesText(file, doc, lc, parsed.error.issues).join('\n  ')}`,
      { file },
    );
  const site = parsed.data;
  const problems: string[] = [];
  const devices: LoadedSite['devices'] = [];
  site.devices.forEach((device, i) => {
    const kind = drivers[device.driver];
    if (!kind) {
      problems.push(
        `${file}${locate(doc, lc, ['devices', i, 'driver'])} devices[${i}].driver: unknown driver "${device.driver}"; valid drivers: ${Object.keys(drivers).join(', ')}`,
      );
      return;
    }
    const r = kind.schema.safeParse(device);
    if (!r.success) problems.push(...issuesText(file, doc, lc, r.error.issues, ['devices', i]));
    else devices.push({ id: device.id, kind, config: r.data as LoadedSite['devices'][number]['config'] });
  });
  if (problems.length > 0)
    throw new MrvError('MRV_E_CONFIG', `${file} has invalid devices:\n  ${problems.join('\n  ')}`, { file });
  // Hashed as written: moving the site file to another folder does not change its hash.
  const configHash = createHash('sha256').update(canonicalJson(site)).digest('hex');
  const base = dirname(resolve(file));
  resolveSitePaths(site.gateway, base);
  for (const d of devices) resolveSitePaths(d.config, base);
  return { file, site, devices, configHash };
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
 * The folder a site's drivers keep their state in (DriverContext `dataDir`): `gateway.dataDir`, else
 * the parent of `gateway.bufferDir`, else undefined (each driver's default). Absolute once loaded.
 */
export function siteDataDir(loaded: LoadedSite): string | undefined {
  const g = loaded.site.gateway;
  return g.dataDir ?? (g.bufferDir ? dirname(g.bufferDir) : undefined);
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

/** A document that locates nothing: validation of a value parsed elsewhere, before its messages are needed. */
const NOWHERE = (() => {
  const lc = new LineCounter();
  return { doc: parseDocument('', { lineCounter: lc }), lc };
})();

/**
 * {@link loadSiteConfig} for a long-running gateway: the YAML is parsed in a short-lived worker thread.
 * Parsing a large site file allocates far more than its result: `yaml` builds a syntax tree and a
 * document of ~80 MB for 10 000 points (bench/ footprint), which V8 would keep as old-generation
 * garbage and committed heap long after loading. In a worker that heap belongs to an isolate torn down
 * once the plain value (structured-cloned) is handed over; the validation runs here as in
 * {@link loadSiteConfig}. A file with any problem is parsed again here by {@link parseSiteConfig}, so
 * the messages (file:line:col) are exactly the same.
 * @throws MrvError as {@link loadSiteConfig}
 */
export async function loadSiteConfigIsolated(file: string): Promise<LoadedSite> {
  const text = readSiteText(file);
  // Plain JavaScript in the worker (only `yaml`): no TypeScript loader to start there.
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { parseDocument } = require(workerData.yaml);
    const doc = parseDocument(workerData.text);
    parentPort.postMessage(doc.errors.length > 0 ? { ok: false } : { ok: true, value: doc.toJS() });`;
  const worker = new Worker(source, {
    eval: true,
    workerData: { text, yaml: createRequire(import.meta.url).resolve('yaml') },
    // What the parse allocates stays in the worker; a small young generation keeps its peak down.
    resourceLimits: { maxYoungGenerationSizeMb: 8 },
  });
  const reply = await new Promise<{ ok: boolean; value?: unknown }>((resolveReply, reject) => {
    worker.once('message', resolveReply);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`site loader worker exited (${code}) without an answer`)));
  }).finally(() => void worker.terminate());
  if (!reply.ok) return parseSiteConfig(text, file); // throws the YAML errors with their positions
  try {
    return validateSite(reply.value, file, NOWHERE);
  } catch (err) {
    if (err instanceof MrvError && err.code === 'MRV_E_CONFIG') return parseSiteConfig(text, file);
    throw err;
  }
}

/** The retained catalogue a gateway publishes for its site (DESIGN.md §4 `meta`). */
export function siteMeta(loaded: LoadedSite): GatewayMeta {
  const { site } = loaded;
  const points: PointMeta[] = [];
  // Every field the wire contract knows about a point is carried, whatever the driver adds besides
  // (addresses, types): taken from PointMeta's own shape so a new field cannot be forgotten here.
  const keys = Object.keys(PointMeta.shape).filter((k) => k !== 'device');
  for (const d of loaded.devices)
    for (const p of d.config.points) {
      const source = p as Record<string, unknown>;
      const picked = Object.fromEntries(
        keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]),
      );
      points.push(PointMeta.parse({ ...picked, device: d.id }));
    }
  return {
    v: 1,
    gatewayId: site.gateway.id,
    unit: site.unit,
    points,
    meters: site.meters,
    configHash: loaded.configHash,
  };
}
