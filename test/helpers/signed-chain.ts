/**
 * Signed, hash-chained batches of one gateway as a gateway makes them (core/signing.ts), one reading
 * each, for the collector's integrity tests: seq 1..n, reading `p1` = seq × 10 at `t0 + seq` seconds.
 */
import type { KeyObject } from 'node:crypto';
import { type Batch, GENESIS_HASH, type LostRange } from '../../core/schema/wire.ts';
import { batchHash, signBatch } from '../../core/signing.ts';

/** Options of {@link signedChain}. */
export interface SignedChainOptions {
  unitId?: string;
  gatewayId?: string;
  /** ms epoch; default 2026-03-01T00:00:00Z. */
  t0?: number;
  /** `backlogFrom` per seq, as the gateway wrote it into that batch. */
  backlog?: Record<number, number>;
  /** Batch `seq` carries this `prevHash` instead of its predecessor's hash. */
  tamper?: { seq: number; prevHash: string };
  /** `lost` per seq, as the gateway declared it in that batch (wire.ts). */
  lost?: Record<number, LostRange[]>;
  /** Batch `seq` chains from the hash of batch `from` instead of `seq - 1` (a gateway that lost a hash). */
  chainFrom?: Record<number, number>;
}

/** `n` batches signed with `privateKey` (Ed25519), chained from {@link GENESIS_HASH}. */
export function signedChain(n: number, privateKey: KeyObject, o: SignedChainOptions = {}): Batch[] {
  const t0 = o.t0 ?? Date.parse('2026-03-01T00:00:00.000Z');
  const out: Batch[] = [];
  let prev = GENESIS_HASH;
  const hashes = [GENESIS_HASH];
  for (let seq = 1; seq <= n; seq++) {
    const ts = new Date(t0 + seq * 1000).toISOString();
    const backlogFrom = o.backlog?.[seq];
    const lost = o.lost?.[seq];
    const from = o.chainFrom?.[seq];
    if (from !== undefined) prev = hashes[from] as string;
    const b = signBatch(
      {
        v: 1,
        unitId: o.unitId ?? 'U1',
        gatewayId: o.gatewayId ?? 'gw1',
        seq,
        prevHash: o.tamper?.seq === seq ? o.tamper.prevHash : prev,
        sentAt: ts,
        device: 'd1',
        readings: [{ point: 'p1', ts, rxTs: ts, value: String(seq * 10), quality: 'good' }],
        ...(backlogFrom !== undefined ? { backlogFrom } : {}),
        ...(lost !== undefined ? { lost } : {}),
      },
      privateKey,
    );
    prev = batchHash(b);
    hashes.push(prev);
    out.push(b);
  }
  return out;
}
