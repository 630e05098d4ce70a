/**
 * `mrv verify` and `mrv export-batches`: offline verification of a gateway's archived batches with
 * only the public keys (docs/architecture.md §5, §6).
 *
 * `mrv export-batches --unit U --gateway G [--from-seq N] [--to-seq M] [--out FILE] [store flags]`
 * writes the archive range as JSON lines, one `{unitId, gatewayId, seq, canonical, sig}` per batch
 * (`canonical` = the exact signed bytes as UTF-8 text).
 *
 * `mrv verify --keys REGISTRY (--batches FILE | --unit U --gateway G [store flags]) [--from-seq N] [--to-seq M]`
 * checks every signature and every `prevHash` link (read from the signed bytes) and that seq has no gap,
 * prints a report and the first broken link, and exits 0 when all is well, 1 when anything is broken.
 * A batch whose bytes were altered after signing shows as `MRV_F_BAD_SIGNATURE` at its seq (and
 * `MRV_F_CHAIN_BROKEN` at the next one). A gap the gateway declared itself (signed Batch `lost`) is
 * reported as "gap declared by the gateway, cause X" and the chain as `INCOMPLETE`, not `BROKEN`
 * (exit 1 still: readings are missing).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type KeyRegistry, loadKeyRegistry } from '../collector/keys.ts';
import type { TimeSeriesStore } from '../collector/store.ts';
import { MrvError } from '../core/errors.ts';
import {
  type ChainProblem,
  type ChainReport,
  type SignatureCheck,
  type SignedBatchBytes,
  verifyChain,
} from '../core/signing.ts';
import { makeStore, storeFlags } from './store-options.ts';

/** One exported batch (a line of the export file). */
export interface ExportedBatch extends SignedBatchBytes {
  unitId: string;
  gatewayId: string;
  seq: number;
}

const storeOptions = {
  ...storeFlags,
  unit: { type: 'string' },
  gateway: { type: 'string' },
  'from-seq': { type: 'string' },
  'to-seq': { type: 'string' },
} as const;

function seqFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new MrvError('MRV_E_CONFIG', `--${name}: expected a positive integer, got "${v}"`);
  return n;
}

/**
 * Reads a gateway's archived batches from a store, lowest seq first, all of them in the range.
 * @throws MrvError `MRV_E_STORE`
 */
export async function exportBatches(
  store: TimeSeriesStore,
  q: { unitId: string; gatewayId: string; fromSeq?: number | undefined; toSeq?: number | undefined },
): Promise<ExportedBatch[]> {
  const out: ExportedBatch[] = [];
  let from = q.fromSeq ?? 1;
  for (;;) {
    const page = await store.listBatches({
      unitId: q.unitId,
      gatewayId: q.gatewayId,
      fromSeq: from,
      ...(q.toSeq !== undefined ? { toSeq: q.toSeq } : {}),
      limit: 10_000,
    });
    for (const b of page)
      out.push({ unitId: b.unitId, gatewayId: b.gatewayId, seq: b.seq, canonical: b.canonical, sig: b.sig });
    if (page.length < 10_000) return out;
    from = (page.at(-1)?.seq ?? from) + 1;
  }
}

/** Parses an export file (JSON lines). @throws MrvError `MRV_E_CONFIG` naming the bad line */
export function readExport(file: string): ExportedBatch[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MrvError('MRV_E_CONFIG', `cannot read ${file}: ${(err as Error).message}`);
  }
  return text
    .split('\n')
    .map((l, i) => [l, i + 1] as const)
    .filter(([l]) => l.trim() !== '')
    .map(([l, n]) => {
      try {
        const b = JSON.parse(l) as ExportedBatch;
        if (typeof b.canonical !== 'string' || typeof b.gatewayId !== 'string')
          throw new Error('expected {unitId, gatewayId, seq, canonical, sig}');
        return b;
      } catch (err) {
        throw new MrvError('MRV_E_CONFIG', `${file}:${n}: ${(err as Error).message}`);
      }
    });
}

/** Human-readable report of one gateway's chain. */
export function formatReport(unitId: string, gatewayId: string, r: ChainReport): string {
  const head = `${unitId}/${gatewayId}: ${r.checked} batches, seq ${r.fromSeq}..${r.toSeq}`;
  if (!r.first) return `${head}: OK (every signature and hash link verifies, no gaps)\n`;
  // Only gaps the gateway declared (signed) itself: data is missing, nothing points to tampering.
  const lines = r.problems.every((p) => p.declared)
    ? [
        `${head}: INCOMPLETE (every signature and hash link verifies; the gaps were declared by the gateway)`,
        `  first gap: seq ${r.first.seq}: ${r.first.code}: ${r.first.message}`,
      ]
    : [`${head}: BROKEN`, `  first broken link: seq ${r.first.seq}: ${r.first.code}: ${r.first.message}`];
  for (const p of r.problems.slice(1, 20)) lines.push(`  also: seq ${p.seq}: ${p.code}: ${p.message}`);
  if (r.problems.length > 20) lines.push(`  ... and ${r.problems.length - 20} more`);
  return `${lines.join('\n')}\n`;
}

/** `mrv export-batches`. */
export async function exportCommand(args: string[]): Promise<number> {
  const { values: v } = parseArgs({ args, options: { ...storeOptions, out: { type: 'string' } } });
  if (!v.unit || !v.gateway) throw new MrvError('MRV_E_CONFIG', 'missing --unit ID and --gateway ID');
  const store = makeStore(v);
  await store.start();
  try {
    const batches = await exportBatches(store, {
      unitId: v.unit,
      gatewayId: v.gateway,
      fromSeq: seqFlag('from-seq', v['from-seq']),
      toSeq: seqFlag('to-seq', v['to-seq']),
    });
    const text = batches.map((b) => JSON.stringify(b)).join('\n') + (batches.length ? '\n' : '');
    if (v.out) writeFileSync(v.out, text);
    else process.stdout.write(text);
    process.stderr.write(`exported ${batches.length} batches\n`);
  } finally {
    await store.stop();
  }
  return 0;
}

/** `mrv verify`: exit 0 when every chain verifies, 1 when one is broken. */
export async function verifyCommand(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: { ...storeOptions, keys: { type: 'string' }, batches: { type: 'string' } },
  });
  if (!v.keys)
    throw new MrvError(
      'MRV_E_CONFIG',
      'missing --keys REGISTRY (a *.pub.json file or a folder of them, from mrv keygen)',
    );
  const keys = loadKeyRegistry(v.keys);
  let batches: ExportedBatch[];
  if (v.batches) batches = readExport(v.batches);
  else {
    if (!v.unit || !v.gateway)
      throw new MrvError(
        'MRV_E_CONFIG',
        'give --batches FILE, or --unit ID and --gateway ID to read the store',
      );
    const store = makeStore(v);
    await store.start();
    try {
      batches = await exportBatches(store, {
        unitId: v.unit,
        gatewayId: v.gateway,
        fromSeq: seqFlag('from-seq', v['from-seq']),
        toSeq: seqFlag('to-seq', v['to-seq']),
      });
    } finally {
      await store.stop();
    }
  }
  if (batches.length === 0) {
    process.stdout.write('no batches to verify\n');
    return 1;
  }
  const check = checkChains(batches, keys);
  process.stdout.write(check.text);
  return check.problems.length > 0 ? 1 : 0;
}

/**
 * The {@link SignatureCheck} of one gateway's exported batches: the key of (unit, gateway) valid at each
 * batch's `sentAt` (read from the signed bytes), as the collector decides it (collector/keys.ts).
 */
export function signatureCheck(keys: KeyRegistry, unitId: string, gatewayId: string): SignatureCheck {
  return (rec, seq) => {
    let sentAt = Number.NaN;
    try {
      sentAt = Date.parse((JSON.parse(rec.canonical) as { sentAt?: string }).sentAt ?? '');
    } catch {}
    const who = keys.identify(unitId, gatewayId, Buffer.from(rec.canonical, 'utf8'), rec.sig, sentAt);
    switch (who.kind) {
      case 'valid':
        return undefined;
      case 'unknown':
        return {
          code: 'MRV_F_UNKNOWN_KEY',
          message: `no public key of ${unitId}/${gatewayId} in the registry`,
        };
      case 'bad':
        return {
          code: 'MRV_F_BAD_SIGNATURE',
          message: rec.sig
            ? `batch ${seq}: signature does not verify: the batch was altered or signed by another key`
            : `batch ${seq} is not signed`,
        };
      case 'mismatch':
        return {
          code: 'MRV_F_KEY_MISMATCH',
          message: `batch ${seq} is signed by key ${who.entry.keyId} of ${who.entry.unitId}/${who.entry.gatewayId}, not of ${unitId}/${gatewayId}`,
        };
      default:
        return {
          code: 'MRV_F_KEY_REVOKED',
          message: `batch ${seq} (sentAt ${Number.isNaN(sentAt) ? 'missing' : new Date(sentAt).toISOString()}) is signed by key ${who.entry.keyId}, ${who.kind === 'revoked' ? `revoked at ${new Date(who.entry.revokedAt).toISOString()}` : 'outside its validity'}`,
        };
    }
  };
}

/** Result of {@link checkChains}. */
export interface ChainsCheck {
  /** The {@link formatReport} of every gateway, gateways in the order first seen. */
  text: string;
  /** Every problem found, with the gateway it belongs to. */
  problems: (ChainProblem & { unitId: string; gatewayId: string })[];
}

/**
 * Verifies exported batches offline, per gateway (as each line names it): signatures against the
 * gateway's key in `keys`, hash links and seq continuity ({@link verifyChain}).
 */
export function checkChains(batches: readonly ExportedBatch[], keys: KeyRegistry): ChainsCheck {
  const byGateway = new Map<string, ExportedBatch[]>();
  for (const b of batches) {
    const k = `${b.unitId}/${b.gatewayId}`;
    const list = byGateway.get(k);
    if (list) list.push(b);
    else byGateway.set(k, [b]);
  }
  let text = '';
  const problems: ChainsCheck['problems'] = [];
  for (const [k, list] of byGateway) {
    const [unitId, gatewayId] = k.split('/') as [string, string];
    const report = verifyChain(list, signatureCheck(keys, unitId, gatewayId));
    for (const p of report.problems) problems.push({ ...p, unitId, gatewayId });
    text += formatReport(unitId, gatewayId, report);
  }
  return { text, problems };
}
