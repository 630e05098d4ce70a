/**
 * The registry of gateway public keys the collector (and `mrv verify`) checks signatures against.
 *
 * A registry is a JSON file, or a folder whose `*.json` files are read in name order. Each file holds
 * one entry or an array of entries, as written by `mrv keygen` (`<gateway>.pub.json`):
 *
 * ```json
 * { "gatewayId": "gw-potline", "unitId": "91150200MA0N00001X", "publicKey": "-----BEGIN PUBLIC KEY-----\n..." }
 * ```
 *
 * `unitId` is optional: without it the key applies to that gateway id in every unit. Public keys are
 * not secret; private keys never enter the registry.
 */

import type { KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MrvError } from '../core/errors.ts';
import { Identifier } from '../core/schema/wire.ts';
import { parsePublicKey } from '../core/signing.ts';

/** One registry entry. */
export const KeyEntry = z
  .object({
    gatewayId: Identifier,
    unitId: Identifier.optional(),
    publicKey: z.string().min(1).describe('Ed25519 public key, PEM (SPKI)'),
    createdAt: z.string().optional(),
  })
  .strict();
export type KeyEntry = z.infer<typeof KeyEntry>;

/** Looks up a gateway's public key. */
export interface KeyRegistry {
  /** The key for (unitId, gatewayId): an entry naming the unit wins over one that does not. */
  get(unitId: string, gatewayId: string): KeyObject | undefined;
  /** Number of entries. */
  readonly size: number;
}

/**
 * Builds a registry from entries.
 * @throws MrvError `MRV_E_KEY` for a key that is not an Ed25519 public key, or two entries for one gateway
 */
export function keyRegistry(entries: readonly KeyEntry[], source = 'key registry'): KeyRegistry {
  const map = new Map<string, KeyObject>();
  for (const e of entries) {
    const k = `${e.unitId ?? '*'}/${e.gatewayId}`;
    if (map.has(k)) throw new MrvError('MRV_E_KEY', `${source}: two keys for gateway ${k}`);
    try {
      map.set(k, parsePublicKey(e.publicKey));
    } catch (err) {
      throw new MrvError('MRV_E_KEY', `${source}: key of gateway ${k}: ${(err as Error).message}`, {
        gateway: k,
      });
    }
  }
  return {
    get: (unitId, gatewayId) => map.get(`${unitId}/${gatewayId}`) ?? map.get(`*/${gatewayId}`),
    size: map.size,
  };
}

/**
 * Reads a registry file or folder (see the file comment).
 * @throws MrvError `MRV_E_KEY` naming the file for anything unreadable, malformed or not Ed25519
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
  for (const file of files) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new MrvError('MRV_E_KEY', `key registry ${file}: ${(err as Error).message}`, { file });
    }
    const r = z.union([KeyEntry, z.array(KeyEntry)]).safeParse(json);
    if (!r.success)
      throw new MrvError('MRV_E_KEY', `key registry ${file}: ${z.prettifyError(r.error)}`, { file });
    entries.push(...(Array.isArray(r.data) ? r.data : [r.data]));
  }
  return keyRegistry(entries, location);
}
