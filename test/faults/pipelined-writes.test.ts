// Pipelined store writes (docs/delivery.md "Pipelined writes"): several write groups in flight, the
// middle one failing against a real InfluxDB (frozen with SIGSTOP while its request is out, so it times
// out), the one after it written before the first one ends. The store acknowledgements to the gateway
// (mrv/v1/{unit}/{gw}/ack) and the PUBACKs must stay in seq order: nothing after the failed group is
// confirmed until it is written, nothing is lost, nothing stored twice, no integrity finding.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.ts';
import { InfluxStore } from '../../collector/influx-store.ts';
import { keyRegistry } from '../../collector/keys.ts';
import type { StoredReading, TimeSeriesStore } from '../../collector/store.ts';
import { StoreAck } from '../../core/schema/delivery.ts';
import { buildBatches, dataTopic, publishAll } from '../../simulators/gateway-traffic.ts';
import { startInfluxDb } from '../helpers/influxdb.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { until, workspace } from './harness.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const UNIT = 'PIPE00000000001';
const GW = 'gw-pipe-1';
const BATCHES = 8;
const READINGS = 50;

/** A gateway key pair: the private key in a PEM file (for buildBatches), the public key as PEM. */
function keyPair(dir: string): { privateKeyFile: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateKeyFile = path.join(dir, 'gw.key.pem');
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { privateKeyFile, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** One `writeReadings` call as the test saw it. */
interface Call {
  seqs: number[];
  release: () => void;
  outcome?: 'written' | 'failed';
}

/**
 * The real InfluxStore, with each `writeReadings` call held at a gate until the test releases it (the
 * first `held` calls only; later ones go straight through): only the order in which the writes reach
 * InfluxDB is the test's; success or failure is InfluxDB's.
 */
function gated(
  store: InfluxStore,
  held: number,
  events: string[],
): { store: TimeSeriesStore; calls: Call[] } {
  const calls: Call[] = [];
  const writeReadings = async (rows: StoredReading[]): Promise<number> => {
    const seqs = [...new Set(rows.map((r) => r.seq))].sort((a, b) => a - b);
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const call: Call = { seqs, release };
    calls.push(call);
    const n = calls.length;
    events.push(`write ${n} [${seqs.join(',')}] started`);
    if (n > held) release();
    await gate;
    try {
      const written = await store.writeReadings(rows);
      call.outcome = 'written';
      events.push(`write ${n} [${seqs.join(',')}] written`);
      return written;
    } catch (err) {
      call.outcome = 'failed';
      events.push(`write ${n} [${seqs.join(',')}] failed`);
      throw err;
    }
  };
  const proxy = new Proxy(store, {
    get(target, prop) {
      if (prop === 'writeReadings') return writeReadings;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: proxy as TimeSeriesStore, calls };
}

describe('faults: pipelined writes, the middle group fails', () => {
  it('acknowledges in seq order, nothing after the failed group before it is written, nothing lost or doubled', async () => {
    const ws = workspace();
    cleanups.push(() => ws.cleanup());
    const [mosquitto, influx] = await Promise.all([startMosquitto(), startInfluxDb()]);
    cleanups.push(
      () => mosquitto.stop(),
      () => influx.stop(),
    );
    const real = new InfluxStore({ url: influx.url, database: 'pipe', requestTimeoutMs: 1000 });
    await real.start();
    const key = keyPair(ws.dir);
    const keys = keyRegistry([{ unitId: UNIT, gatewayId: GW, publicKey: key.publicKeyPem }]);
    const { payloads } = buildBatches({
      unitId: UNIT,
      gatewayId: GW,
      batches: BATCHES,
      readingsPerBatch: READINGS,
      startMs: Date.UTC(2026, 10, 1),
      privateKeyFile: key.privateKeyFile,
    });

    // What the gateway would see: the store acknowledgements, in arrival order.
    const events: string[] = [];
    const acked: number[] = [];
    const watcher = await mqtt.connectAsync(mosquitto.url, { clientId: 'pipe-ack-watcher', clean: true });
    cleanups.push(() => watcher.endAsync(true));
    watcher.on('message', (_topic, payload) => {
      const ack = StoreAck.parse(JSON.parse(payload.toString('utf8')));
      const seqs: number[] = [];
      for (const [a, b] of ack.stored) for (let s = a; s <= b; s++) seqs.push(s);
      acked.push(...seqs);
      events.push(`ack [${seqs.join(',')}]`);
    });
    await watcher.subscribeAsync(`mrv/v1/${UNIT}/${GW}/ack`, { qos: 1 });

    const options = {
      url: mosquitto.url,
      log,
      clientId: 'pipe-collector',
      keys,
      flushIntervalMs: 20,
      maxPendingBatches: 2,
      maxWritesInFlight: 3,
      maxRetryDelayMs: 1000,
    };
    // The persistent session exists first, so the broker queues the batches for it.
    const first = new Collector({ ...options, store: real });
    await first.start();
    await first.stop();
    await publishAll(mosquitto.url, dataTopic(UNIT, GW), payloads);

    const { store, calls } = gated(real, 3, events);
    const collector = new Collector({ ...options, store });
    cleanups.push(() => collector.stop());
    await collector.start();
    await until('three write groups in flight', () => calls.length >= 3, 60_000);
    expect(calls.length, 'no fourth group while three are in flight').toBe(3);
    const [g1, g2, g3] = calls as [Call, Call, Call];
    expect(g1.seqs[0]).toBe(1);
    expect(g2.seqs[0]).toBe((g1.seqs.at(-1) as number) + 1);
    expect(g3.seqs[0]).toBe((g2.seqs.at(-1) as number) + 1);

    // The middle group reaches a frozen InfluxDB: its request times out (a real store failure).
    influx.pause();
    g2.release();
    try {
      await until('the middle group failed', () => g2.outcome === 'failed', 60_000);
    } finally {
      influx.resume();
    }
    // The group after it is written before the first one ends...
    g3.release();
    await until('the third group written', () => g3.outcome === 'written', 60_000);
    expect(acked, 'nothing acknowledged while the first group is unwritten').toEqual([]);
    // ...then the first one: only it is acknowledged, not the written third one.
    g1.release();
    await until('the first group acknowledged', () => acked.length >= g1.seqs.length, 60_000);
    await until('every batch acknowledged', () => acked.length >= BATCHES, 60_000);
    await until('every PUBACK sent', () => collector.counters.acks >= BATCHES, 60_000);

    // Acknowledged exactly once each, in seq order, the first group's alone first.
    expect(acked).toEqual(Array.from({ length: BATCHES }, (_, i) => i + 1));
    expect(events.find((e) => e.startsWith('ack'))).toBe(`ack [${g1.seqs.join(',')}]`);
    // The failed group's and the third group's batches were confirmed only after a retry wrote them.
    const thirdWritten = events.indexOf(`write 3 [${g3.seqs.join(',')}] written`);
    const retry = events.findIndex((e, i) => i > thirdWritten && /^write ([4-9]|\d\d) .* written$/.test(e));
    expect(retry, `a retry after the failure; events: ${events.join('; ')}`).toBeGreaterThan(thirdWritten);
    const ackOf = (seq: number) =>
      events.findIndex((e) => e.startsWith('ack [') && e.slice(5, -1).split(',').map(Number).includes(seq));
    for (const seq of [...g2.seqs, ...g3.seqs]) expect(ackOf(seq), `ack of ${seq}`).toBeGreaterThan(retry);
    expect(collector.counters.storeErrors).toBeGreaterThanOrEqual(1);
    expect(collector.counters.acks).toBe(BATCHES);

    // Nothing lost, nothing doubled, no finding: the archive holds 1..8 once, every reading is there.
    const archived = await real.listBatches({ unitId: UNIT, gatewayId: GW });
    expect(archived.map((b) => b.seq)).toEqual(Array.from({ length: BATCHES }, (_, i) => i + 1));
    expect(archived.every((b) => b.verdict === 'verified')).toBe(true);
    for (const point of ['p0000', `p${String(READINGS - 1).padStart(4, '0')}`]) {
      const rows = await real.rawReadings({
        unitId: UNIT,
        pointId: point,
        from: Date.UTC(2026, 10, 1),
        to: Date.UTC(2026, 10, 2),
      });
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: BATCHES }, (_, i) => i + 1));
    }
    expect(await real.listFindings(UNIT, 0, Date.UTC(2030, 0, 1))).toEqual([]);
    await collector.stop();
  }, 240_000);
});
