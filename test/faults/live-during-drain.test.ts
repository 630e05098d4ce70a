// Live writes during a backlog drain (docs/delivery.md "Live writes during a backlog drain"): a replayed
// backlog fills the pipeline's backlog slots with writes a real InfluxDB has not finished (held at a gate
// in front of it), and live batches arriving meanwhile must still be written, PUBACKed and on the live
// feed — each one, not only the first: a live group that is written but waits to end in order must not
// hold the live slot. The store acknowledgements still come strictly in order (the live batches' only
// after the backlog groups started before them are written), every batch once, nothing lost, no finding.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.ts';
import { InfluxStore } from '../../collector/influx-store.ts';
import { keyRegistry } from '../../collector/keys.ts';
import { type LiveBatch, LiveHub } from '../../collector/live.ts';
import type { StoredReading, TimeSeriesStore } from '../../collector/store.ts';
import { StoreAck } from '../../core/schema/delivery.ts';
import { topicFor } from '../../core/schema/wire.ts';
import { buildBatches, dataTopic, publishAll } from '../../simulators/gateway-traffic.ts';
import { startInfluxDb } from '../helpers/influxdb.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { until, workspace } from './harness.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const UNIT = 'LIVE00000000001';
const LIVE_GW = 'gw-live-1';
const BACKLOG_GW = 'gw-backlog-1';
const BACKLOG = 8;
const LIVE = 3;
const READINGS = 40;

/** A gateway key pair: the private key in a PEM file (for buildBatches), the public key as PEM. */
function keyPair(dir: string, name: string): { privateKeyFile: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateKeyFile = path.join(dir, `${name}.key.pem`);
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { privateKeyFile, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/**
 * The real InfluxStore, with every `writeReadings` of the backlog gateway's rows held at one gate until
 * the test opens it; the live gateway's go straight through. Only when the writes reach InfluxDB is the
 * test's; what is written, and whether it succeeds, is InfluxDB's.
 */
function gated(
  store: InfluxStore,
  events: string[],
): { store: TimeSeriesStore; backlogWrites: () => number; open: () => void } {
  let open = () => {};
  const gate = new Promise<void>((r) => {
    open = r;
  });
  let backlogWrites = 0;
  const writeReadings = async (rows: StoredReading[]): Promise<number> => {
    const gw = rows[0]?.gatewayId ?? '';
    const seqs = [...new Set(rows.map((r) => r.seq))].sort((a, b) => a - b).join(',');
    events.push(`write ${gw} [${seqs}] started`);
    if (gw === BACKLOG_GW) {
      backlogWrites++;
      await gate;
    }
    const n = await store.writeReadings(rows);
    events.push(`write ${gw} [${seqs}] written`);
    return n;
  };
  const proxy = new Proxy(store, {
    get(target, prop) {
      if (prop === 'writeReadings') return writeReadings;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: proxy as TimeSeriesStore, backlogWrites: () => backlogWrites, open };
}

describe('faults: live batches while backlog writes are in flight', () => {
  it('writes every live batch beside unfinished backlog writes, acknowledges all in order', async () => {
    const ws = workspace();
    cleanups.push(() => ws.cleanup());
    const [mosquitto, influx] = await Promise.all([startMosquitto(), startInfluxDb()]);
    cleanups.push(
      () => mosquitto.stop(),
      () => influx.stop(),
    );
    const real = new InfluxStore({ url: influx.url, database: 'livedrain' });
    await real.start();
    const liveKey = keyPair(ws.dir, LIVE_GW);
    const backlogKey = keyPair(ws.dir, BACKLOG_GW);
    const keys = keyRegistry([
      { unitId: UNIT, gatewayId: LIVE_GW, publicKey: liveKey.publicKeyPem },
      { unitId: UNIT, gatewayId: BACKLOG_GW, publicKey: backlogKey.publicKeyPem },
    ]);
    const now = Date.now();
    const backlog = buildBatches({
      unitId: UNIT,
      gatewayId: BACKLOG_GW,
      batches: BACKLOG,
      readingsPerBatch: READINGS,
      startMs: now - 600_000,
      privateKeyFile: backlogKey.privateKeyFile,
    });
    const live = buildBatches({
      unitId: UNIT,
      gatewayId: LIVE_GW,
      batches: LIVE,
      readingsPerBatch: READINGS,
      startMs: now,
      privateKeyFile: liveKey.privateKeyFile,
    });

    // What the gateways would see: their store acknowledgements, in arrival order.
    const events: string[] = [];
    const acked: Record<string, number[]> = { [LIVE_GW]: [], [BACKLOG_GW]: [] };
    const watcher = await mqtt.connectAsync(mosquitto.url, { clientId: 'live-drain-watcher', clean: true });
    cleanups.push(() => watcher.endAsync(true));
    watcher.on('message', (_topic, payload) => {
      const ack = StoreAck.parse(JSON.parse(payload.toString('utf8')));
      const seqs: number[] = [];
      for (const [a, b] of ack.stored) for (let s = a; s <= b; s++) seqs.push(s);
      acked[ack.gatewayId]?.push(...seqs);
      events.push(`ack ${ack.gatewayId} [${seqs.join(',')}]`);
    });
    await watcher.subscribeAsync(`mrv/v1/${UNIT}/+/ack`, { qos: 1 });

    const hub = new LiveHub();
    const onFeed: LiveBatch[] = [];
    hub.subscribe(undefined, (b) => {
      onFeed.push(b);
      events.push(`live ${b.gatewayId} #${b.seq}`);
    });
    const { store, backlogWrites, open } = gated(real, events);
    const collector = new Collector({
      url: mosquitto.url,
      store,
      log,
      live: hub,
      clientId: 'live-drain-collector',
      keys,
      flushIntervalMs: 20,
      maxPendingBatches: 2,
      maxWritesInFlight: 3,
    });
    cleanups.push(
      () => collector.stop(),
      () => open(), // a failed assertion must not leave stop() waiting at the gate
    );
    await collector.start();

    // The replayed backlog, on its own topic: it fills the backlog slots (max − 1 = 2), held unfinished.
    await publishAll(mosquitto.url, topicFor('mrv/v1', UNIT, BACKLOG_GW, 'backlog'), backlog.payloads);
    await until('two backlog writes in flight', () => backlogWrites() >= 2, 60_000);
    const acks0 = collector.counters.acks; // PUBACKs so far: the sessions' own _sync requests only

    // Live batches one after the other: each is written and on the live feed while the backlog waits.
    for (let i = 0; i < LIVE; i++) {
      await publishAll(mosquitto.url, dataTopic(UNIT, LIVE_GW), [live.payloads[i] as Buffer]);
      await until(
        `live batch ${i + 1} on the live feed beside the unfinished backlog writes; events: ${events.join('; ')}`,
        () => onFeed.some((b) => b.gatewayId === LIVE_GW && b.seq === i + 1),
        60_000,
      );
    }
    expect(backlogWrites(), 'the backlog never takes the live slot').toBe(2);
    // A live write takes live batches only (it stays small; the backlog keeps its own slots).
    expect(events.filter((e) => e.startsWith(`write ${LIVE_GW}`) && e.endsWith('started'))).toEqual(
      Array.from({ length: LIVE }, (_, i) => `write ${LIVE_GW} [${i + 1}] started`),
    );
    expect(onFeed.map((b) => `${b.gatewayId}#${b.seq}`)).toEqual(
      Array.from({ length: LIVE }, (_, i) => `${LIVE_GW}#${i + 1}`),
    );
    expect(collector.counters.acks - acks0, 'each live batch PUBACKed once written').toBe(LIVE);
    // Their store acknowledgements wait for the backlog groups started before them.
    expect(acked[LIVE_GW], 'no store ack overtakes an unwritten earlier group').toEqual([]);
    expect(acked[BACKLOG_GW]).toEqual([]);

    open();
    await until(
      'every batch acknowledged',
      () => acked[LIVE_GW]?.length === LIVE && acked[BACKLOG_GW]?.length === BACKLOG,
      60_000,
    );
    await until('every PUBACK sent', () => collector.counters.acks - acks0 >= LIVE + BACKLOG, 60_000);
    // Exactly once each, in seq order per gateway; the live batches' after the two held backlog writes.
    expect(acked[LIVE_GW]).toEqual(Array.from({ length: LIVE }, (_, i) => i + 1));
    expect(acked[BACKLOG_GW]).toEqual(Array.from({ length: BACKLOG }, (_, i) => i + 1));
    const firstLiveAck = events.findIndex((e) => e.startsWith(`ack ${LIVE_GW}`));
    const heldWritten = events
      .map((e, i) => (e.startsWith(`write ${BACKLOG_GW}`) && e.endsWith('written') ? i : -1))
      .filter((i) => i >= 0)
      .slice(0, 2);
    expect(heldWritten).toHaveLength(2);
    for (const i of heldWritten) expect(firstLiveAck, events.join('; ')).toBeGreaterThan(i);
    expect(collector.counters.acks - acks0).toBe(LIVE + BACKLOG);
    expect(collector.counters.duplicates).toBe(0);

    // Everything stored once, verified, no finding.
    for (const [gw, n] of [
      [LIVE_GW, LIVE],
      [BACKLOG_GW, BACKLOG],
    ] as const) {
      const archived = await real.listBatches({ unitId: UNIT, gatewayId: gw });
      expect(archived.map((b) => b.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(archived.every((b) => b.verdict === 'verified')).toBe(true);
    }
    const rows = await real.rawReadings({
      unitId: UNIT,
      pointId: `p${String(READINGS - 1).padStart(4, '0')}`,
      from: now - 3_600_000,
      to: now + 3_600_000,
    });
    expect(rows).toHaveLength(LIVE + BACKLOG);
    expect(await real.listFindings(UNIT, 0, Date.UTC(2030, 0, 1))).toEqual([]);
    await collector.stop();
  }, 240_000);
});
