/**
 * `mrv keygen --gateway ID [--unit ID] [--out DIR] [--force]`: makes a gateway's Ed25519 signing key.
 *
 * Writes `<out>/<gateway>.key.pem` (PKCS#8 private key, mode 0600: point `gateway.signingKeyFile` at it;
 * it never leaves the gateway) and `<out>/<gateway>.pub.json` (the key-registry entry for the collector
 * and `mrv verify`, see collector/keys.ts). Refuses to overwrite an existing key unless `--force`:
 * a new key for a running gateway makes every later batch fail verification until the registry has it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { KeyEntry } from '../collector/keys.ts';
import { MrvError } from '../core/errors.ts';
import { Identifier } from '../core/schema/wire.ts';

/** The files {@link generateGatewayKey} wrote. */
export interface GeneratedKey {
  privateKeyFile: string;
  registryFile: string;
  entry: KeyEntry;
}

/**
 * Generates an Ed25519 key pair for a gateway and writes its two files.
 * @throws MrvError `MRV_E_CONFIG` for a bad id, `MRV_E_KEY` when the key file exists and `force` is off
 */
export function generateGatewayKey(opts: {
  gatewayId: string;
  unitId?: string;
  outDir: string;
  force?: boolean;
}): GeneratedKey {
  for (const [flag, id] of [
    ['--gateway', opts.gatewayId],
    ['--unit', opts.unitId],
  ] as const)
    if (id !== undefined && !Identifier.safeParse(id).success)
      throw new MrvError(
        'MRV_E_CONFIG',
        `${flag} ${JSON.stringify(id)}: letters, digits, "_", "." and "-" only`,
      );
  const privateKeyFile = path.join(opts.outDir, `${opts.gatewayId}.key.pem`);
  const registryFile = path.join(opts.outDir, `${opts.gatewayId}.pub.json`);
  if (existsSync(privateKeyFile) && !opts.force)
    throw new MrvError(
      'MRV_E_KEY',
      `${privateKeyFile} exists; pass --force to replace it (the registry must then be updated)`,
    );
  mkdirSync(opts.outDir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const entry: KeyEntry = {
    gatewayId: opts.gatewayId,
    ...(opts.unitId ? { unitId: opts.unitId } : {}),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    createdAt: new Date().toISOString(),
  };
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(registryFile, `${JSON.stringify(entry, null, 2)}\n`);
  return { privateKeyFile, registryFile, entry };
}

/** `mrv keygen`. Prints the two file names; resolves with the exit code. */
export async function keygen(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      gateway: { type: 'string' },
      unit: { type: 'string' },
      out: { type: 'string', default: '.' },
      force: { type: 'boolean', default: false },
    },
  });
  if (!v.gateway)
    throw new MrvError('MRV_E_CONFIG', 'missing --gateway ID (the gateway.id of the site file)');
  const k = generateGatewayKey({
    gatewayId: v.gateway,
    ...(v.unit ? { unitId: v.unit } : {}),
    outDir: v.out,
    force: v.force,
  });
  process.stdout.write(
    `private key (gateway.signingKeyFile, keep on the gateway): ${k.privateKeyFile}\n` +
      `public key registry entry (collector --keys, mrv verify --keys): ${k.registryFile}\n`,
  );
  return 0;
}
