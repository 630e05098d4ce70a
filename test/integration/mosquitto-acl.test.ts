// The shipped Mosquitto configuration (deploy/mosquitto/mosquitto.conf and mrv.acl, used as they are
// with only paths and the port replaced) on a real Mosquitto 2.0 over TLS: a gateway account cannot
// publish as another unit (the broker never delivers it), cannot read another gateway's acks or the
// whole tree, and the collector account works end to end: gateway → broker → collector stored → ack
// back → the gateway released its log.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { loadSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import {
  audit,
  type FaultWorkspace,
  GATEWAY,
  root,
  startCounterDevice,
  UNIT,
  until,
  workspace,
  writeSite,
} from '../faults/harness.ts';
import { type MosquittoServer, startMosquitto } from '../helpers/mosquitto.ts';

const shippedConf = readFileSync(path.join(root, 'deploy/mosquitto/mosquitto.conf'), 'utf8');
const shippedAcl = path.join(root, 'deploy/mosquitto/mrv.acl');
const quiet = pino({ level: process.env.TEST_LOG ?? 'silent' });

const GW_A = `${UNIT}/${GATEWAY}`; // the gateway of the end-to-end run
const GW_B = 'unit-b/gw-b';
const passwords = {
  [GW_A]: 'gw-a-password-0001',
  [GW_B]: 'gw-b-password-0002',
  'mrv-collector': 'col-pass-0003',
};

let m: MosquittoServer;
let ws: FaultWorkspace;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  m = await startMosquitto({
    tls: true,
    users: passwords,
    config: ({ dir, port, passwordFile, tls }) => {
      const conf = shippedConf
        .replace('/etc/mosquitto/mrv.passwd', passwordFile as string)
        .replace('/etc/mosquitto/mrv.acl', shippedAcl)
        .replace('/var/lib/mosquitto/', `${dir}/data/`)
        .replace('/etc/mosquitto/certs/ca.crt', tls?.ca.certFile as string)
        .replace('/etc/mosquitto/certs/broker.crt', tls?.server.certFile as string)
        .replace('/etc/mosquitto/certs/broker.key', tls?.server.keyFile as string)
        .replace(/^listener 8883$/m, `listener ${port} 127.0.0.1`)
        // one listener in the test: the loopback plain one would need a second free port
        .replace(/^listener 1883 127\.0\.0\.1$/m, '');
      for (const line of ['password_file', 'acl_file', 'max_queued_messages 0', 'allow_anonymous false'])
        if (!conf.includes(line)) throw new Error(`shipped config lost "${line}"`);
      return conf;
    },
  });
  ws = workspace();
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await m?.stop();
  ws?.cleanup();
});

async function as(username: keyof typeof passwords, clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(m.url, {
    username,
    password: passwords[username],
    clientId,
    ca: readFileSync(m.tls?.ca.certFile as string),
    reconnectPeriod: 0,
  });
  cleanups.push(() => client.endAsync(true));
  return client;
}

function inbox(c: MqttClient): { topic: string; payload: string }[] {
  const got: { topic: string; payload: string }[] = [];
  c.on('message', (topic, payload) => got.push({ topic, payload: payload.toString('utf8') }));
  return got;
}

describe('shipped Mosquitto ACL', () => {
  it('refuses anonymous clients', async () => {
    const err = await mqtt
      .connectAsync(m.url, { ca: readFileSync(m.tls?.ca.certFile as string), reconnectPeriod: 0 })
      .then(
        (c) => c.endAsync(true).then(() => 'connected'),
        (e: Error) => e.message,
      );
    expect(err).toMatch(/Not authorized|Bad username/i);
  });

  it('never delivers a gateway publish as another unit', async () => {
    const col = await as('mrv-collector', 'acl-col');
    const got = inbox(col);
    await col.subscribeAsync({ 'mrv/v1/+/+/data': { qos: 1 }, 'mrv/v1/+/+/meta': { qos: 1 } });
    // Each forged message on a connection of its own: MQTT 3.1.1 has no "denied" answer, Mosquitto 2.0
    // acknowledges or closes the connection and drops the message. Once it has answered, the message
    // has been routed or dropped, so what arrives after A's own later message is the whole story.
    for (const [topic, retain] of [
      [`mrv/v1/${GW_B}/data`, false],
      [`mrv/v1/${GW_B}/meta`, true],
    ] as const) {
      const forger = await as(GW_A, `acl-gw-a-${retain ? 'retain' : 'data'}`);
      const answered = new Promise<string>((resolve) => {
        forger.once('close', () => resolve('closed'));
        forger.publish(topic, `forged ${topic}`, { qos: 1, retain }, (err) =>
          resolve(err ? 'error' : 'puback'),
        );
      });
      expect(await answered).toMatch(/^(puback|closed)$/);
      await forger.endAsync(true);
    }
    const a = await as(GW_A, 'acl-gw-a');
    await a.publishAsync(`mrv/v1/${GW_A}/data`, 'own data', { qos: 1 });
    await a.publishAsync(`mrv/v1/${GW_A}/meta`, 'own meta', { qos: 1, retain: true });
    await expect.poll(() => got.map((x) => x.payload)).toContain('own meta');
    await expect.poll(() => got.map((x) => x.payload)).toContain('own data');
    expect(got.map((x) => x.payload).sort()).toEqual(['own data', 'own meta']);
    // Nor is the forged meta kept as a retained message for later subscribers.
    const late = await as('mrv-collector', 'acl-col-late');
    const retained = inbox(late);
    await late.subscribeAsync({ 'mrv/v1/+/+/meta': { qos: 1 } });
    await expect.poll(() => retained.map((x) => x.payload)).toContain('own meta');
    expect(retained.map((x) => x.topic)).toEqual([`mrv/v1/${GW_A}/meta`]);
  });

  it("gives a gateway neither another gateway's acks nor the whole tree", async () => {
    const a = await as(GW_A, 'acl-gw-a2');
    const got = inbox(a);
    // Mosquitto 2.0 grants the SUBACK and filters on delivery: what matters is what arrives.
    await a.subscribeAsync({ 'mrv/v1/#': { qos: 1 }, [`mrv/v1/${GW_B}/ack`]: { qos: 1 } });
    const b = await as(GW_B, 'acl-gw-b');
    const col = await as('mrv-collector', 'acl-col2');
    await b.publishAsync(`mrv/v1/${GW_B}/data`, 'b data', { qos: 1 });
    await col.publishAsync(`mrv/v1/${GW_B}/ack`, 'ack for b', { qos: 1 });
    await col.publishAsync('mrv/v1/_findings', 'a finding', { qos: 1 });
    await col.publishAsync(`mrv/v1/${GW_A}/ack`, 'ack for a', { qos: 1 });
    await expect.poll(() => got.map((x) => x.payload)).toContain('ack for a');
    expect(got.map((x) => x.topic)).toEqual([`mrv/v1/${GW_A}/ack`]);
  });

  it('carries a gateway through the collector account end to end, the log released by store acks', async () => {
    const device = await startCounterDevice();
    cleanups.push(() => device.close());
    writeFileSync(path.join(ws.dir, 'gw.password'), `${passwords[GW_A]}\n`);
    const store = new SqliteStore({ path: path.join(ws.dir, 'store.sqlite') });
    await store.start();
    cleanups.push(() => store.stop());
    const collector = new Collector({
      url: m.url,
      store,
      log: quiet,
      clientId: 'acl-e2e-collector',
      keys: loadKeyRegistry(ws.keysDir),
      username: 'mrv-collector',
      password: passwords['mrv-collector'],
      ca: readFileSync(m.tls?.ca.certFile as string),
      flushIntervalMs: 50,
    });
    await collector.start();
    cleanups.push(() => collector.stop());
    const gateway = new Gateway({
      site: loadSiteConfig(
        writeSite(ws, device.port, {
          url: m.url,
          username: GW_A,
          passwordFile: 'gw.password',
          caFile: m.tls?.ca.certFile as string,
        }),
      ),
      log: quiet,
      reconnectPeriodMs: 200,
    });
    await gateway.start();
    cleanups.push(() => gateway.stop(0));
    // batchesConfirmed counts batches released from the disk log on a store acknowledgement.
    await until('10 batches confirmed by the store', () => gateway.counters.batchesConfirmed >= 10, 20_000);
    await gateway.stop();
    const lastSeq = gateway.counters.lastSeq;
    await until('every batch archived', async () => (await store.batchHeads())[0]?.seq === lastSeq, 10_000);
    const a = await audit(store);
    expect(a.lastSeq).toBe(lastSeq);
    expect(a.findings).toEqual([]);
  });
});
