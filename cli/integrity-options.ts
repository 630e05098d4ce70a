/**
 * Command-line pieces of issue 4 shared by `mrv collector`, `mrv server --mqtt` and `mrv demo`: the
 * collector's MQTT session, credentials, TLS and key-registry flags, and the demo's signing key and
 * store-and-forward folder. Secrets come from files or environment variables, never from flags.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CollectorOptions } from '../collector/collector.ts';
import { loadKeyRegistry } from '../collector/keys.ts';
import { MrvError } from '../core/errors.ts';
import { generateGatewayKey } from './keygen.ts';

/** Flags of `mrv collector` (parseArgs options). */
export const collectorFlags = {
  keys: { type: 'string' },
  'client-id': { type: 'string' },
  username: { type: 'string' },
  'password-env': { type: 'string' },
  'password-file': { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  keepalive: { type: 'string' },
  'share-group': { type: 'string' },
  'gap-grace': { type: 'string' },
  'audit-interval': { type: 'string' },
  'max-writes-in-flight': { type: 'string' },
  leave: { type: 'boolean', default: false },
  'live-topic': { type: 'boolean', default: false },
  'insecure-unsigned': { type: 'boolean', default: false },
} as const;

/** The credential, TLS and key-registry flags of `mrv server --mqtt` (a subset of {@link collectorFlags}). */
export const serverMqttFlags = {
  keys: collectorFlags.keys,
  username: collectorFlags.username,
  'password-env': collectorFlags['password-env'],
  'password-file': collectorFlags['password-file'],
  ca: collectorFlags.ca,
  cert: collectorFlags.cert,
  key: collectorFlags.key,
  'insecure-unsigned': collectorFlags['insecure-unsigned'],
} as const;

/**
 * Refuses a password inside a broker URL (`mqtt://user:pass@host`): a command line is readable by every
 * local user (`/proc/PID/cmdline`, `ps`).
 * @throws MrvError `MRV_E_CONFIG` telling to use --password-file
 */
export function refusePasswordInUrl(
  flag: string,
  url: string | undefined,
  instead = 'give the account with --username and the password with --password-file FILE (systemd: LoadCredential=)',
): void {
  if (url === undefined) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return; // not a URL: MQTT.js says what is wrong with it
  }
  if (parsed.password !== '')
    throw new MrvError(
      'MRV_E_CONFIG',
      `--${flag}: the URL carries a password, which every local user can read on the command line; ${instead}`,
    );
}

/**
 * Every storing process verifies batch signatures: without `--keys` it refuses to start unless told
 * `--insecure-unsigned`, and then says so loudly (error level) at start.
 * @throws MrvError `MRV_E_CONFIG` when neither is given
 */
export function requireKeyRegistry(
  v: { keys?: string | undefined; 'insecure-unsigned'?: boolean | undefined },
  log: { error(obj: object, msg: string): void },
  command: string,
): void {
  if (v.keys) {
    if (v['insecure-unsigned'])
      throw new MrvError('MRV_E_CONFIG', '--keys and --insecure-unsigned exclude each other');
    return;
  }
  if (!v['insecure-unsigned'])
    throw new MrvError(
      'MRV_E_CONFIG',
      `${command} stores readings and needs the gateways' key registry: --keys DIR (public keys from "mrv keygen"); to store unsigned batches anyway (verdict "unchecked"), start it with --insecure-unsigned`,
    );
  log.error(
    { insecureUnsigned: true },
    `${command} started with --insecure-unsigned: batch signatures are NOT verified, anyone who can publish to the broker can store readings`,
  );
}

function readFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new MrvError('MRV_E_CONFIG', `--${flag}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Largest `--max-writes-in-flight`: each write group holds up to 16 unacknowledged batches at the broker. */
export const MAX_WRITES_IN_FLIGHT_FLAG = 32;

/**
 * `--max-writes-in-flight N`: store writes (write groups) the collector keeps in flight per store
 * (docs/delivery.md "Pipelined writes"); absent = the collector's default (4).
 * @returns N, a whole number 1..{@link MAX_WRITES_IN_FLIGHT_FLAG}, or undefined when not given
 * @throws MrvError `MRV_E_CONFIG` for anything else (a fraction, 0, a negative number, text, too large)
 */
export function maxWritesInFlight(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_WRITES_IN_FLIGHT_FLAG)
    throw new MrvError(
      'MRV_E_CONFIG',
      `--max-writes-in-flight: expected a whole number of store writes from 1 (one write after the other) to ${MAX_WRITES_IN_FLIGHT_FLAG}, got "${text}"`,
    );
  return n;
}

/**
 * Collector options from {@link collectorFlags}' values.
 * @throws MrvError `MRV_E_CONFIG` for an unreadable file or unset variable, `MRV_E_KEY` for a bad registry
 */
export function collectorOptions(v: {
  keys?: string | undefined;
  'client-id'?: string | undefined;
  username?: string | undefined;
  'password-env'?: string | undefined;
  'password-file'?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  keepalive?: string | undefined;
  'share-group'?: string | undefined;
  'gap-grace'?: string | undefined;
  'audit-interval'?: string | undefined;
  'live-topic'?: boolean | undefined;
  'max-writes-in-flight'?: string | undefined;
  /** `--transport` (cli/nats-options.ts): the NATS consumer is shared, so the chain-audit flags apply too. */
  transport?: string | undefined;
}): Partial<CollectorOptions> {
  const o: Partial<CollectorOptions> = {};
  if (v['live-topic']) o.announceStored = true;
  if (v.keys) o.keys = loadKeyRegistry(v.keys);
  if (v['client-id']) o.clientId = v['client-id'];
  if (v.username) o.username = v.username;
  if (v['password-env']) {
    const p = process.env[v['password-env']];
    if (p === undefined)
      throw new MrvError(
        'MRV_E_CONFIG',
        `--password-env: environment variable ${v['password-env']} is not set`,
      );
    o.password = p;
  }
  if (v['password-file']) o.password = readFile('password-file', v['password-file']).toString('utf8').trim();
  if (v.ca) o.ca = readFile('ca', v.ca);
  if (v.cert) o.cert = readFile('cert', v.cert);
  if (v.key) o.key = readFile('key', v.key);
  if (v.keepalive) {
    const n = Number(v.keepalive);
    if (!Number.isInteger(n) || n < 1)
      throw new MrvError('MRV_E_CONFIG', `--keepalive: expected whole seconds, got "${v.keepalive}"`);
    o.keepaliveS = n;
  }
  const inFlight = maxWritesInFlight(v['max-writes-in-flight']);
  if (inFlight !== undefined) o.maxWritesInFlight = inFlight;
  if (v['share-group']) {
    if (!v['client-id'])
      throw new MrvError(
        'MRV_E_CONFIG',
        '--share-group needs --client-id: every collector of the group keeps its own persistent session (e.g. --client-id mrv-collector-1)',
      );
    o.shareGroup = v['share-group'];
  }
  const seconds = (flag: 'gap-grace' | 'audit-interval'): number | undefined => {
    const text = v[flag];
    if (text === undefined) return undefined;
    if (!v['share-group'] && v.transport !== 'nats')
      throw new MrvError(
        'MRV_E_CONFIG',
        `--${flag} applies only with --share-group or --transport nats (the chain audit)`,
      );
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0)
      throw new MrvError('MRV_E_CONFIG', `--${flag}: expected seconds > 0, got "${text}"`);
    return Math.round(n * 1000);
  };
  const grace = seconds('gap-grace');
  if (grace !== undefined) o.gapGraceMs = grace;
  const interval = seconds('audit-interval');
  if (interval !== undefined) o.auditIntervalMs = interval;
  return o;
}

/**
 * A demo key made before keys named their unit: the demo knows whose it is, so it writes `unitId` in
 * (an operator's registry is never fixed up like this: it fails to load, collector/keys.ts).
 */
function adoptDemoKey(pubFile: string, unitId: string): void {
  if (!existsSync(pubFile)) return;
  const json = JSON.parse(readFileSync(pubFile, 'utf8')) as
    | Record<string, unknown>
    | Record<string, unknown>[];
  const entries = Array.isArray(json) ? json : [json];
  if (entries.every((e) => 'unitId' in e)) return;
  writeFileSync(
    pubFile,
    `${JSON.stringify(
      entries.map((e) => ({ ...e, unitId: e.unitId ?? unitId })),
      null,
      2,
    )}\n`,
  );
}

/**
 * The demo's integrity set-up under its data folder: a signing key for the demo gateway (made once,
 * `<dataDir>/keys/<gateway>.key.pem`), the key registry the demo collector verifies against, and the
 * gateway's store-and-forward folder `<dataDir>/buffer/<gateway>`.
 */
export function demoIntegrity(
  dataDir: string,
  unitId: string,
  gatewayId: string,
): { signingKeyFile: string; bufferDir: string; keys: NonNullable<CollectorOptions['keys']> } {
  const keysDir = path.join(dataDir, 'keys');
  const signingKeyFile = path.join(keysDir, `${gatewayId}.key.pem`);
  if (!existsSync(signingKeyFile)) generateGatewayKey({ gatewayId, unitId, outDir: keysDir });
  else adoptDemoKey(path.join(keysDir, `${gatewayId}.pub.json`), unitId);
  return {
    signingKeyFile,
    bufferDir: path.join(dataDir, 'buffer', gatewayId),
    keys: loadKeyRegistry(keysDir),
  };
}
