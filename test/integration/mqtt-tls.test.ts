// MQTT over TLS against a real Mosquitto 2.0 configured for it (issue 4 item 5): a throw-away CA, a
// server certificate for 127.0.0.1 and client certificates made with openssl per run
// (test/helpers/test-pki.ts), accounts made with mosquitto_passwd. A real Modbus TCP device (the fault
// suite's counter) → gateway → Mosquitto (mqtts://) → collector → SQLite, audited seq by seq:
// (a) username/password, passwords from a file and from environment variables;
// (b) client certificates: with them it works; without one, or with one from another CA, the broker
//     refuses, and a gateway without one keeps polling into its log;
// (c) a wrong password is refused with one clear log line (gateway) or a clear error (collector);
// (d) `mrv gateway` and `mrv collector` at debug level never write a password or a private key.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions } from 'mqtt';
import pino, { type Logger } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { collectorOptions } from '../../cli/integrity-options.ts';
import { createLogger } from '../../cli/log.ts';
import { Collector } from '../../collector/collector.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { MrvError } from '../../core/errors.ts';
import { loadSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import {
  audit,
  type FaultWorkspace,
  GATEWAY,
  lostValues,
  MRV,
  root,
  startCounterDevice,
  until,
  workspace,
  writeSite,
} from '../faults/harness.ts';
import { type MosquittoServer, startMosquitto } from '../helpers/mosquitto.ts';
import { issueCert, makeCa } from '../helpers/test-pki.ts';
import { spawnTied, type TiedProcess } from '../helpers/tied-process.ts';

/** Deadline of one wait for the moving system (a few hundred ms when the machine is quiet). */
const WAIT_MS = 30_000;
/** A test here: its servers and certificates, then up to three waits. */
const TEST_MS = 4 * WAIT_MS;
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A password nobody would log by chance, so finding it in a log can only be a leak. */
const secret = (who: string) => `${who}-${randomBytes(12).toString('base64url')}`;

/** A pino logger keeping its records in memory, for assertions on what was logged. */
function memoryLog(): { log: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), records };
}

const quiet = pino({ level: process.env.TEST_LOG ?? 'silent' });

/** A fresh workspace and counter device, cleaned up after the file. */
async function rig() {
  const ws = workspace();
  const device = await startCounterDevice();
  cleanups.push(
    () => ws.cleanup(),
    () => device.close(),
  );
  return { ws, device };
}

async function broker(options: Parameters<typeof startMosquitto>[0]): Promise<MosquittoServer> {
  const m = await startMosquitto(options);
  cleanups.push(() => m.stop());
  expect(m.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
  return m;
}

/**
 * Gateway → broker → Collector (options built from `mrv collector` flags, as the CLI does) → SQLite.
 * `gatewayMqtt(ws)` returns the site's `mqtt` fields and may write files next to the site file. Waits
 * for 10 batches, stops the gateway and audits: every seq once, all verified, every reading stored.
 */
async function deliver(
  m: MosquittoServer,
  gatewayMqtt: (ws: FaultWorkspace) => Record<string, string | number>,
  flags: Parameters<typeof collectorOptions>[0],
): Promise<void> {
  const { ws, device } = await rig();
  const store = new SqliteStore({ path: path.join(ws.dir, 'store.sqlite') });
  await store.start();
  const collector = new Collector({
    url: m.url,
    store,
    log: quiet,
    clientId: `tls-collector-${randomBytes(3).toString('hex')}`,
    keys: loadKeyRegistry(ws.keysDir),
    keepaliveS: 2,
    flushIntervalMs: 50,
    ...collectorOptions(flags),
  });
  await collector.start();
  cleanups.push(
    () => store.stop(),
    () => collector.stop(),
  );
  const gateway = new Gateway({
    site: loadSiteConfig(writeSite(ws, device.port, { url: m.url, ...gatewayMqtt(ws) })),
    log: quiet,
    reconnectPeriodMs: 200,
  });
  await gateway.start();
  cleanups.push(() => gateway.stop(0));
  await until('10 batches stored over TLS', () => collector.counters.batches >= 10, WAIT_MS);
  await gateway.stop();
  const lastSeq = gateway.counters.lastSeq;
  await until('every batch archived', async () => (await store.batchHeads())[0]?.seq === lastSeq, WAIT_MS);
  const a = await audit(store);
  expect(a.lastSeq).toBe(lastSeq);
  expect(lostValues(device.served, a.values).length, 'served but not stored').toBeLessThanOrEqual(1);
  expect(a.findings).toEqual([]);
}

/** One connection attempt without retries: 'connected', or what ended it. */
async function tryConnect(url: string, options: IClientOptions): Promise<string> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  try {
    return await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', (err) => resolve(`refused: ${err.message}`));
      client.once('close', () => resolve('refused: connection closed'));
    });
  } finally {
    await client.endAsync(true);
  }
}

const pem = (f: string) => readFileSync(f);

/** A secrets folder of its own under the broker's temp folder (removed with it). */
function secretsDir(m: MosquittoServer): string {
  const dir = path.join(m.dir, 'secrets');
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('MQTT over TLS with username and password', () => {
  it("(a) delivers every batch with passwords from files (the gateway's relative to its site file)", {
    timeout: TEST_MS,
  }, async () => {
    const gwPassword = secret('gw');
    const colPassword = secret('col');
    const m = await broker({ tls: true, users: { [GATEWAY]: gwPassword, collector: colPassword } });
    const colFile = path.join(secretsDir(m), 'collector.password');
    writeFileSync(colFile, `${colPassword}\n`);
    await deliver(
      m,
      (ws) => {
        writeFileSync(path.join(ws.dir, 'gw.password'), `${gwPassword}\n`);
        return { username: GATEWAY, passwordFile: 'gw.password', caFile: m.tls?.ca.certFile as string };
      },
      { username: 'collector', 'password-file': colFile, ca: m.tls?.ca.certFile },
    );
    const log = await m.log();
    expect(log).toMatch(new RegExp(`New client connected .* u'${GATEWAY}'`));
    expect(log).toMatch(/New client connected .* u'collector'/);
  });

  it('(a) delivers every batch with passwords from environment variables', { timeout: TEST_MS }, async () => {
    const gwPassword = secret('gw');
    const colPassword = secret('col');
    const m = await broker({ tls: true, users: { [GATEWAY]: gwPassword, collector: colPassword } });
    process.env.MRV_TEST_GW_MQTT_PASSWORD = gwPassword;
    process.env.MRV_TEST_COLLECTOR_MQTT_PASSWORD = colPassword;
    try {
      await deliver(
        m,
        () => ({
          username: GATEWAY,
          passwordEnv: 'MRV_TEST_GW_MQTT_PASSWORD',
          caFile: m.tls?.ca.certFile as string,
        }),
        { username: 'collector', 'password-env': 'MRV_TEST_COLLECTOR_MQTT_PASSWORD', ca: m.tls?.ca.certFile },
      );
    } finally {
      delete process.env.MRV_TEST_GW_MQTT_PASSWORD;
      delete process.env.MRV_TEST_COLLECTOR_MQTT_PASSWORD;
    }
  });

  it('(c) refuses a wrong password: one clear error line, the gateway keeps polling and retrying', {
    timeout: TEST_MS,
  }, async () => {
    const m = await broker({ tls: true, users: { [GATEWAY]: secret('gw'), collector: secret('col') } });
    const { ws, device } = await rig();
    writeFileSync(path.join(ws.dir, 'gw.password'), 'not-the-password\n');
    const { log, records } = memoryLog();
    const gateway = new Gateway({
      site: loadSiteConfig(
        writeSite(ws, device.port, {
          url: m.url,
          username: GATEWAY,
          passwordFile: 'gw.password',
          caFile: m.tls?.ca.certFile as string,
        }),
      ),
      log,
      reconnectPeriodMs: 200,
    });
    await gateway.start();
    cleanups.push(() => gateway.stop(0));
    await until(
      'a few attempts',
      async () => ((await m.log()).match(/not authori[sz]ed/gi) ?? []).length >= 3,
      WAIT_MS,
    );
    const refusals = records.filter((r) => r.level === 50 && /refused the credentials/.test(String(r.msg)));
    expect(refusals, 'said once, loudly').toHaveLength(1);
    expect(refusals[0]).toMatchObject({
      err: 'Connection refused: Not authorized',
      code: 5,
      username: GATEWAY,
    });
    expect(String(refusals[0]?.msg)).toMatch(/check gateway\.mqtt\.username and passwordEnv\/passwordFile/);
    expect(gateway.counters.batchesPublished, 'polling goes on into the log').toBeGreaterThan(3);
    expect(gateway.counters.batchesAcked).toBe(0);
    await gateway.stop(0);

    // The collector does not sit waiting for a broker that will never let it in: start() fails, clearly.
    const store = new SqliteStore({ path: path.join(ws.dir, 'store.sqlite') });
    await store.start();
    cleanups.push(() => store.stop());
    const collector = new Collector({
      url: m.url,
      store,
      log: quiet,
      clientId: 'tls-collector-wrong',
      ...collectorOptions({ username: 'collector', ca: m.tls?.ca.certFile }),
      password: 'not-the-password',
    });
    const err = await collector.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MrvError);
    expect(err).toMatchObject({ code: 'MRV_E_CONFIG' });
    expect((err as Error).message).toMatch(
      /refused the collector's credentials \(Connection refused: Not authorized\)/,
    );
    await collector.stop();

    // `mrv collector` says why and exits, instead of waiting for ever.
    const wrong = path.join(secretsDir(m), 'wrong.password');
    writeFileSync(wrong, 'not-the-password');
    const proc = await spawnTied(
      process.execPath,
      [
        MRV,
        'collector',
        '--mqtt',
        m.url,
        '--store',
        'sqlite',
        '--sqlite',
        path.join(ws.dir, 'cli.sqlite'),
        '--username',
        'collector',
        '--password-file',
        wrong,
        '--insecure-unsigned',
        '--ca',
        m.tls?.ca.certFile as string,
      ],
      { cwd: root },
    );
    cleanups.push(() => proc.stop());
    expect((await proc.exited).code).not.toBe(0);
    expect(proc.tail()).toContain(
      `mrv collector: MRV_E_CONFIG: MQTT broker ${m.url} refused the collector's credentials (Connection refused: Not authorized)`,
    );
    expect(proc.tail()).toMatch(/"level":50.*"msg":"broker refused the credentials/);
  });
});

describe('an untrusted broker certificate', () => {
  it('fails the collector at start with a named error instead of retrying for ever', async () => {
    const m = await broker({ tls: true });
    const { ws } = await rig();
    const store = new SqliteStore({ path: path.join(ws.dir, 'no-ca.sqlite') });
    await store.start();
    cleanups.push(() => store.stop());
    const collector = new Collector({ url: m.url, store, log: quiet, clientId: 'tls-collector-no-ca' });
    const err = await collector.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    await collector.stop();
    expect(err).toBeInstanceOf(MrvError);
    expect(err).toMatchObject({ code: 'MRV_E_CONFIG' });
    expect((err as Error).message).toMatch(
      /TLS certificate does not verify \(SELF_SIGNED_CERT_IN_CHAIN: .*\): give the CA that signed it with --ca FILE/,
    );
  });
});

describe('MQTT over TLS with client certificates', () => {
  it("(b) delivers with the test CA's certificates; refuses no certificate and another CA's", {
    timeout: TEST_MS,
  }, async () => {
    const m = await broker({ tls: { requireCertificate: true, clients: [GATEWAY, 'collector'] } });
    const pki = m.tls;
    if (!pki) throw new Error('no PKI');
    const gw = pki.clients[GATEWAY];
    const col = pki.clients.collector;
    if (!gw || !col) throw new Error('client certificates missing');
    await deliver(m, () => ({ caFile: pki.ca.certFile, certFile: gw.certFile, keyFile: gw.keyFile }), {
      ca: pki.ca.certFile,
      cert: col.certFile,
      key: col.keyFile,
    });
    // use_identity_as_username: the certificate's CN is who connected.
    expect(await m.log()).toMatch(new RegExp(`New client connected .* u'${GATEWAY}'`));

    const ca = pem(pki.ca.certFile);
    expect(await tryConnect(m.url, { ca, cert: pem(gw.certFile), key: pem(gw.keyFile) })).toBe('connected');
    expect(await tryConnect(m.url, { ca })).toMatch(/^refused: .*certificate required/);
    const other = await makeCa(pki.dir, 'intruder');
    const intruder = await issueCert(other, pki.dir, 'intruder', 'client');
    expect(await tryConnect(m.url, { ca, cert: pem(intruder.certFile), key: pem(intruder.keyFile) })).toMatch(
      /^refused: .*unknown ca/,
    );
    // And the client side checks the broker: without the test CA its certificate is not trusted.
    expect(await tryConnect(m.url, { cert: pem(gw.certFile), key: pem(gw.keyFile) })).toMatch(
      /^refused: self-signed certificate in certificate chain/,
    );
  });

  it('(b) a gateway without a certificate is refused and keeps polling into its log without crashing', {
    timeout: TEST_MS,
  }, async () => {
    const m = await broker({ tls: { requireCertificate: true, clients: [GATEWAY] } });
    const { ws, device } = await rig();
    const { log, records } = memoryLog();
    const gateway = new Gateway({
      site: loadSiteConfig(writeSite(ws, device.port, { url: m.url, caFile: m.tls?.ca.certFile as string })),
      log,
      reconnectPeriodMs: 200,
    });
    await gateway.start();
    cleanups.push(() => gateway.stop(0));
    await until('20 batches logged', () => gateway.counters.batchesPublished >= 20, WAIT_MS);
    expect(gateway.counters.batchesAcked, 'nothing reached the broker').toBe(0);
    const buffer = gateway.bufferStatus();
    expect(buffer).toMatchObject({ durable: true, full: false });
    expect(buffer.pendingBatches, 'every batch waits in the log').toBe(gateway.counters.batchesPublished);
    const [driver] = Object.values(gateway.deviceStatus());
    expect(driver, 'the device side is unaffected').toMatchObject({ connected: true, failedRequests: 0 });
    expect(driver?.cycles).toBeGreaterThanOrEqual(20);
    const errors = records.filter((r) => r.msg === 'broker error').map((r) => String(r.err));
    expect(errors.length, 'retrying').toBeGreaterThan(1);
    expect(errors[0]).toMatch(/certificate required/);
    expect(await m.log()).toMatch(/peer did not return a certificate/);
    await gateway.stop(0); // stops cleanly; the batches stay in the log for the next start
  });
});

describe('secrets are never logged', () => {
  it('(d) `mrv gateway` and `mrv collector` at debug level write no password and no private key', {
    timeout: 2 * TEST_MS,
  }, async () => {
    const gwPassword = secret('gw');
    const colPassword = secret('col');
    // Certificate and password both required (use_identity_as_username off).
    const m = await broker({
      tls: { requireCertificate: true, identityAsUsername: false, clients: [GATEWAY, 'collector'] },
      users: { [GATEWAY]: gwPassword, collector: colPassword },
    });
    const pki = m.tls;
    const gw = pki?.clients[GATEWAY];
    const col = pki?.clients.collector;
    if (!pki || !gw || !col) throw new Error('PKI missing');
    const { ws, device } = await rig();
    const colPasswordFile = path.join(secretsDir(m), 'collector.password');
    writeFileSync(colPasswordFile, colPassword);
    const sqlite = path.join(ws.dir, 'store.sqlite');
    const output = new Map<string, string[]>();
    const spawn = async (name: string, args: string[], env: Record<string, string>): Promise<TiedProcess> => {
      const p = await spawnTied(process.execPath, [MRV, ...args], {
        cwd: root,
        env: { ...process.env, MRV_LOG_LEVEL: 'debug', ...env },
      });
      const chunks: string[] = [];
      output.set(name, chunks);
      p.child.stdout?.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
      p.child.stderr?.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
      cleanups.push(() => p.stop());
      return p;
    };
    const text = (name: string) => (output.get(name) ?? []).join('');

    const collector = await spawn(
      'collector',
      [
        'collector',
        '--mqtt',
        m.url,
        '--store',
        'sqlite',
        '--sqlite',
        sqlite,
        '--keys',
        ws.keysDir,
        '--client-id',
        'tls-collector-proc',
        '--username',
        'collector',
        '--password-file',
        colPasswordFile,
        '--ca',
        pki.ca.certFile,
        '--cert',
        col.certFile,
        '--key',
        col.keyFile,
      ],
      {},
    );
    await until(
      'the collector subscribed',
      () => /collector subscribed/.test(text('collector')),
      2 * WAIT_MS,
    );
    // A password written into the site file's URL as well (a command line refuses one): logged without it.
    const [, hostPort] = m.url.split('://');
    const site = writeSite(ws, device.port, {
      url: `mqtts://${GATEWAY}:${gwPassword}@${hostPort}`,
      username: GATEWAY,
      passwordEnv: 'MRV_GW_MQTT_PASSWORD',
      caFile: pki.ca.certFile,
      certFile: gw.certFile,
      keyFile: gw.keyFile,
    });
    const gateway = await spawn('gateway', ['gateway', '-c', site], { MRV_GW_MQTT_PASSWORD: gwPassword });
    const reader = new SqliteStore({ path: sqlite });
    await reader.start();
    cleanups.push(() => reader.stop());
    await until(
      '10 batches stored',
      async () => ((await reader.batchHeads())[0]?.seq ?? 0) >= 10,
      2 * WAIT_MS,
    );
    await gateway.stop();
    await collector.stop();

    const logs = { gateway: text('gateway'), collector: text('collector') };
    expect(logs.gateway).toMatch(/connected to broker/);
    expect(logs.gateway).toContain(`"url":"mqtts://${GATEWAY}:***@${hostPort}"`);
    expect(logs.collector).toMatch(/"level":20/); // debug lines are there, so debug is on
    const privateKeys = [gw.keyFile, col.keyFile, path.join(ws.keysDir, `${GATEWAY}.key.pem`)].map((f) =>
      readFileSync(f, 'utf8'),
    );
    const forbidden = [
      gwPassword,
      colPassword,
      ...privateKeys,
      // every base64 line of every key, in case a key were logged re-wrapped or in part
      ...privateKeys.flatMap((k) => k.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))),
    ];
    for (const [name, out] of Object.entries(logs)) {
      expect(out, `${name} wrote something`).not.toBe('');
      expect(out, `${name} log mentions a private key`).not.toMatch(/PRIVATE KEY/);
      for (const s of forbidden)
        expect(out.includes(s), `${name} log contains a secret (${s.slice(0, 8)}…)`).toBe(false);
    }
  });

  it('createLogger redacts password, key and token fields, top level and one down', () => {
    const lines: string[] = [];
    const log = createLogger('t', { write: (s: string) => lines.push(s) });
    log.info(
      { password: 'p1', key: 'k1', opts: { password: 'p2', key: 'k2', passphrase: 'k3' }, token: 't1' },
      'x',
    );
    const out = lines.join('');
    for (const s of ['p1', 'p2', 'k1', 'k2', 'k3', 't1']) expect(out).not.toContain(`"${s}"`);
    expect(out).toContain('[redacted]');
  });
});
