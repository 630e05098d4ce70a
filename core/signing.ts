/**
 * Batch integrity (docs/architecture.md §4): the SHA-256 hash chain (`prevHash`) and Ed25519 signatures (`sig`)
 * over a batch's canonical bytes ({@link canonicalBytes}), with node:crypto only. Pure: keys come in as
 * PEM text or KeyObjects, never as files, so the gateway, the collector and the offline verifier
 * (`mrv verify`) share one definition of "valid".
 *
 * Ed25519 (RFC 8032) signs the message itself (no pre-hash), so `crypto.sign(null, bytes, key)`.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalBytes, canonicalMetaBytes } from './schema/canonical.ts';
import { type Batch, type GatewayMeta, GENESIS_HASH } from './schema/wire.ts';

/** SHA-256 (lower-case hex) of a batch's canonical bytes: the `prevHash` of the batch after it. */
export function batchHash(batch: Batch): string {
  return createHash('sha256').update(canonicalBytes(batch)).digest('hex');
}

/** SHA-256 (lower-case hex) of arbitrary bytes. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Parses an Ed25519 private key from PEM (PKCS#8, as written by `mrv keygen` or
 * `openssl genpkey -algorithm ed25519`).
 * @throws Error when the text is not a PEM private key or the key is not Ed25519
 */
export function parsePrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`expected an Ed25519 private key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/**
 * Parses an Ed25519 public key from PEM (SPKI). A private key PEM is accepted too (its public half is used).
 * @throws Error when the text is not a PEM key or the key is not Ed25519
 */
export function parsePublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`expected an Ed25519 public key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/** Returns the batch with `sig` = base64 Ed25519 signature over its canonical bytes (any old `sig` ignored). */
export function signBatch(batch: Batch, privateKey: KeyObject): Batch {
  const { sig: _old, ...unsigned } = batch;
  const sig = sign(null, canonicalBytes(unsigned), privateKey).toString('base64');
  return { ...unsigned, sig };
}

/**
 * Returns the catalogue with `sentAt` (ms epoch, written as ISO-8601) and `sig` = base64 Ed25519 over
 * its canonical bytes ({@link canonicalMetaBytes}), by the gateway's batch key (issue 17: a collector
 * takes only meta signed by a key of the topic's unit and gateway). Any old `sig` is ignored.
 */
export function signMeta(meta: GatewayMeta, privateKey: KeyObject, sentAt: number): GatewayMeta {
  const { sig: _old, ...rest } = meta;
  const unsigned: GatewayMeta = { ...rest, sentAt: new Date(sentAt).toISOString() };
  const sig = sign(null, canonicalMetaBytes(unsigned), privateKey).toString('base64');
  return { ...unsigned, sig };
}

/** True when `batch.sig` is a valid Ed25519 signature of its canonical bytes by `publicKey`; false when absent or wrong. */
export function verifyBatchSignature(batch: Batch, publicKey: KeyObject): boolean {
  return verifySignature(canonicalBytes(batch), batch.sig, publicKey);
}

/** A batch as archived or exported: its canonical bytes (UTF-8 text) and signature. */
export interface SignedBatchBytes {
  canonical: string;
  sig?: string | null | undefined;
}

/**
 * Checks one batch's signature for {@link verifyChain} when keys change over time (rotation,
 * revocation): returns the problem, or undefined when the signature is good and its key was valid.
 */
export type SignatureCheck = (
  rec: SignedBatchBytes,
  seq: number,
) => { code: ChainProblem['code']; message: string } | undefined;

/** One problem found by {@link verifyChain}. */
export interface ChainProblem {
  /** Index of the batch in the checked list. */
  index: number;
  seq: number;
  code:
    | 'MRV_F_BAD_SIGNATURE'
    | 'MRV_F_UNKNOWN_KEY'
    | 'MRV_F_KEY_MISMATCH'
    | 'MRV_F_KEY_REVOKED'
    | 'MRV_F_CHAIN_BROKEN'
    | 'MRV_F_SEQ_GAP'
    | 'MRV_F_SEQ_CONFLICT'
    | 'MRV_F_MALFORMED';
  message: string;
  /**
   * A gap the gateway declared itself (a signed Batch `lost` range covering every missing seq): its
   * cause and the seq of the batch that declared it. Missing data, not a sign of tampering.
   */
  declared?: { cause: string; in: number };
}

/** Result of {@link verifyChain}. */
export interface ChainReport {
  checked: number;
  /** Seq range covered (0 when empty). */
  fromSeq: number;
  toSeq: number;
  /** The first problem in seq order (the "first broken link"), or undefined when all is well. */
  first: ChainProblem | undefined;
  problems: ChainProblem[];
}

/** True when `sig` (base64) is a valid Ed25519 signature of `bytes` by `publicKey`. */
export function verifySignature(
  bytes: Uint8Array,
  sig: string | null | undefined,
  publicKey: KeyObject,
): boolean {
  if (!sig) return false;
  const raw = Buffer.from(sig, 'base64');
  if (raw.length !== 64) return false;
  try {
    return verify(null, bytes, publicKey, raw);
  } catch {
    return false;
  }
}

/**
 * Verifies an exported run of one gateway's batches offline, from their exact canonical bytes: each
 * signature against `publicKey`, each `prevHash` (read from the signed bytes) against the SHA-256 of
 * the batch before it, and that `seq` has no gaps or repeats. Sorted by seq first. The first batch's
 * `prevHash` is checked only when it is seq 1 (must be {@link GENESIS_HASH}) or `previousHash` (the
 * hash of batch `seq - 1`) is given. Gaps that the batches' own (signed) `lost` ranges cover are
 * reported with `declared` (cause and declaring seq), and a `prevHash` that is the hash of the batch
 * before such a range ending right before it is accepted (the gateway lost that batch's hash on its
 * disk; wire.ts `lost`).
 * @param publicKey the gateway's key, or a {@link SignatureCheck} per batch; `undefined` reports every
 *   batch as `MRV_F_UNKNOWN_KEY`
 */
export function verifyChain(
  batches: readonly SignedBatchBytes[],
  publicKey: KeyObject | SignatureCheck | undefined,
  previousHash?: string,
): ChainReport {
  const problems: ChainProblem[] = [];
  const parsed: { index: number; seq: number; prevHash: string; hash: string; rec: SignedBatchBytes }[] = [];
  /** Ranges declared lost in the batches (their signed `lost` field), with the declaring seq. */
  const declared: { from: number; to: number; cause: string; in: number }[] = [];
  batches.forEach((rec, index) => {
    let head: { seq?: unknown; prevHash?: unknown; lost?: unknown };
    try {
      head = JSON.parse(rec.canonical) as { seq?: unknown; prevHash?: unknown; lost?: unknown };
    } catch {
      head = {};
    }
    if (typeof head.seq === 'number' && Array.isArray(head.lost))
      for (const r of head.lost as { from?: unknown; to?: unknown; cause?: unknown }[])
        if (typeof r?.from === 'number' && typeof r.to === 'number' && typeof r.cause === 'string')
          declared.push({ from: r.from, to: Math.min(r.to, head.seq - 1), cause: r.cause, in: head.seq });
    if (typeof head.seq !== 'number' || typeof head.prevHash !== 'string') {
      problems.push({
        index,
        seq: -1,
        code: 'MRV_F_MALFORMED',
        message: 'not a batch: canonical bytes lack seq or prevHash',
      });
      return;
    }
    parsed.push({ index, seq: head.seq, prevHash: head.prevHash, hash: sha256Hex(rec.canonical), rec });
  });
  parsed.sort((x, y) => x.seq - y.seq);
  const hashOf = new Map(parsed.map((p) => [p.seq, p.hash]));
  /** The declared range covering every seq of `from..to`, if one does. */
  const covering = (from: number, to: number) => declared.find((r) => r.from <= from && to <= r.to);
  let prev: { seq: number; hash: string } | undefined;
  for (const { index, seq, prevHash, hash, rec } of parsed) {
    if (publicKey === undefined)
      problems.push({ index, seq, code: 'MRV_F_UNKNOWN_KEY', message: 'no public key for this gateway' });
    else if (typeof publicKey === 'function') {
      const p = publicKey(rec, seq);
      if (p) problems.push({ index, seq, ...p });
    } else if (!verifySignature(Buffer.from(rec.canonical, 'utf8'), rec.sig, publicKey))
      problems.push({
        index,
        seq,
        code: 'MRV_F_BAD_SIGNATURE',
        message: rec.sig
          ? `batch ${seq}: signature does not verify: the batch was altered or signed by another key`
          : `batch ${seq} is not signed`,
      });
    if (prev === undefined) {
      const expected = seq === 1 ? GENESIS_HASH : previousHash;
      if (expected !== undefined && prevHash !== expected)
        problems.push({
          index,
          seq,
          code: 'MRV_F_CHAIN_BROKEN',
          message: `batch ${seq}: prevHash ${prevHash} is not ${seq === 1 ? 'the genesis hash' : `the hash of batch ${seq - 1} (${expected})`}`,
        });
    } else if (seq === prev.seq) {
      if (hash !== prev.hash)
        problems.push({
          index,
          seq,
          code: 'MRV_F_SEQ_CONFLICT',
          message: `two different batches carry seq ${seq}`,
        });
      continue;
    } else if (seq !== prev.seq + 1) {
      const d = covering(prev.seq + 1, seq - 1);
      problems.push({
        index,
        seq,
        code: 'MRV_F_SEQ_GAP',
        message: d
          ? `batches ${prev.seq + 1}..${seq - 1} are missing: gap declared by the gateway (in batch ${d.in}), cause ${d.cause}`
          : `batches ${prev.seq + 1}..${seq - 1} are missing`,
        ...(d ? { declared: { cause: d.cause, in: d.in } } : {}),
      });
    } else if (
      prevHash !== prev.hash &&
      !declared.some(
        (r) => r.to === seq - 1 && (r.from === 1 ? GENESIS_HASH : hashOf.get(r.from - 1)) === prevHash,
      )
    ) {
      problems.push({
        index,
        seq,
        code: 'MRV_F_CHAIN_BROKEN',
        message: `batch ${seq}: prevHash ${prevHash} is not the hash of batch ${prev.seq} (${prev.hash}): batch ${prev.seq} was altered`,
      });
    }
    prev = { seq, hash };
  }
  problems.sort((x, y) => x.seq - y.seq);
  return {
    checked: batches.length,
    fromSeq: parsed[0]?.seq ?? 0,
    toSeq: parsed.at(-1)?.seq ?? 0,
    first: problems[0],
    problems,
  };
}

/** Name of the {@link BatchSetDigest} definition, recorded next to the digest. */
export const BATCH_SET_DIGEST_V1 = 'batch-set-sha256-v1';

/**
 * The digest of a set of archived batches (docs/architecture.md §6, §7: the batches a monthly evidence package was
 * computed from), definition `batch-set-sha256-v1`:
 *
 *   SHA-256 over the concatenation, for every batch of the set — gateways in ascending id order (JavaScript
 *   string order, i.e. UTF-16 code units; ids are ASCII identifiers), within a gateway ascending `seq`,
 *   each batch once — of four fields, each written as its length in bytes (4-byte unsigned big-endian)
 *   followed by its UTF-8 bytes:
 *     1. the gateway id;
 *     2. the seq in decimal ASCII (no sign, no leading zeros);
 *     3. the batch's canonical bytes exactly as archived (sorted-key JSON without `sig`, core/schema/canonical.ts);
 *     4. the signature as received: base64 text, the empty string when the batch is unsigned.
 *
 * The length prefixes make the encoding unambiguous whatever the fields contain. Lower-case hex.
 * Feed batches with {@link BatchSetDigest.add} in that order; out-of-order or repeated batches throw.
 */
export class BatchSetDigest {
  readonly #hash = createHash('sha256');
  #last: { gatewayId: string; seq: number } | undefined;
  #digest: string | undefined;
  /** Batches added so far. */
  count = 0;

  /**
   * Adds one batch.
   * @throws Error when (gatewayId, seq) does not come strictly after the previous batch added
   */
  add(gatewayId: string, seq: number, canonical: string, sig: string | null | undefined): void {
    if (this.#digest !== undefined) throw new Error('batch digest: add after digest()');
    const last = this.#last;
    if (last && (gatewayId < last.gatewayId || (gatewayId === last.gatewayId && seq <= last.seq)))
      throw new Error(
        `batch digest: ${gatewayId}#${seq} added after ${last.gatewayId}#${last.seq} (gateways ascending, seq ascending, once each)`,
      );
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`batch digest: bad seq ${seq}`);
    for (const field of [gatewayId, String(seq), canonical, sig ?? '']) {
      const bytes = Buffer.from(field, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      this.#hash.update(len).update(bytes);
    }
    this.#last = { gatewayId, seq };
    this.count++;
  }

  /** The lower-case hex digest, after the last {@link add} (adding after it throws). */
  digest(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }
}
