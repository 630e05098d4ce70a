/**
 * Accounts and topic ACL of the embedded broker (`mrv broker`, `mrv demo`), the same design as the
 * shipped Mosquitto configuration (deploy/mosquitto/README.md):
 *
 * - a **gateway** account is named `{unitId}/{gatewayId}` (identifiers never contain `/`, so the name
 *   is unambiguous, and it is what Mosquitto's `pattern ... %u` substitutes). It may publish only under
 *   its own `{prefix}/{unitId}/{gatewayId}/(data|backlog|status|meta)` (its last will included) and
 *   subscribe to (and receive) only its own `{prefix}/{unitId}/{gatewayId}/ack` and `{prefix}/_sync`;
 * - a **collector** account may subscribe to data, backlog, status and meta of every gateway (also as
 *   `$share/{group}/...`) and publish acknowledgements (`{prefix}/+/+/ack`), `_sync`, `_deadletter`,
 *   `_findings` and `_stored/+/+/live`;
 * - a **live** account (`mrv server --live-mqtt`) may only subscribe to `{prefix}/_stored/+/+/live`.
 *
 * Passwords are stored as scrypt hashes (node:crypto, N=2^14, r=8, p=1, 16-byte salt, 32-byte key):
 * `scrypt$16384$8$1$<salt base64>$<hash base64>`. The accounts file is JSON, `version: 1`.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MrvError } from '../core/errors.ts';
import { DEFAULT_TOPIC_PREFIX, isIdentifier } from '../core/schema/wire.ts';

/** The three kinds of account; see the file comment. */
export const BrokerRole = z.enum(['gateway', 'collector', 'live']);
export type BrokerRole = z.infer<typeof BrokerRole>;

/** One account of the accounts file. */
export const BrokerAccount = z
  .object({
    username: z
      .string()
      .min(1)
      .max(129)
      .describe('gateway accounts: "{unitId}/{gatewayId}"; other roles: a name without "/", "+", "#"'),
    role: BrokerRole,
    password: z
      .string()
      .regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'an scrypt hash (hashPassword)')
      .describe('scrypt$N$r$p$salt$hash, never the password itself'),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.role === 'gateway' && !gatewayOf(a.username))
      ctx.addIssue({
        code: 'custom',
        path: ['username'],
        message: 'a gateway account is named {unitId}/{gatewayId}',
      });
    if (a.role !== 'gateway' && /[/+#]/.test(a.username))
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'no "/", "+" or "#" in this name' });
  });
export type BrokerAccount = z.infer<typeof BrokerAccount>;

/** The accounts file (`mrv broker --accounts FILE`). */
export const BrokerAccountsFile = z
  .object({
    version: z.literal(1),
    prefix: z.string().min(1).default(DEFAULT_TOPIC_PREFIX).describe('the topic prefix of the gateways'),
    accounts: z.array(BrokerAccount).default([]),
  })
  .strict();
export type BrokerAccountsFile = z.infer<typeof BrokerAccountsFile>;

/** `{unitId, gatewayId}` of a gateway account name `{unitId}/{gatewayId}`, else undefined. */
export function gatewayOf(username: string): { unitId: string; gatewayId: string } | undefined {
  const parts = username.split('/');
  if (parts.length !== 2) return undefined;
  const [unitId, gatewayId] = parts as [string, string];
  if (!isIdentifier(unitId) || !isIdentifier(gatewayId)) return undefined;
  return { unitId, gatewayId };
}

const N = 16384;
const R = 8;
const P = 1;

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** The scrypt hash of `password` as stored in the accounts file (a fresh random salt each time). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `password` matches `hash` (constant-time compare); false for a malformed hash. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([^$]+)\$([^$]+)$/.exec(hash);
  if (!m) return false;
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds: a hand-edited file must not make each login allocate gigabytes.
  if (n < 2 || n > 2 ** 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5] as string, 'base64');
  const got = await scryptAsync(password, Buffer.from(m[4] as string, 'base64'), n, r, p).catch(() => null);
  return got !== null && got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * Reads and validates an accounts file.
 * @throws MrvError `MRV_E_CONFIG` naming the file and what is wrong
 */
export function loadBrokerAccounts(file: string): BrokerAccountsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MrvError('MRV_E_CONFIG', `broker accounts ${file}: ${(err as Error).message}`);
  }
  const parsed = BrokerAccountsFile.safeParse(raw);
  if (!parsed.success)
    throw new MrvError('MRV_E_CONFIG', `broker accounts ${file}:\n${z.prettifyError(parsed.error)}`);
  const seen = new Set<string>();
  for (const a of parsed.data.accounts) {
    if (seen.has(a.username))
      throw new MrvError('MRV_E_CONFIG', `broker accounts ${file}: account "${a.username}" is listed twice`);
    seen.add(a.username);
  }
  return parsed.data;
}

/** Writes an accounts file atomically, readable by its owner only (0600). */
export function saveBrokerAccounts(file: string, accounts: BrokerAccountsFile): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(accounts, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  chmodSync(file, 0o600);
}

/**
 * Adds (or replaces) an account in `file` (created when missing). The password comes from
 * `passwordFile`; when that file does not exist a random password is generated and written there
 * (0600) first, for the client to read. Returns whether a password was generated.
 * @throws MrvError `MRV_E_CONFIG` for a bad username, role or file
 */
export async function addBrokerAccount(
  file: string,
  account: { username: string; role: BrokerRole; passwordFile: string },
): Promise<{ generated: boolean }> {
  const current = existsSync(file)
    ? loadBrokerAccounts(file)
    : BrokerAccountsFile.parse({ version: 1, accounts: [] });
  let generated = false;
  if (!existsSync(account.passwordFile)) {
    mkdirSync(path.dirname(account.passwordFile), { recursive: true });
    writeFileSync(account.passwordFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    generated = true;
  }
  const password = readFileSync(account.passwordFile, 'utf8').trim();
  if (password.length < 12)
    throw new MrvError(
      'MRV_E_CONFIG',
      `${account.passwordFile}: a broker password has at least 12 characters`,
    );
  const entry = BrokerAccount.safeParse({
    username: account.username,
    role: account.role,
    password: await hashPassword(password),
  });
  if (!entry.success)
    throw new MrvError(
      'MRV_E_CONFIG',
      `broker account "${account.username}":\n${z.prettifyError(entry.error)}`,
    );
  saveBrokerAccounts(file, {
    ...current,
    accounts: [...current.accounts.filter((a) => a.username !== account.username), entry.data],
  });
  return { generated };
}

/**
 * True when every topic the MQTT filter `filter` matches is matched by the filter `allowed` too
 * (so subscribing to `filter` can deliver nothing outside `allowed`).
 * @example filterWithin('mrv/v1/u1/+/data', 'mrv/v1/+/+/data') → true; filterWithin('mrv/v1/#', 'mrv/v1/+/+/data') → false
 */
export function filterWithin(filter: string, allowed: string): boolean {
  const f = filter.split('/');
  const a = allowed.split('/');
  for (let i = 0; i < f.length; i++) {
    const al = a[i];
    const fl = f[i] as string;
    if (al === undefined) return false;
    if (al === '#') return true;
    if (fl === '#') return false;
    if (al === '+') continue;
    if (fl === '+' || fl !== al) return false;
  }
  return f.length === a.length;
}

/** What one account may do: filters it may publish to, and filters it may subscribe within. */
export interface TopicRights {
  publish: string[];
  subscribe: string[];
}

/** The ACL of one account under `prefix` (see the file comment). */
export function topicRights(account: Pick<BrokerAccount, 'username' | 'role'>, prefix: string): TopicRights {
  if (account.role === 'gateway') {
    const g = gatewayOf(account.username);
    if (!g) return { publish: [], subscribe: [] };
    const own = `${prefix}/${g.unitId}/${g.gatewayId}`;
    return {
      publish: ['data', 'backlog', 'status', 'meta'].map((k) => `${own}/${k}`),
      subscribe: [`${own}/ack`, `${prefix}/_sync`],
    };
  }
  if (account.role === 'collector')
    return {
      publish: [
        `${prefix}/+/+/ack`,
        `${prefix}/_sync`,
        `${prefix}/_deadletter`,
        `${prefix}/_findings`,
        `${prefix}/_stored/+/+/live`,
      ],
      subscribe: ['data', 'backlog', 'status', 'meta'].map((k) => `${prefix}/+/+/${k}`),
    };
  return { publish: [], subscribe: [`${prefix}/_stored/+/+/live`] };
}

/** May `rights` publish to the topic name `topic` (no wildcards)? */
export function mayPublish(rights: TopicRights, topic: string): boolean {
  if (/[+#]/.test(topic) || topic.startsWith('$')) return false;
  return rights.publish.some((allowed) => filterWithin(topic, allowed));
}

/** May `rights` subscribe to `filter` (a `$share/{group}/` prefix is judged by the filter after it)? */
export function maySubscribe(rights: TopicRights, filter: string): boolean {
  const shared = /^\$share\/[^/+#]+\/(.+)$/.exec(filter);
  const f = shared ? (shared[1] as string) : filter;
  if (f.startsWith('$')) return false;
  return rights.subscribe.some((allowed) => filterWithin(f, allowed));
}

/** The demo's broker credentials (see {@link demoBrokerAccounts}). */
export interface DemoBrokerCredentials {
  accounts: BrokerAccountsFile;
  /** The collector account. */
  collector: { username: string; password: string };
  /** Password file of each gateway account, by `{unitId}/{gatewayId}`. */
  gatewayPasswordFiles: Map<string, string>;
}

/** Name of the demo's collector account. */
export const DEMO_COLLECTOR_ACCOUNT = 'mrv-demo-collector';

/**
 * The demo's accounts under `<dataDir>/mqtt/`: `accounts.json` and one random password per account
 * (`<unit>_<gateway>.password`, `collector.password`, 0600), made on the first run and kept after, so
 * that `mrv demo` wires authentication by itself and a look into the data dir shows how it is done.
 */
export async function demoBrokerAccounts(
  dataDir: string,
  gateways: readonly { unitId: string; gatewayId: string }[],
): Promise<DemoBrokerCredentials> {
  const dir = path.join(dataDir, 'mqtt');
  const file = path.join(dir, 'accounts.json');
  const known = existsSync(file)
    ? new Set(loadBrokerAccounts(file).accounts.map((a) => a.username))
    : new Set();
  const gatewayPasswordFiles = new Map<string, string>();
  for (const g of gateways) {
    const username = `${g.unitId}/${g.gatewayId}`;
    const passwordFile = path.join(dir, `${g.unitId}_${g.gatewayId}.password`);
    gatewayPasswordFiles.set(username, passwordFile);
    if (!known.has(username) || !existsSync(passwordFile))
      await addBrokerAccount(file, { username, role: 'gateway', passwordFile });
  }
  const collectorFile = path.join(dir, 'collector.password');
  if (!known.has(DEMO_COLLECTOR_ACCOUNT) || !existsSync(collectorFile))
    await addBrokerAccount(file, {
      username: DEMO_COLLECTOR_ACCOUNT,
      role: 'collector',
      passwordFile: collectorFile,
    });
  return {
    accounts: loadBrokerAccounts(file),
    collector: { username: DEMO_COLLECTOR_ACCOUNT, password: readFileSync(collectorFile, 'utf8').trim() },
    gatewayPasswordFiles,
  };
}
