/**
 * The receipt of a confirmed version of monthly evidence (月度存证确认回执, docs/architecture.md §8a):
 * what the plant confirmed (unit, month, version, the SHA-256 of the frozen package bytes, the version
 * it supersedes with its digest), by whom and when, signed by the server's evidence key. Shared by the
 * server (server/state/evidence-confirmations.ts signs and serves it) and `mrv verify RECEIPT
 * --trusted-keys ... [--package FILE]` (cli/evidence.ts), which checks it offline.
 *
 * As a file (`GET .../confirmations/{month}/versions/{n}/receipt`) it has the shape of a package: the
 * receipt's fields plus `signature: {alg: 'Ed25519', keyId, value}`, the signature covering the
 * canonical JSON of everything but `signature` ({@link receiptBytes}), so the package's signature check
 * (`verifyEvidenceSignature`, trusted keys only) checks it too.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/schema/canonical.ts';
import { type EvidenceVerdict, type TrustedEvidenceKey, verifyEvidenceSignature } from './service.ts';

/** The signed statement of one confirmed version. */
export interface ConfirmationReceipt {
  kind: 'evidence-confirmation';
  unitId: string;
  /** UTC+8 month `yyyy-mm`. */
  month: string;
  version: number;
  /** SHA-256 (hex) of the frozen package bytes. */
  packageSha256: string;
  /** The key id of the package's own signature (the same server key signs the receipt). */
  packageKeyId: string;
  /** The version this one corrects, with its digest; null for version 1. */
  supersedes: { version: number; sha256: string } | null;
  /** The package's content status when it was confirmed (`incomplete`, `complete`). */
  contentStatus: string;
  /** `account:<username>` or `token:<token id>`. */
  confirmedBy: string;
  confirmedByName: string;
  /** ISO-8601 UTC. */
  confirmedAt: string;
  /** SHA-256 (hex) of the comment's UTF-8 text, null without comment. */
  commentSha256: string | null;
}

/** A receipt as a file: its fields and the signature over them. */
export interface SignedConfirmationReceipt extends ConfirmationReceipt {
  signature: { alg: 'Ed25519'; keyId: string; value: string };
}

/** The bytes a receipt's signature covers: its canonical JSON (without `signature`), UTF-8. */
export function receiptBytes(receipt: ConfirmationReceipt | SignedConfirmationReceipt): Buffer {
  const { signature: _s, ...fields } = receipt as SignedConfirmationReceipt;
  return Buffer.from(canonicalJson(fields), 'utf8');
}

/** The file form of a receipt and its base64 signature (signed by the key of `receipt.packageKeyId`). */
export function signedReceipt(receipt: ConfirmationReceipt, signature: string): SignedConfirmationReceipt {
  return { ...receipt, signature: { alg: 'Ed25519', keyId: receipt.packageKeyId, value: signature } };
}

/** Answer of {@link verifyReceipt}. */
export interface ReceiptVerdict {
  ok: boolean;
  signature: EvidenceVerdict;
  /** With package bytes: their SHA-256 and whether it is the one the receipt names. */
  package?: { sha256: string; matches: boolean };
  reason?: string;
}

/**
 * Checks a receipt's signature against trusted keys only (never a key the file carries) and, given the
 * package bytes, that they are the bytes it names (SHA-256).
 * @throws MrvError `MRV_E_NO_TRUSTED_KEYS` when `trusted` is empty
 */
export function verifyReceipt(
  doc: unknown,
  trusted: readonly TrustedEvidenceKey[],
  packageBytes?: Buffer,
): ReceiptVerdict {
  const signature = verifyEvidenceSignature(doc, trusted);
  if (!signature.ok)
    return { ok: false, signature, ...(signature.reason ? { reason: signature.reason } : {}) };
  if (packageBytes === undefined) return { ok: true, signature };
  const sha256 = createHash('sha256').update(packageBytes).digest('hex');
  const named = (doc as Partial<ConfirmationReceipt>).packageSha256;
  const matches = sha256 === named;
  return {
    ok: matches,
    signature,
    package: { sha256, matches },
    ...(matches ? {} : { reason: `the package's SHA-256 is ${sha256}; the receipt names ${String(named)}` }),
  };
}
