// The collector against a real Mosquitto and the embedded store: bad payloads are counted and
// dead-lettered with their reason, never crash it, and never stop good batches behind them.
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector, type DeadLetter } from '../../collector/collector.ts';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { type Batch, type GatewayMeta, GENESIS_HASH } from '../../core/schema/wire.ts';
import { batchHash } from '../../core/signing.ts';
import { until } from '../faults/harness.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';

const log = pino({ level: 'silent' });

describe('collector', () => {
  let stops: (() => Promise<void>)[] = [];
  let collector: Collector;
  let store: SqliteStore;
  let pub: MqttClient;
  const live = new LiveHub();
  const letters: DeadLetter[] = [];

  beforeAll(async () => {
    const mosquitto = await startMosquitto();
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    collector = new Collector({
      url: mosquitto.url,
      store,
      live,
      log,
      clientId: 'collector-test',
      flushIntervalMs: 50,
    });
    await collector.start();
    pub = await mqtt.connectAsync(mosquitto.url, { clientId: 'collector-test-pub' });
    await pub.subscribeAsync(collector.deadLetterTopic, { qos: 1 });
    pub.on('message', (topic, payload) => {
      if (topic === collector.deadLetterTopic) letters.push(JSON.parse(payload.toString()) as DeadLetter);
    });
    stops = [() => pub.endAsync(), () => collector.stop(), () => store.stop(), () => mosquitto.stop()];
  });

  afterAll(async () => {
    for (const s of stops) await s();
  });

  const meta: GatewayMeta = {
    v: 1,
    gatewayId: 'gw1',
    unit: { id: 'U1', name: '测试 unit', industry: 'cement', province: '安徽' },
    points: [{ id: 'clinker.belt', device: 'belt', unit: 't', aggregation: 'totalizer' }],
    meters: [],
    configHash: 'a'.repeat(64),
  };
  const batch = (seq: number, value: string): Batch => ({
    v: 1,
    unitId: 'U1',
    gatewayId: 'gw1',
    seq,
    prevHash: GENESIS_HASH,
    sentAt: '2026-11-15T00:00:01.000Z',
    readings: [
      {
        point: 'clinker.belt',
        ts: `2026-11-15T00:00:0${seq}.000Z`,
        rxTs: `2026-11-15T00:00:0${seq}.000Z`,
        value,
        quality: 'good',
      },
    ],
  });

  it('rejects garbage, wrong schema, a topic mismatch and oversized payloads, with reasons', async () => {
    await pub.publishAsync('mrv/v1/U1/gw1/meta', JSON.stringify(meta), { qos: 1, retain: true });
    await pub.publishAsync('mrv/v1/U1/gw1/data', 'not json at all', { qos: 1 });
    await pub.publishAsync('mrv/v1/U1/gw1/data', JSON.stringify({ ...batch(1, '1'), seq: -4 }), { qos: 1 });
    await pub.publishAsync('mrv/v1/U1/gw1/data', JSON.stringify({ ...batch(1, '1.5e400x') }), { qos: 1 });
    await pub.publishAsync('mrv/v1/U2/gw1/data', JSON.stringify(batch(1, '1')), { qos: 1 });
    await pub.publishAsync('mrv/v1/U1/gw1/status', JSON.stringify({ v: 1, state: 'sleeping' }), { qos: 1 });
    await pub.publishAsync('mrv/v1/U1/gw1/data', Buffer.alloc(5 * 1024 * 1024, 0x20), { qos: 1 });
    await expect.poll(() => letters.length, { timeout: 10_000 }).toBe(6);
    expect(collector.counters.invalidPayloads).toBe(6);
    const reasons = letters.map((l) => l.reason);
    expect(reasons[0]).toMatch(/^not JSON/);
    expect(reasons[1]).toMatch(/batch does not match the wire contract[\s\S]*seq/);
    expect(reasons[2]).toMatch(/exact decimal string[\s\S]*readings\[0\]\.value|readings[\s\S]*value/);
    expect(reasons[3]).toMatch(/batch names unit U1 .* topic says U2/);
    expect(reasons[4]).toMatch(/status does not match[\s\S]*gatewayId/);
    expect(reasons[5]).toMatch(/^oversized: 5242880 bytes/);
    expect(letters[0]).toMatchObject({ topic: 'mrv/v1/U1/gw1/data', payload: 'not json at all', bytes: 15 });
  });

  it('still stores good batches afterwards and publishes them live after storing', async () => {
    const seen: number[] = [];
    const unsubscribe = live.subscribe('U1', (b) => seen.push(b.seq));
    await pub.publishAsync('mrv/v1/U1/gw1/data', JSON.stringify(batch(1, '12.345')), { qos: 1 });
    await pub.publishAsync('mrv/v1/U1/gw1/data', JSON.stringify(batch(2, '12.350')), { qos: 1 });
    await expect.poll(() => seen, { timeout: 10_000 }).toEqual([1, 2]);
    unsubscribe();
    const points = await store.listPoints('U1');
    expect(points?.[0]).toMatchObject({
      id: 'clinker.belt',
      device: 'belt',
      last: { value: '12.350', quality: 'good' },
    });
    const series = await store.series({
      unitId: 'U1',
      pointId: 'clinker.belt',
      from: 0,
      to: Date.parse('2026-11-16T00:00:00Z'),
    });
    expect(series.map((s) => s.value)).toEqual(['12.345', '12.350']);
    expect(collector.counters).toMatchObject({ batches: 2, readingsStored: 2, storeErrors: 0 });
  });
});

describe('collector: missing batches', () => {
  it('reports a hole once its backlog session has been quiet, and not while a backlog still arrives', async () => {
    const mosquitto = await startMosquitto();
    const store = new SqliteStore({ path: ':memory:' });
    await store.start();
    const c = new Collector({
      url: mosquitto.url,
      store,
      log,
      clientId: 'collector-gaps',
      flushIntervalMs: 20,
      backlogQuietMs: 1500,
    });
    await c.start();
    const pub = await mqtt.connectAsync(mosquitto.url, { clientId: 'collector-gaps-pub' });
    try {
      const chain: Batch[] = [];
      let prevHash = GENESIS_HASH;
      for (let seq = 1; seq <= 8; seq++) {
        const ts = `2026-11-15T00:00:0${seq}.000Z`;
        const b: Batch = {
          v: 1,
          unitId: 'U9',
          gatewayId: 'gw9',
          seq,
          prevHash,
          sentAt: ts,
          readings: [{ point: 'p', ts, rxTs: ts, value: String(seq), quality: 'good' }],
        };
        prevHash = batchHash(b);
        chain.push(b);
      }
      const send = (seq: number, kind = 'data') =>
        pub.publishAsync(`mrv/v1/U9/gw9/${kind}`, JSON.stringify(chain[seq - 1]), { qos: 1 });
      const gaps = () => store.listFindings('U9', 0, Date.parse('2027-01-01'), { code: 'MRV_F_SEQ_GAP' });
      // 3..5 never come; 6 arrives on data, then 7 on the backlog topic keeps the backlog session busy.
      await send(1);
      await send(2);
      await send(6);
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 500));
        await send(7, 'backlog'); // a redelivery, as a long backlog keeps arriving
      }
      expect(await gaps()).toEqual([]);
      await until('the hole reported', async () => (await gaps()).length === 1, 10_000);
      expect((await gaps())[0]?.detail).toMatchObject({ from: 3, to: 5, missing: 3 });
      await send(8);
      await new Promise((r) => setTimeout(r, 2500));
      expect(await gaps()).toHaveLength(1);
      expect(c.counters.findingsRaised).toBe(1);
    } finally {
      await pub.endAsync();
      await c.stop();
      await store.stop();
      await mosquitto.stop();
    }
  });
});
