// The embedded broker (aedes) with accounts and the topic ACL (cli/broker-accounts.ts): an
// unauthenticated client is refused, a gateway cannot publish as another unit nor read another's acks
// or the whole tree, the collector account can do its job.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addBrokerAccount,
  filterWithin,
  loadBrokerAccounts,
  maySubscribe,
  topicRights,
  verifyPassword,
} from '../../cli/broker-accounts.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../cli/embedded-broker.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mrv-aedes-auth-'));
const file = path.join(dir, 'accounts.json');
const pw = (name: string) => path.join(dir, `${name}.password`);
let broker: EmbeddedBroker;
const clients: MqttClient[] = [];

beforeAll(async () => {
  writeFileSync(pw('a'), 'gateway-a-password-123\n');
  await addBrokerAccount(file, { username: 'unitA/gwA', role: 'gateway', passwordFile: pw('a') });
  await addBrokerAccount(file, { username: 'unitB/gwB', role: 'gateway', passwordFile: pw('b') });
  await addBrokerAccount(file, { username: 'collector', role: 'collector', passwordFile: pw('c') });
  broker = await startEmbeddedBroker({ port: 0, accounts: loadBrokerAccounts(file) });
});

afterAll(async () => {
  for (const c of clients) await c.endAsync(true);
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const read = (f: string) => import('node:fs').then((fs) => fs.readFileSync(f, 'utf8').trim());

/** One connection without retries: the client, or the reason it was refused. */
async function connect(options: IClientOptions): Promise<MqttClient | string> {
  const client = mqtt.connect(broker.url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  return new Promise((resolve) => {
    client.once('connect', () => {
      clients.push(client);
      resolve(client);
    });
    client.once('error', (err) => {
      client.end(true);
      resolve(`refused: ${err.message}`);
    });
  });
}

async function as(username: string, passwordFile: string, clientId: string): Promise<MqttClient> {
  const c = await connect({ username, password: await read(passwordFile), clientId });
  if (typeof c === 'string') throw new Error(`${username}: ${c}`);
  return c;
}

/** Messages a client receives, by topic. */
function inbox(c: MqttClient): { topic: string; payload: string }[] {
  const got: { topic: string; payload: string }[] = [];
  c.on('message', (topic, payload) => got.push({ topic, payload: payload.toString('utf8') }));
  return got;
}

describe('embedded broker authentication', () => {
  it('refuses a client without credentials, with a wrong password, and an unknown account', async () => {
    expect(await connect({})).toMatch(/^refused: .*Bad username or password/i);
    expect(await connect({ username: 'unitA/gwA', password: 'wrong' })).toMatch(/^refused/);
    expect(await connect({ username: 'nobody', password: 'gateway-a-password-123' })).toMatch(/^refused/);
  });

  it('stores scrypt hashes, never the password', async () => {
    const accounts = loadBrokerAccounts(file);
    const a = accounts.accounts.find((x) => x.username === 'unitA/gwA');
    expect(a?.password).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(JSON.stringify(accounts)).not.toContain('gateway-a-password-123');
    expect(await verifyPassword('gateway-a-password-123', a?.password ?? '')).toBe(true);
    expect(await verifyPassword('gateway-a-password-124', a?.password ?? '')).toBe(false);
  });
});

describe('embedded broker ACL', () => {
  it('delivers a gateway publish as another unit to nobody, and closes that connection', async () => {
    const col = await as('collector', pw('c'), 'acl-collector');
    const got = inbox(col);
    await col.subscribeAsync({ 'mrv/v1/+/+/data': { qos: 1 } });
    const a = await as('unitA/gwA', pw('a'), 'acl-gw-a');
    await a.publishAsync('mrv/v1/unitA/gwA/data', 'own', { qos: 1 });
    const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
    a.publish('mrv/v1/unitB/gwB/data', 'forged', { qos: 1 });
    await closed;
    // A marker sent after the forged message: once it is in, the forged one would have been too.
    const b = await as('unitB/gwB', pw('b'), 'acl-gw-b');
    await b.publishAsync('mrv/v1/unitB/gwB/data', 'marker', { qos: 1 });
    await expect.poll(() => got.map((m) => m.payload)).toContain('marker');
    expect(got.map((m) => m.payload)).toEqual(['own', 'marker']);
  });

  it("refuses a gateway's subscription to another unit's acks and to the whole tree", async () => {
    const a = await as('unitA/gwA', pw('a'), 'acl-gw-a2');
    const got = inbox(a);
    const granted: [string, string][] = [];
    for (const topic of ['mrv/v1/unitB/gwB/ack', 'mrv/v1/#', '#', 'mrv/v1/unitA/gwA/ack', 'mrv/v1/_sync'])
      granted.push([
        topic,
        await a.subscribeAsync(topic, { qos: 1 }).then(
          () => 'granted',
          (err: Error) => `refused: ${err.message}`,
        ),
      ]);
    expect(granted).toEqual([
      ['mrv/v1/unitB/gwB/ack', expect.stringMatching(/^refused/)],
      ['mrv/v1/#', expect.stringMatching(/^refused/)],
      ['#', expect.stringMatching(/^refused/)],
      ['mrv/v1/unitA/gwA/ack', 'granted'],
      ['mrv/v1/_sync', 'granted'],
    ]);
    const col = await as('collector', pw('c'), 'acl-collector2');
    await col.publishAsync('mrv/v1/unitB/gwB/ack', 'for B', { qos: 1 });
    await col.publishAsync('mrv/v1/unitA/gwA/ack', 'for A', { qos: 1 });
    await expect.poll(() => got.map((m) => m.payload)).toContain('for A');
    expect(got.map((m) => m.topic)).toEqual(['mrv/v1/unitA/gwA/ack']);
  });

  it("refuses a client id that is another account's session", async () => {
    await as('collector', pw('c'), 'acl-collector3');
    expect(
      await connect({ username: 'unitA/gwA', password: await read(pw('a')), clientId: 'acl-collector3' }),
    ).toMatch(/^refused: .*Not authorized/i);
  });

  it('judges filters by the topics they can match', () => {
    expect(filterWithin('mrv/v1/u1/+/data', 'mrv/v1/+/+/data')).toBe(true);
    expect(filterWithin('mrv/v1/#', 'mrv/v1/+/+/data')).toBe(false);
    expect(filterWithin('mrv/v1/+/+/+', 'mrv/v1/+/+/data')).toBe(false);
    expect(filterWithin('mrv/v1/u/g/data/x', 'mrv/v1/+/+/data')).toBe(false);
    const collector = topicRights({ username: 'c', role: 'collector' }, 'mrv/v1');
    expect(maySubscribe(collector, '$share/g1/mrv/v1/+/+/data')).toBe(true);
    expect(maySubscribe(collector, 'mrv/v1/+/+/ack')).toBe(false);
  });
});
