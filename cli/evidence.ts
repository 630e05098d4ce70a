/**
 * `mrv evidence` and `mrv verify` (DESIGN.md §2, §7).
 *
 * mrv evidence --unit ID --month yyyy-mm [--format json|csv|html] [--out FILE] [--site FILE]...
 *              [--key FILE] [--readings-out FILE] [--store sqlite|influx] [--sqlite FILE] [--influx URL] [--db mrv]
 *   builds and signs the monthly evidence package from the store (the same code as the HTTP route).
 * mrv verify FILE [--readings FILE] [--public-key FILE]
 *   dispatches on the file's content: a monthly evidence package (`kind: "monthly-evidence"`) has its
 *   Ed25519 signature checked and, given the exported readings (`--readings-out`), its values
 *   recomputed and compared. Other kinds (exported batch ranges, issue 4) register in {@link VERIFIERS}.
 */
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { InfluxStore } from '../collector/influx-store.ts';
import { SqliteStore } from '../collector/sqlite-store.ts';
import type { TimeSeriesStore } from '../collector/store.ts';
import { computeEvidence, type EvidencePackage, evidenceCsv, evidenceHtml } from '../core/domain/index.ts';
import { MrvError } from '../core/errors.ts';
import { canonicalJson } from '../core/schema/canonical.ts';
import type { SiteConfig } from '../core/schema/site.ts';
import { systemClock } from '../core/time.ts';
import { loadSiteConfig } from '../gateway/config.ts';
import { DEFAULT_EVIDENCE_KEY_FILE } from '../server/domain-routes.ts';
import {
  buildEvidence,
  digestingSource,
  linesSource,
  loadEvidenceKey,
  verifyEvidenceSignature,
} from '../server/evidence-service.ts';
import { version } from './main.ts';

function makeStore(v: { store: string; sqlite: string; influx: string; db: string }): TimeSeriesStore {
  if (v.store === 'influx') return new InfluxStore({ url: v.influx, database: v.db });
  if (v.store === 'sqlite') return new SqliteStore({ path: v.sqlite });
  throw new MrvError('MRV_E_CONFIG', `--store: expected sqlite or influx, got "${v.store}"`);
}

/** `mrv evidence`: writes the package (or a rendering) to --out or stdout. Exit 0, or 1 on error. */
export async function evidence(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      unit: { type: 'string' },
      month: { type: 'string' },
      format: { type: 'string', default: 'json' },
      out: { type: 'string' },
      site: { type: 'string', multiple: true, default: [] },
      key: { type: 'string', default: DEFAULT_EVIDENCE_KEY_FILE },
      'readings-out': { type: 'string' },
      store: { type: 'string', default: 'sqlite' },
      sqlite: { type: 'string', default: '.data/mrv.sqlite' },
      influx: { type: 'string', default: 'http://127.0.0.1:8086' },
      db: { type: 'string', default: 'mrv' },
    },
  });
  if (!v.unit || !v.month) throw new MrvError('MRV_E_CONFIG', 'give --unit ID and --month yyyy-mm');
  if (!['json', 'csv', 'html'].includes(v.format))
    throw new MrvError('MRV_E_CONFIG', `--format: json, csv or html, got "${v.format}"`);
  const sites: SiteConfig[] = v.site.map((f) => loadSiteConfig(f).site);
  const store = makeStore(v);
  await store.start();
  const readingsOut = v['readings-out'] ? createWriteStream(v['readings-out']) : undefined;
  try {
    const pkg = await buildEvidence({
      store,
      unitId: v.unit,
      month: v.month,
      now: systemClock.now(),
      generator: `carbon-mrv ${version()}`,
      key: loadEvidenceKey(v.key, true),
      sites,
      ...(readingsOut ? { sink: (line: string) => readingsOut.write(`${line}\n`) } : {}),
    });
    const text =
      v.format === 'csv'
        ? `\uFEFF${evidenceCsv(pkg)}`
        : v.format === 'html'
          ? evidenceHtml(pkg)
          : `${JSON.stringify(pkg, null, 1)}\n`;
    if (v.out) writeFileSync(v.out, text);
    else process.stdout.write(text);
    process.stderr.write(
      `evidence ${pkg.unit.id} ${pkg.month}: ${pkg.parameters.length} parameters, ${pkg.findings.length} findings, ${pkg.rawData?.readings ?? 0} readings, total ${pkg.emissions.totalCo2e} t CO2e, signed by ${pkg.signature.keyId}\n`,
    );
    return 0;
  } finally {
    if (readingsOut) await new Promise((r) => readingsOut.end(r));
    await store.stop();
  }
}

/** Verifies one kind of file. Resolves with the exit code (0 accepted, 1 rejected). */
export type Verifier = (doc: Record<string, unknown>, args: string[]) => Promise<number>;

/** Verifiers by the file's `kind` field. Issue 4 adds the exported batch ranges here. */
export const VERIFIERS: Record<string, Verifier> = { 'monthly-evidence': verifyEvidence };

/** `mrv verify FILE ...`: dispatches on the file's `kind`. */
export async function verify(args: string[]): Promise<number> {
  const file = args.find((a) => !a.startsWith('-'));
  if (!file)
    throw new MrvError('MRV_E_CONFIG', 'usage: mrv verify FILE [--readings FILE] [--public-key FILE]');
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MrvError('MRV_E_CONFIG', `${file}: not a JSON file (${(err as Error).message})`);
  }
  const kind = (doc as { kind?: unknown })?.kind;
  const verifier = typeof kind === 'string' ? VERIFIERS[kind] : undefined;
  if (!verifier)
    throw new MrvError(
      'MRV_E_CONFIG',
      `${file}: unknown kind ${JSON.stringify(kind)}; mrv verify knows ${Object.keys(VERIFIERS).join(', ')}`,
    );
  return verifier(
    doc as Record<string, unknown>,
    args.filter((a) => a !== file),
  );
}

/** Differences between two JSON values, as paths (at most 20). */
function diffPaths(a: unknown, b: unknown, path = '$', out: string[] = []): string[] {
  if (out.length >= 20) return out;
  if (canonicalJson(a) === canonicalJson(b)) return out;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys)
      diffPaths(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`,
        out,
      );
    return out;
  }
  out.push(
    `${path}: package ${JSON.stringify(a)?.slice(0, 80)} ≠ recomputed ${JSON.stringify(b)?.slice(0, 80)}`,
  );
  return out;
}

async function verifyEvidence(doc: Record<string, unknown>, args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: { readings: { type: 'string' }, 'public-key': { type: 'string' } },
  });
  const pkg = doc as unknown as EvidencePackage;
  const trusted = v['public-key'] ? readFileSync(v['public-key'], 'utf8') : undefined;
  const sig = verifyEvidenceSignature(pkg, trusted);
  if (!sig.ok) {
    process.stdout.write(`REJECTED: signature: ${sig.reason}\n`);
    return 1;
  }
  process.stdout.write(
    `signature: OK (Ed25519, key ${sig.keyId}${trusted ? ', trusted key' : ', key carried in the package'})\n`,
  );
  if (!v.readings) {
    process.stdout.write(
      'values: not recomputed (give --readings FILE from `mrv evidence --readings-out`)\nACCEPTED\n',
    );
    return 0;
  }
  const lines = readFileSync(v.readings, 'utf8').split('\n');
  const { source, finish } = digestingSource(linesSource(lines));
  const { inputs } = pkg;
  const body = await computeEvidence({
    catalogue: inputs.catalogue,
    month: pkg.month,
    source,
    factorPack: inputs.factorPack,
    rulePack: inputs.rulePack,
    generatedAt: Date.parse(pkg.generatedAt),
    generator: pkg.generator,
    config: pkg.config,
    storedFindings: pkg.storedFindings,
  });
  const raw = finish();
  const { signature: _s, ...claimed } = pkg;
  const recomputed = { ...body, rawData: { ...raw, window: pkg.rawData?.window ?? raw.window } };
  const diffs = diffPaths(JSON.parse(JSON.stringify(claimed)), JSON.parse(JSON.stringify(recomputed)));
  if (diffs.length > 0) {
    process.stdout.write(`REJECTED: values differ from the recomputation:\n  ${diffs.join('\n  ')}\n`);
    return 1;
  }
  process.stdout.write(
    `values: recomputed from ${raw.readings} readings, digest ${raw.digest}: identical\nACCEPTED\n`,
  );
  return 0;
}
