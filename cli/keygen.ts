/**
 * `mrv keygen --unit ID --gateway ID [--out DIR] [--force | --rotate]`: makes a gateway's Ed25519 signing key;
 * `mrv keys revoke --unit ID --gateway ID --key-id FINGERPRINT [--at ISO] [--reason TEXT] [--out DIR]`: revokes one.
 *
 * Writes `<out>/<gateway>.key.pem` (PKCS#8 private key, mode 0600: point `gateway.signingKeyFile` at it;
 * it never leaves the gateway) and `<out>/<gateway>.pub.json` (the gateway's key history for the
 * collector and `mrv verify`, an array of registry entries, see collector/keys.ts). A key belongs to one
 * (unit, gateway): both flags are required. Refuses to overwrite an existing key unless `--force` (which
 * forgets the old key: batches it signed no longer verify) or `--rotate` (the old entry gets
 * `validUntil` = now and stays, so batches it signed before keep verifying; the new one `validFrom` = now;
 * a first key has no `validFrom`: it is valid for every batch of its gateway until rotated or revoked).
 * Revocation sets `revokedAt` on one entry: batches sent (`sentAt`) from then on with that key are a
 * finding (`MRV_F_KEY_REVOKED`). Copy the updated .pub.json to every collector and verifier.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type KeyEntry, keyFingerprint, readKeyFile } from '../collector/keys.ts';
import { MrvError } from '../core/errors.ts';
import { Identifier } from '../core/schema/wire.ts';
import { parsePublicKey } from '../core/signing.ts';

/** The files {@link generateGatewayKey} wrote. */
export interface GeneratedKey {
  privateKeyFile: string;
  registryFile: string;
  /** The new entry (the last of the file). */
  entry: KeyEntry;
  /** Its fingerprint. */
  keyId: string;
}

function checkIds(unitId: string | undefined, gatewayId: string | undefined): asserts unitId is string {
  if (!unitId)
    throw new MrvError(
      'MRV_E_CONFIG',
      'missing --unit ID (the unit.id of the site file; 缺少 --unit 单位编号)',
    );
  if (!gatewayId)
    throw new MrvError(
      'MRV_E_CONFIG',
      'missing --gateway ID (the gateway.id of the site file; 缺少 --gateway 网关编号)',
    );
  for (const [flag, id] of [
    ['--gateway', gatewayId],
    ['--unit', unitId],
  ] as const)
    if (!Identifier.safeParse(id).success)
      throw new MrvError(
        'MRV_E_CONFIG',
        `${flag} ${JSON.stringify(id)}: letters, digits, "_", "." and "-" only`,
      );
}

/**
 * Generates an Ed25519 key pair for a gateway of a unit and writes its two files.
 * @param opts.now ms epoch of `validFrom` (and of the old key's `validUntil` on rotation); default now
 * @throws MrvError `MRV_E_CONFIG` for a missing or bad id, `MRV_E_KEY` when the key file exists and
 *   neither `force` nor `rotate` is on
 */
export function generateGatewayKey(opts: {
  gatewayId: string;
  unitId: string;
  outDir: string;
  force?: boolean;
  rotate?: boolean;
  now?: number;
}): GeneratedKey {
  checkIds(opts.unitId, opts.gatewayId);
  const privateKeyFile = path.join(opts.outDir, `${opts.gatewayId}.key.pem`);
  const registryFile = path.join(opts.outDir, `${opts.gatewayId}.pub.json`);
  if (existsSync(privateKeyFile) && !opts.force && !opts.rotate)
    throw new MrvError(
      'MRV_E_KEY',
      `${privateKeyFile} exists; pass --rotate to replace it keeping the old key for older batches, or --force to forget it`,
    );
  const now = new Date(opts.now ?? Date.now()).toISOString();
  const history = opts.rotate && existsSync(registryFile) ? readKeyFile(registryFile) : [];
  for (const e of history) {
    if (e.unitId !== opts.unitId || e.gatewayId !== opts.gatewayId)
      throw new MrvError(
        'MRV_E_KEY',
        `${registryFile} holds a key of ${e.unitId}/${e.gatewayId}, not ${opts.unitId}/${opts.gatewayId}`,
      );
    if (!e.validUntil || Date.parse(e.validUntil) > Date.parse(now)) e.validUntil = now;
  }
  mkdirSync(opts.outDir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const entry: KeyEntry = {
    unitId: opts.unitId,
    gatewayId: opts.gatewayId,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    createdAt: now,
    // A first key is valid for every batch of its gateway; a rotated-in one from the rotation on.
    ...(history.length > 0 ? { validFrom: now } : {}),
  };
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(registryFile, `${JSON.stringify([...history, entry], null, 2)}\n`);
  return { privateKeyFile, registryFile, entry, keyId: keyFingerprint(publicKey) };
}

/**
 * Revokes one key of a gateway in its `.pub.json`: sets `revokedAt` (default now) and the reason.
 * @throws MrvError `MRV_E_KEY` when the file or the key is not there
 */
export function revokeGatewayKey(opts: {
  unitId: string;
  gatewayId: string;
  keyId: string;
  outDir: string;
  at?: number;
  reason?: string;
}): KeyEntry {
  checkIds(opts.unitId, opts.gatewayId);
  const registryFile = path.join(opts.outDir, `${opts.gatewayId}.pub.json`);
  if (!existsSync(registryFile)) throw new MrvError('MRV_E_KEY', `${registryFile} does not exist`);
  const entries = readKeyFile(registryFile);
  const e = entries.find(
    (x) =>
      x.unitId === opts.unitId &&
      x.gatewayId === opts.gatewayId &&
      keyFingerprint(parsePublicKey(x.publicKey)) === opts.keyId,
  );
  if (!e)
    throw new MrvError(
      'MRV_E_KEY',
      `${registryFile}: no key ${opts.keyId} of ${opts.unitId}/${opts.gatewayId}`,
    );
  e.revokedAt = new Date(opts.at ?? Date.now()).toISOString();
  if (opts.reason) e.revokedReason = opts.reason;
  writeFileSync(registryFile, `${JSON.stringify(entries, null, 2)}\n`);
  return e;
}

/** `mrv keygen`. Prints the two file names and the key's fingerprint; resolves with the exit code. */
export async function keygen(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      gateway: { type: 'string' },
      unit: { type: 'string' },
      out: { type: 'string', default: '.' },
      force: { type: 'boolean', default: false },
      rotate: { type: 'boolean', default: false },
    },
  });
  checkIds(v.unit, v.gateway);
  const k = generateGatewayKey({
    gatewayId: v.gateway as string,
    unitId: v.unit,
    outDir: v.out,
    force: v.force,
    rotate: v.rotate,
  });
  process.stdout.write(
    `private key (gateway.signingKeyFile, keep on the gateway): ${k.privateKeyFile}\n` +
      `public key registry entry (collector --keys, mrv verify --keys): ${k.registryFile}\n` +
      `key ${k.keyId} of ${v.unit}/${v.gateway}${k.entry.validFrom ? `, valid from ${k.entry.validFrom}` : ''}\n`,
  );
  return 0;
}

/** `mrv keys revoke ...`; resolves with the exit code. */
export async function keys(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'revoke')
    throw new MrvError(
      'MRV_E_CONFIG',
      'usage: mrv keys revoke --unit ID --gateway ID --key-id FINGERPRINT [--at ISO] [--reason TEXT] [--out DIR]',
    );
  const { values: v } = parseArgs({
    args: rest,
    options: {
      gateway: { type: 'string' },
      unit: { type: 'string' },
      'key-id': { type: 'string' },
      at: { type: 'string' },
      reason: { type: 'string' },
      out: { type: 'string', default: '.' },
    },
  });
  checkIds(v.unit, v.gateway);
  if (!v['key-id'])
    throw new MrvError('MRV_E_CONFIG', 'missing --key-id FINGERPRINT (printed by mrv keygen; 缺少 --key-id)');
  const at = v.at === undefined ? undefined : Date.parse(v.at);
  if (at !== undefined && Number.isNaN(at))
    throw new MrvError('MRV_E_CONFIG', `--at: not an ISO-8601 time: ${v.at}`);
  const e = revokeGatewayKey({
    unitId: v.unit,
    gatewayId: v.gateway as string,
    keyId: v['key-id'],
    outDir: v.out,
    ...(at !== undefined ? { at } : {}),
    ...(v.reason ? { reason: v.reason } : {}),
  });
  process.stdout.write(`key ${v['key-id']} of ${v.unit}/${v.gateway} revoked at ${e.revokedAt}\n`);
  return 0;
}
