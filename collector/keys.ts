/**
 * The registry of gateway public keys the collector (and `mrv verify`) checks signatures against.
 *
 * A registry is a JSON file, or a folder whose `*.json` files are read in name order. Each file holds
 * one entry or an array of entries, as written by `mrv keygen` (`<gateway>.pub.json`, the key history
 * of one gateway: rotation appends an entry):
 *
 * ```json
 * { "unitId": "91150200MA0N00001X", "gatewayId": "gw-potline", "publicKey": "-----BEGIN PUBLIC KEY-----\n...",
 *   "validFrom": "2026-01-01T00:00:00.000Z", "validUntil": "2026-07-01T00:00:00.000Z", "revokedAt": null }
 * ```
 *
 * Every key belongs to exactly one (unit, gateway): `unitId` is required, an entry without it fails to
 * load (`MRV_E_KEY`, naming the file and the fix) instead of matching every unit. A key is valid for
 * batches whose `sentAt` (the gateway's signing time, inside the signed bytes; docs/architecture.md §4) lies in
 * `[validFrom, validUntil)` and before `revokedAt`. `validUntil` is set by rotation (`mrv keygen
 * --rotate`: the old key stays valid for the batches it signed before), `revokedAt` by `mrv keys revoke`
 * (a key that must not be trusted from that instant: batches it signed after it are a finding).
 * Public keys are not secret; private keys never enter the registry.
 */

import { createHash, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MrvError } from '../core/errors.ts';
import { Identifier } from '../core/schema/wire.ts';
import { parsePublicKey, verifySignature } from '../core/signing.ts';

/** One registry entry. */
export const KeyEntry = z
  .object({
    gatewayId: Identifier,
    unitId: Identifier.describe('the unit (统一社会信用代码) the gateway belongs to; required'),
    publicKey: z.string().min(1).describe('Ed25519 public key, PEM (SPKI)'),
    createdAt: z.string().optional(),
    validFrom: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('first instant (batch sentAt) the key signs for; default: always'),
    validUntil: z.iso
      .datetime({ offset: true })
      .nullish()
      .describe('set by rotation: batches sent from this instant on need the next key'),
    revokedAt: z.iso
      .datetime({ offset: true })
      .nullish()
      .describe('set by revocation: batches sent from this instant on are a finding'),
    revokedReason: z.string().optional(),
  })
  .strict();
export type KeyEntry = z.infer<typeof KeyEntry>;

/** Fingerprint of a public key: the first 16 hex digits of SHA-256 of its SPKI DER (as evidence keyIds). */
export function keyFingerprint(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/** A parsed registry entry. */
export interface RegisteredKey {
  unitId: string;
  gatewayId: string;
  key: KeyObject;
  /** {@link keyFingerprint}. */
  keyId: string;
  /** ms epoch; -Infinity when open. */
  validFrom: number;
  /** ms epoch (rotation); Infinity when open. */
  validUntil: number;
  /** ms epoch (revocation); Infinity when not revoked. */
  revokedAt: number;
}

/** What signed a batch, as {@link KeyRegistry.identify} finds it. */
export type SignerVerdict =
  /** A key of the claimed (unit, gateway), valid at the batch time. */
  | { kind: 'valid'; entry: RegisteredKey }
  /** A key of the claimed (unit, gateway), but the batch time is at or after its revocation. */
  | { kind: 'revoked'; entry: RegisteredKey }
  /** A key of the claimed (unit, gateway), but the batch time is outside its validity (before validFrom, at/after validUntil). */
  | { kind: 'expired'; entry: RegisteredKey }
  /** A registered key of another (unit, gateway) verifies: cross-unit or cross-gateway forgery. */
  | { kind: 'mismatch'; entry: RegisteredKey }
  /** The claimed (unit, gateway) has keys, none verifies (and no other registered key does). */
  | { kind: 'bad' }
  /** The claimed (unit, gateway) has no key, and no registered key verifies. */
  | { kind: 'unknown' };

/** Looks up a gateway's public keys. */
export interface KeyRegistry {
  /** The key of (unitId, gatewayId) valid at `at` (ms epoch; default now), exact match only. */
  get(unitId: string, gatewayId: string, at?: number): KeyObject | undefined;
  /** Every key of (unitId, gatewayId), oldest `validFrom` first. */
  keysOf(unitId: string, gatewayId: string): readonly RegisteredKey[];
  /**
   * Decides who signed `bytes` (a batch's canonical bytes) with `sig`, for a batch claiming
   * (unitId, gatewayId) sent at `at` (ms epoch, its `sentAt`). Only when no key of the claimed pair
   * verifies are the other keys tried (the cost of a bad signature grows with the registry).
   */
  identify(
    unitId: string,
    gatewayId: string,
    bytes: Uint8Array,
    sig: string | null | undefined,
    at: number,
  ): SignerVerdict;
  /** Number of entries. */
  readonly size: number;
}

const time = (s: string | null | undefined, open: number) => (s ? Date.parse(s) : open);

/**
 * Builds a registry from entries.
 * @throws MrvError `MRV_E_KEY` for a key that is not an Ed25519 public key, an entry without a unit,
 *   or one key registered twice
 */
export function keyRegistry(entries: readonly KeyEntry[], source = 'key registry'): KeyRegistry {
  const byPair = new Map<string, RegisteredKey[]>();
  const all: RegisteredKey[] = [];
  const ids = new Set<string>();
  for (const e of entries) {
    const k = `${e.unitId}/${e.gatewayId}`;
    if (!e.unitId) throw noUnit(source, e.gatewayId);
    let key: KeyObject;
    try {
      key = parsePublicKey(e.publicKey);
    } catch (err) {
      throw new MrvError('MRV_E_KEY', `${source}: key of gateway ${k}: ${(err as Error).message}`, {
        gateway: k,
      });
    }
    const keyId = keyFingerprint(key);
    if (ids.has(`${k}#${keyId}`))
      throw new MrvError('MRV_E_KEY', `${source}: key ${keyId} of ${k} is listed twice`);
    ids.add(`${k}#${keyId}`);
    const r: RegisteredKey = {
      unitId: e.unitId,
      gatewayId: e.gatewayId,
      key,
      keyId,
      validFrom: time(e.validFrom, Number.NEGATIVE_INFINITY),
      validUntil: time(e.validUntil, Number.POSITIVE_INFINITY),
      revokedAt: time(e.revokedAt, Number.POSITIVE_INFINITY),
    };
    all.push(r);
    const list = byPair.get(k);
    if (list) list.push(r);
    else byPair.set(k, [r]);
  }
  for (const list of byPair.values()) list.sort((a, b) => a.validFrom - b.validFrom);
  const validAt = (r: RegisteredKey, at: number) =>
    r.validFrom <= at && at < r.validUntil && at < r.revokedAt;
  return {
    get: (unitId, gatewayId, at = Date.now()) =>
      byPair.get(`${unitId}/${gatewayId}`)?.find((r) => validAt(r, at))?.key,
    keysOf: (unitId, gatewayId) => byPair.get(`${unitId}/${gatewayId}`) ?? [],
    identify(unitId, gatewayId, bytes, sig, at) {
      const mine = byPair.get(`${unitId}/${gatewayId}`) ?? [];
      const signer = mine.find((r) => verifySignature(bytes, sig, r.key));
      if (signer) {
        if (at >= signer.revokedAt) return { kind: 'revoked', entry: signer };
        if (!validAt(signer, at)) return { kind: 'expired', entry: signer };
        return { kind: 'valid', entry: signer };
      }
      if (sig) {
        const other = all.find((r) => !mine.includes(r) && verifySignature(bytes, sig, r.key));
        if (other) return { kind: 'mismatch', entry: other };
      }
      return mine.length > 0 ? { kind: 'bad' } : { kind: 'unknown' };
    },
    size: all.length,
  };
}

function noUnit(file: string, gatewayId: unknown): MrvError {
  return new MrvError(
    'MRV_E_KEY',
    `${file}: key of gateway ${String(gatewayId)} names no unit; a key belongs to one unit and gateway. ` +
      `Re-run \`mrv keygen --unit UNIT_ID --gateway ${String(gatewayId)}\`, or add "unitId": "UNIT_ID" to the .pub.json ` +
      `(密钥未登记所属单位：请用 --unit 重新生成，或在 .pub.json 中加入 "unitId")`,
    { file, gatewayId },
  );
}

/** Reads the entries of one registry file (one entry or an array). @throws MrvError `MRV_E_KEY` naming the file */
export function readKeyFile(file: string): KeyEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MrvError('MRV_E_KEY', `key registry ${file}: ${(err as Error).message}`, { file });
  }
  for (const e of Array.isArray(json) ? json : [json])
    if (e && typeof e === 'object' && !('unitId' in e))
      throw noUnit(file, (e as { gatewayId?: unknown }).gatewayId);
  const r = z.union([KeyEntry, z.array(KeyEntry)]).safeParse(json);
  if (!r.success)
    throw new MrvError('MRV_E_KEY', `key registry ${file}: ${z.prettifyError(r.error)}`, { file });
  return Array.isArray(r.data) ? r.data : [r.data];
}

/**
 * Reads a registry file or folder (see the file comment).
 * @throws MrvError `MRV_E_KEY` naming the file for anything unreadable, malformed, not Ed25519 or without a unit
 */
export function loadKeyRegistry(location: string): KeyRegistry {
  let files: string[];
  try {
    files = statSync(location).isDirectory()
      ? readdirSync(location)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => path.join(location, f))
      : [location];
  } catch (err) {
    throw new MrvError('MRV_E_KEY', `cannot read key registry ${location}: ${(err as Error).message}`, {
      location,
    });
  }
  const entries: KeyEntry[] = [];
  for (const file of files) entries.push(...readKeyFile(file));
  return keyRegistry(entries, location);
}
