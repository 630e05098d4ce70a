/**
 * `mrv evidence` and `mrv verify` (docs/architecture.md §2, §7).
 *
 * mrv evidence --unit ID --month yyyy-mm [--format json|csv|html|xlsx] [--out FILE] [--site FILE]...
 *              [--key FILE] [--readings-out FILE] [--store sqlite|influx] [--sqlite FILE] [--influx URL] [--db mrv]
 *              [--clock-tolerance-ms N] [--state-db FILE|postgres://... [--state-db-password-file F]]
 *   builds and signs the monthly evidence package from the store (the same code as the HTTP route);
 *   --clock-tolerance-ms: how late readings may be stamped (data of `mrv demo --speed N`: N × 250);
 *   --state-db: the server's state database, whose meter ledger (server/state/meter-ledger.ts) gives the
 *   meters' certificates in place of the site files', as the server's evidence route does.
 * mrv verify FILE (--trusted-keys FILE|DIR | --public-key FILE) [--factor-pack FILE]... [--batches EXPORT --keys REGISTRY | --readings FILE]
 *   dispatches on the file's content: a monthly evidence package (`kind: "monthly-evidence"`) has its
 *   Ed25519 signature checked against the trusted keys only (never the key the package carries; none
 *   given: `MRV_E_NO_TRUSTED_KEYS`; signed by another key: `REJECTED: signature: MRV_E_UNTRUSTED_KEY`,
 *   exit 1), its factor pack checked against the packs the verifier knows (evidence/factor-packs.ts: the
 *   shipped packs and `--factor-pack FILE`; another: `REJECTED: factor pack: MRV_E_FACTOR_PACK_UNKNOWN`,
 *   exit 1) and, given its raw signed batches (`mrv export-batches`) or the exported
 *   readings (`--readings-out`), its values recomputed and compared; batches are checked too (signature,
 *   chain, the package's batch digest). A confirmation receipt (`kind: "evidence-confirmation"`, `GET
 *   .../confirmations/{month}/versions/{n}/receipt`) has its signature checked the same way and, with
 *   `--package FILE`, the file's SHA-256 against the one it names. Other kinds register in {@link VERIFIERS}. Without FILE,
 *   `mrv verify --keys ...` checks a batch range (cli/verify-batches.ts).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadKeyRegistry } from '../collector/keys.ts';
import {
  type BatchLister,
  computeEvidence,
  type EvidencePackage,
  type EvidenceRawData,
  evidenceCsv,
  evidenceHtml,
  formatBatchSet,
  type ReadingSource,
} from '../core/domain/index.ts';
import { MrvError } from '../core/errors.ts';
import { canonicalJson } from '../core/schema/canonical.ts';
import type { SiteConfig } from '../core/schema/site.ts';
import { systemClock } from '../core/time.ts';
import { type ConfirmationReceipt, verifyReceipt } from '../evidence/confirmation-receipt.ts';
import { checkFactorPack, knownFactorPacks } from '../evidence/factor-packs.ts';
import {
  batchesSource,
  buildEvidence,
  DEFAULT_EVIDENCE_KEY_FILE,
  digestingSource,
  linesSource,
  loadEvidenceKey,
  loadTrustedKeys,
  RAW_DATA_KIND_V1,
  RAW_DATA_KIND_V2,
  type RawDataKind,
  type TrustedEvidenceKey,
  verifyEvidenceSignature,
} from '../evidence/service.ts';
import { evidenceXlsx } from '../evidence/xlsx-export.ts';
import { loadSiteConfig } from '../gateway/config.ts';
import { packageVersion } from '../ops/package-root.ts';
import { ledgerOf } from '../server/state/meter-ledger.ts';
import type { StateStore } from '../server/state/state-store.ts';
import { openStateFromFlags, stateDbFlags } from './state-options.ts';
import { makeStore, storeFlags } from './store-options.ts';
import { loadUnitRegistry, unitsFileFlag } from './unit-registry.ts';
import { checkChains, readExport, verifyCommand } from './verify-batches.ts';

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
      'clock-tolerance-ms': { type: 'string' },
      ...storeFlags,
      ...unitsFileFlag,
      ...stateDbFlags,
    },
  });
  const tolerance = v['clock-tolerance-ms'] === undefined ? undefined : Number(v['clock-tolerance-ms']);
  if (tolerance !== undefined && !(Number.isInteger(tolerance) && tolerance >= 0))
    throw new MrvError(
      'MRV_E_CONFIG',
      `--clock-tolerance-ms: a whole number of ms >= 0, got "${v['clock-tolerance-ms']}"`,
    );
  if (!v.unit || !v.month) throw new MrvError('MRV_E_CONFIG', 'give --unit ID and --month yyyy-mm');
  if (!['json', 'csv', 'html', 'xlsx'].includes(v.format))
    throw new MrvError('MRV_E_CONFIG', `--format: json, csv, html or xlsx, got "${v.format}"`);
  if (v.format === 'xlsx' && !v.out)
    throw new MrvError('MRV_E_CONFIG', '--format xlsx writes a binary file: give --out FILE.xlsx');
  const sites: SiteConfig[] = v.site.map((f) => loadSiteConfig(f).site);
  // The unit's name, industry and province as registered (issue 17), not as a gateway claims them.
  const units = v['units-file'] ? loadUnitRegistry(v['units-file']) : undefined;
  if (units && !units.get(v.unit))
    throw new MrvError(
      'MRV_E_CONFIG',
      `unit ${v.unit} is not in the unit registry ${v['units-file']}: register it before issuing evidence`,
    );
  // The meter ledger's certificates when the server's state database is named (opt-in: without it the
  // site files' certificates, as before the ledger).
  const stateDb = v['state-db'];
  const state: StateStore | undefined =
    stateDb !== undefined && stateDb !== ''
      ? await openStateFromFlags({
          'state-db': stateDb,
          'state-db-password-file': v['state-db-password-file'],
          'data-dir': '.',
        })
      : undefined;
  const ledger = state ? ledgerOf(state) : undefined;
  const store = makeStore(v);
  try {
    await store.start();
  } catch (err) {
    await state?.close();
    throw err;
  }
  const readingsOut = v['readings-out'] ? createWriteStream(v['readings-out']) : undefined;
  try {
    const pkg = await buildEvidence({
      store,
      unitId: v.unit,
      month: v.month,
      now: systemClock.now(),
      generator: `carbon-mrv ${packageVersion()}`,
      key: loadEvidenceKey(v.key, true),
      sites,
      ...(units ? { units } : {}),
      ...(readingsOut ? { sink: (line: string) => readingsOut.write(`${line}\n`) } : {}),
      ...(tolerance ? { config: { clockToleranceMs: tolerance } } : {}),
      ...(ledger ? { ledgerMeters: (unitId: string) => ledger.meterMetas(unitId) } : {}),
    });
    // XLSX: the key parameters for the national platform's form, traced to the JSON the server would
    // serve for this package (not confirmed: confirmation happens on the server, which freezes it).
    const text: string | Buffer =
      v.format === 'xlsx'
        ? await evidenceXlsx(pkg, {
            sha256: createHash('sha256').update(JSON.stringify(pkg), 'utf8').digest('hex'),
          })
        : v.format === 'csv'
          ? `\uFEFF${evidenceCsv(pkg)}`
          : v.format === 'html'
            ? evidenceHtml(pkg)
            : `${JSON.stringify(pkg, null, 1)}\n`;
    if (v.out) writeFileSync(v.out, text);
    else process.stdout.write(text);
    process.stderr.write(
      `evidence ${pkg.unit.id} ${pkg.month}: ${contentLine(pkg)}; ${pkg.parameters.length} parameters, ${pkg.findings.length} findings, ${pkg.storedFindings.length} open stored findings, ${pkg.resolvedFindings?.length ?? 0} resolved, ${pkg.rawData?.readings ?? 0} readings in ${pkg.rawData?.batches.count ?? 0} batches (${pkg.rawData?.missingBatches.count ?? 0} not in the archive), total ${pkg.emissions.totalCo2e} t CO2e, signed by ${pkg.signature.keyId}\n`,
    );
    return 0;
  } finally {
    if (readingsOut) await new Promise((r) => readingsOut.end(r));
    await store.stop();
    await state?.close();
  }
}

/** Verifies one kind of file. Resolves with the exit code (0 accepted, 1 rejected). */
export type Verifier = (doc: Record<string, unknown>, args: string[]) => Promise<number>;

/**
 * Verifies a confirmation receipt (evidence/confirmation-receipt.ts): its signature against the trusted
 * keys only, then with `--package FILE` that the file is the frozen package it names (SHA-256 of its
 * bytes). The package itself is checked with `mrv verify FILE` as any package.
 */
async function verifyConfirmation(doc: Record<string, unknown>, args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      'public-key': { type: 'string' },
      'trusted-keys': { type: 'string' },
      package: { type: 'string' },
    },
    strict: false,
  });
  const str = (x: unknown) => (typeof x === 'string' ? x : undefined);
  const trusted: TrustedEvidenceKey[] = [
    ...(str(v['trusted-keys']) ? loadTrustedKeys(str(v['trusted-keys']) as string) : []),
    ...(str(v['public-key']) ? loadTrustedKeys(str(v['public-key']) as string) : []),
  ];
  const pkgFile = str(v.package);
  const r = verifyReceipt(doc, trusted, pkgFile ? readFileSync(pkgFile) : undefined);
  const out = (text: string) => process.stdout.write(text);
  if (!r.signature.ok) {
    out(`REJECTED: signature: ${r.signature.code}: ${r.signature.reason}\n`);
    return 1;
  }
  const c = doc as unknown as ConfirmationReceipt;
  out(`signature: OK (Ed25519, trusted key ${r.signature.keyId}, owner ${r.signature.owner})\n`);
  out(
    `confirmation: ${c.unitId} ${c.month} version ${c.version} (${c.contentStatus}), confirmed by ${c.confirmedByName} (${c.confirmedBy}) at ${c.confirmedAt}${c.supersedes ? `; supersedes version ${c.supersedes.version} (sha256 ${c.supersedes.sha256})` : ''}\n`,
  );
  if (!r.package) {
    out(
      `package: not checked (give --package FILE: version ${c.version}'s frozen bytes, sha256 ${c.packageSha256})\nACCEPTED\n`,
    );
    return 0;
  }
  if (!r.package.matches) {
    out(`REJECTED: package: ${r.reason}\n`);
    return 1;
  }
  out(`package: ${pkgFile} sha256 ${r.package.sha256}: the confirmed bytes\nACCEPTED\n`);
  return 0;
}

/** Verifiers by the file's `kind` field. Issue 4 adds the exported batch ranges here. */
export const VERIFIERS: Record<string, Verifier> = {
  'monthly-evidence': verifyEvidence,
  'evidence-confirmation': verifyConfirmation,
};

/** Every flag of `mrv verify` (evidence packages and batch ranges), so positionals are found exactly. */
const VERIFY_FLAGS: Record<string, { type: 'string'; multiple?: boolean }> = Object.fromEntries(
  [
    'readings',
    'public-key',
    'trusted-keys',
    'batches',
    'keys',
    'unit',
    'gateway',
    'from-seq',
    'to-seq',
    'store',
    'sqlite',
    'influx',
    'db',
    'package',
  ].map((k) => [k, { type: 'string' as const }]),
);
// Repeatable: every pack the verifier accepts besides the shipped ones.
VERIFY_FLAGS['factor-pack'] = { type: 'string', multiple: true };

/**
 * `mrv verify ...`: with a FILE, dispatches on the file's `kind` ({@link VERIFIERS}); without one,
 * verifies a batch range (`--keys` with `--batches FILE` or `--unit --gateway`, cli/verify-batches.ts).
 */
export async function verify(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, options: VERIFY_FLAGS, allowPositionals: true });
  const file = positionals[0];
  if (!file) return verifyCommand(args);
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

/**
 * The content status of a package in one line (`content: incomplete (month_not_over, gaps), judged up
 * to …, covered 0.9500`), or a line saying a formatVersion 1 package carries none.
 */
function contentLine(pkg: EvidencePackage): string {
  const c = pkg.content;
  if (!c) return `content: not stated (formatVersion ${pkg.formatVersion})`;
  const notices = pkg.notices?.length
    ? `, ${pkg.notices.length} parameters by default, estimate or missing`
    : '';
  return `content: ${c.status}${c.reasons.length ? ` (${c.reasons.join(', ')})` : ''}, judged up to ${c.judgedTo}, covered ${c.coveredShare ?? '—'}${notices}`;
}

/** The readings-digest encoding a package names; the current one when it names none or an unknown one. */
function claimedKind(pkg: EvidencePackage): RawDataKind {
  const kind = pkg.rawData?.kind;
  return kind === RAW_DATA_KIND_V1 ? RAW_DATA_KIND_V1 : RAW_DATA_KIND_V2;
}

/** Differences between two JSON values, as paths (at most 20). */
function diffPaths(a: unknown, b: unknown, path = '$', out: string[] = []): string[] {
  if (out.length >= 20) return out;
  if (a === undefined || b === undefined) {
    if (a !== b)
      out.push(
        `${path}: package ${JSON.stringify(a)?.slice(0, 80)} ≠ recomputed ${JSON.stringify(b)?.slice(0, 80)}`,
      );
    return out;
  }
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

/**
 * Verifies a monthly evidence package: its signature, then, given its raw data, recomputes it and
 * compares every value. `--readings FILE` (from `--readings-out`) recomputes from the readings (the
 * batch digest is not checked then); `--batches EXPORT --keys REGISTRY` (from `mrv export-batches`)
 * checks every batch's signature and hash chain ({@link checkChains}), recomputes the readings from inside
 * the batches, the cited batch ranges and the batch digest, and names every altered batch.
 */
async function verifyEvidence(doc: Record<string, unknown>, args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      readings: { type: 'string' },
      'public-key': { type: 'string' },
      'trusted-keys': { type: 'string' },
      batches: { type: 'string' },
      keys: { type: 'string' },
      'factor-pack': { type: 'string', multiple: true },
    },
  });
  // Trust comes from the verifier, never from the package (it carries a key anyone can replace).
  const trusted: TrustedEvidenceKey[] = [
    ...(v['trusted-keys'] ? loadTrustedKeys(v['trusted-keys']) : []),
    ...(v['public-key'] ? loadTrustedKeys(v['public-key']) : []),
  ];
  if (v.readings && v.batches)
    throw new MrvError('MRV_E_CONFIG', 'give --readings FILE or --batches FILE, not both');
  if (v.batches && !v.keys)
    throw new MrvError(
      'MRV_E_CONFIG',
      "--batches needs --keys REGISTRY (the gateways' public keys, from mrv keygen)",
    );
  const pkg = doc as unknown as EvidencePackage;
  const out = (text: string) => process.stdout.write(text);
  const sig = verifyEvidenceSignature(pkg, trusted);
  if (!sig.ok) {
    out(`REJECTED: signature: ${sig.code}: ${sig.reason}\n`);
    return 1;
  }
  out(`signature: OK (Ed25519, trusted key ${sig.keyId}, owner ${sig.owner})\n`);
  // Right after the signature (never for a package that fails it): what the package says it knows,
  // because a good signature says nothing about completeness.
  out(`${contentLine(pkg)}\n`);
  // The pack travels inside the package: it is trusted only when the verifier knows it (issue 18).
  const packCheck = checkFactorPack(
    pkg.inputs.factorPack,
    pkg.emissions.factorPack.digest,
    knownFactorPacks(v['factor-pack'] ?? []),
  );
  if (!packCheck.ok) {
    out(`REJECTED: factor pack: ${packCheck.code}: ${packCheck.reason}\n`);
    return 1;
  }
  out(
    `factor pack: OK (${packCheck.known.id}@${packCheck.known.packVersion}, sha256 ${packCheck.digest}, ${packCheck.known.file}); ${pkg.emissions.unconfirmedFactors?.length ?? 0} unconfirmed factors used\n`,
  );
  if (!v.readings && !v.batches) {
    out(
      'values: not recomputed (give --batches EXPORT --keys REGISTRY from `mrv export-batches`, or --readings FILE from `mrv evidence --readings-out`)\nACCEPTED\n',
    );
    return 0;
  }
  const rejections: string[] = [];
  let source: ReadingSource;
  let list: BatchLister | undefined;
  if (v.batches) {
    const exported = readExport(v.batches).filter((b) => b.unitId === pkg.unit.id);
    const chains = checkChains(exported, loadKeyRegistry(v.keys as string));
    out(chains.text);
    if (chains.problems.length > 0)
      rejections.push(
        `batches fail verification: ${chains.problems
          .slice(0, 10)
          .map((p) => `${p.gatewayId}#${p.seq} ${p.code}`)
          .join(', ')}${chains.problems.length > 10 ? ` … and ${chains.problems.length - 10} more` : ''}`,
      );
    ({ source, list } = batchesSource(pkg.unit.id, exported));
  } else source = linesSource(readFileSync(v.readings as string, 'utf8').split('\n'));

  // The readings digest is recomputed in the encoding the package names (v1 packages stay verifiable).
  const { source: digesting, finish } = digestingSource(source, undefined, claimedKind(pkg));
  const { inputs } = pkg;
  const body = await computeEvidence({
    catalogue: inputs.catalogue,
    month: pkg.month,
    source: digesting,
    factorPack: inputs.factorPack,
    rulePack: inputs.rulePack,
    generatedAt: Date.parse(pkg.generatedAt),
    generator: pkg.generator,
    config: pkg.config,
    ...(pkg.emissions.factorPack.digest ? { factorPackDigest: pkg.emissions.factorPack.digest } : {}),
    // Each format is recomputed with its own rules (formatVersion 1 packages stay verifiable).
    formatVersion: pkg.formatVersion === 1 ? 1 : 2,
    // Open and resolved stored findings go back in as they were read: the split is recomputed.
    storedFindings: [...pkg.storedFindings, ...(pkg.resolvedFindings ?? [])],
  });
  const raw = await finish(list);
  const claimedRaw = pkg.rawData;
  if (claimedRaw && claimedRaw.missingBatches.count > 0)
    rejections.push(
      `the package cites ${claimedRaw.missingBatches.count} batches that were not in the archive when it was made (${formatBatchSet(claimedRaw.missingBatches)}): its values cannot be re-checked against signed batches`,
    );
  if (list && claimedRaw && raw.missingBatches.count > claimedRaw.missingBatches.count)
    rejections.push(
      `batches cited by the package are not in ${v.batches}: ${formatBatchSet(raw.missingBatches)}`,
    );
  const recomputedRaw: EvidenceRawData = {
    ...raw,
    window: claimedRaw?.window ?? raw.window,
    // From readings alone the archive is unknown: the batch digest is not recomputed.
    ...(list
      ? {}
      : {
          missingBatches: claimedRaw?.missingBatches ?? raw.missingBatches,
          batchDigest: claimedRaw?.batchDigest ?? null,
        }),
  };
  const { signature: _s, ...claimed } = pkg;
  // Packages made before 2026-12 do not list their unconfirmed factors (derived from the items, which
  // are compared): the list is not asked of them.
  if (pkg.emissions.unconfirmedFactors === undefined)
    delete (body.emissions as { unconfirmedFactors?: string[] }).unconfirmedFactors;
  const diffs = diffPaths(
    JSON.parse(JSON.stringify(claimed)),
    JSON.parse(JSON.stringify({ ...body, rawData: recomputedRaw })),
  );
  if (diffs.length > 0) rejections.push(`values differ from the recomputation:\n  ${diffs.join('\n  ')}`);
  if (rejections.length > 0) {
    out(`REJECTED: ${rejections.join('\nREJECTED: ')}\n`);
    return 1;
  }
  out(
    `values: recomputed from ${raw.readings} readings (digest ${raw.readingsDigest}): identical\n` +
      (list
        ? `batches: ${raw.batches.count} cited (${formatBatchSet(raw.batches)}), batch digest ${raw.batchDigest}: identical\n`
        : `batches: ${raw.batches.count} cited; batch digest ${claimedRaw?.batchDigest ?? null} not checked (give --batches EXPORT --keys REGISTRY)\n`),
  );
  out('ACCEPTED\n');
  return 0;
}
