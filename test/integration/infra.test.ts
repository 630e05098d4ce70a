// The test servers themselves: a real InfluxDB and a real Mosquitto start on free loopback ports,
// answer, keep retained messages and persistent sessions across a crash, and leave nothing behind.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InfluxDB } from 'influx';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type InfluxDbServer, startInfluxDb } from '../helpers/influxdb.ts';
import { type MosquittoServer, startMosquitto } from '../helpers/mosquitto.ts';

/** Resolves with the first message on `topic` (the client must already be subscribed), or rejects after `ms`. */
function nextMessage(
  client: MqttClient,
  topic: string,
  ms = 5000,
): Promise<{ payload: string; retain: boolean; qos: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no message on ${topic} within ${ms} ms`));
    }, ms);
    const onMessage = (t: string, payload: Buffer, packet: mqtt.IPublishPacket) => {
      if (t !== topic) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve({ payload: payload.toString(), retain: packet.retain, qos: packet.qos });
    };
    client.on('message', onMessage);
  });
}

describe('InfluxDB helper', () => {
  let server: InfluxDbServer;
  beforeAll(async () => {
    server = await startInfluxDb();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('starts on a loopback port and answers writes and queries', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const ping = await fetch(`${server.url}/ping`);
    expect(ping.status).toBe(204);
    const influx = new InfluxDB({ host: '127.0.0.1', port: server.port, database: 'infra' });
    await influx.createDatabase('infra');
    await influx.writePoints([{ measurement: 'm', tags: { t: 'a' }, fields: { f: 1.5 }, timestamp: 1000 }], {
      precision: 'ms',
    });
    const rows = await influx.query<{ f: number; t: string }>('SELECT "f", "t" FROM "m"');
    expect(rows.map((r) => ({ time: r.time.getTime(), f: r.f, t: r.t }))).toEqual([
      { time: 1000, f: 1.5, t: 'a' },
    ]);
  });

  it('stop() kills influxd and removes its folder', async () => {
    const other = await startInfluxDb();
    await other.stop();
    await expect(fetch(`${other.url}/ping`)).rejects.toThrow();
    await other.stop(); // idempotent
  });
});

describe('Mosquitto helper', () => {
  let broker: MosquittoServer;
  const clients: MqttClient[] = [];
  const connect = async (opts: mqtt.IClientOptions) => {
    const c = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('delivers a retained QoS 1 message to a later subscriber', async () => {
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    const pub = await connect({ clientId: 'infra-pub-retained' });
    await pub.publishAsync('infra/retained', 'kept', { qos: 1, retain: true });
    const sub = await connect({ clientId: 'infra-sub-retained' });
    const got = nextMessage(sub, 'infra/retained');
    await sub.subscribeAsync('infra/retained', { qos: 1 });
    expect(await got).toEqual({ payload: 'kept', retain: true, qos: 1 });
  });

  it('keeps a persistent session and its queued QoS 1 message across kill -9 and restart', async () => {
    const sessionOpts = { clientId: 'infra-persistent', clean: false } as const;
    const first = await connect(sessionOpts);
    await first.subscribeAsync('infra/queued', { qos: 1 });
    await first.endAsync();

    const pub = await connect({ clientId: 'infra-pub-queued' });
    await pub.publishAsync('infra/queued', 'while-offline', { qos: 1 });
    await pub.endAsync();
    // The broker saves after every change, in the loop iteration after the one that sent PUBACK: wait
    // until the saved database holds the message (a fixed 200 ms was a guess at a quiet machine).
    const db = path.join(broker.dir, 'data', 'mosquitto.db');
    await expect
      .poll(() => existsSync(db) && readFileSync(db).includes('while-offline'), {
        timeout: 20_000,
        interval: 20,
      })
      .toBe(true);

    broker.kill9();
    await broker.restart();

    const again = mqtt.connect(broker.url, { ...sessionOpts, reconnectPeriod: 0 });
    clients.push(again);
    // The queued message is sent right after CONNACK, before any subscribe; listen before connecting.
    const got = nextMessage(again, 'infra/queued', 20_000);
    const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      again.once('connect', resolve);
      again.once('error', reject);
    });
    expect(connack.sessionPresent).toBe(true);
    expect(await got).toMatchObject({ payload: 'while-offline', qos: 1 });
  });

  it('stop() removes the broker and its folder', async () => {
    const other = await startMosquitto({ extraConfig: 'max_inflight_messages 100' });
    const c = await mqtt.connectAsync(other.url, { reconnectPeriod: 0 });
    await c.endAsync();
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
    await expect(
      mqtt.connectAsync(other.url, { reconnectPeriod: 0, connectTimeout: 1000 }),
    ).rejects.toThrow();
  });
});
