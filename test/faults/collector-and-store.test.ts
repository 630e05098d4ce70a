// Fault injection with real processes: the collector (`mrv collector`, a child process) killed with
// SIGKILL mid-stream and restarted; InfluxDB frozen (SIGSTOP) for a while and thawed. Real Mosquitto,
// real gateway code, signed batches. Every value the device served is accounted for.
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.ts';
import { InfluxStore } from '../../collector/influx-store.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { loadSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { startInfluxDb } from '../helpers/influxdb.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import type { TiedProcess } from '../helpers/tied-process.ts';
import {
  audit,
  lostValues,
  sleep,
  spawnCollector,
  startCounterDevice,
  until,
  workspace,
  writeSite,
} from './harness.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('faults: collector killed, store frozen', () => {
  // Three `mrv collector` processes and waits of up to 60 + 30 + 2 × 30 + 60 s.
  it('loses and duplicates nothing when `mrv collector` is killed with SIGKILL twice and restarted', async () => {
    const ws = workspace();
    cleanups.push(() => ws.cleanup());
    const [device, mosquitto] = await Promise.all([startCounterDevice(), startMosquitto()]);
    cleanups.push(
      () => device.close(),
      () => mosquitto.stop(),
    );
    const sqlite = path.join(ws.dir, 'store.sqlite');
    const startCollector = () =>
      spawnCollector(ws, { mqtt: mosquitto.url, sqlite, clientId: 'fault-collector', keepaliveS: 2 });
    let proc: TiedProcess = await startCollector();
    cleanups.push(() => proc.stop());
    // The broker queues for a session only once it has subscribed: the collector's first start comes first.
    await until('the collector subscribed', () => /collector subscribed/.test(proc.tail()), 60_000);
    const gateway = new Gateway({
      site: loadSiteConfig(writeSite(ws, device.port, mosquitto.url)),
      log,
      reconnectPeriodMs: 200,
    });
    await gateway.start();
    cleanups.push(() => gateway.stop(0));

    const reader = new SqliteStore({ path: sqlite });
    await until('the collector made its tables', async () => {
      try {
        await reader.start();
        return (await reader.batchHeads()).length > 0;
      } catch {
        return false;
      }
    });
    cleanups.push(() => reader.stop());
    for (let round = 0; round < 2; round++) {
      const before = (await reader.batchHeads())[0]?.seq ?? 0;
      await until(
        'the collector is storing',
        async () => ((await reader.batchHeads())[0]?.seq ?? 0) > before + 5,
      );
      proc.kill9(); // mid-stream: batches received but not yet written stay unacknowledged
      await proc.exited;
      await sleep(1500); // the broker queues for the persistent session meanwhile
      proc = await startCollector();
    }
    await sleep(1000);
    await gateway.stop(5000);
    const lastSeq = gateway.counters.lastSeq;
    await until('every batch archived', async () => (await reader.batchHeads())[0]?.seq === lastSeq, 60_000);
    await proc.stop();

    const a = await audit(reader);
    expect(a.lastSeq).toBe(lastSeq);
    expect(lostValues(device.served, a.values).length, 'served but not stored').toBeLessThanOrEqual(1);
    expect(
      a.findings.map((f) => f.code),
      'no integrity finding',
    ).toEqual([]);
  }, 240_000);

  // Starts InfluxDB and Mosquitto itself, then four waits of up to 30 s and the fixed 5 s.
  it('loses nothing while InfluxDB is frozen for 4 s: batches stay unacknowledged and are written after', async () => {
    const ws = workspace();
    cleanups.push(() => ws.cleanup());
    const [device, mosquitto, influx] = await Promise.all([
      startCounterDevice(),
      startMosquitto(),
      startInfluxDb(),
    ]);
    cleanups.push(
      () => device.close(),
      () => mosquitto.stop(),
      () => influx.stop(),
    );
    const store = new InfluxStore({ url: influx.url, database: 'faults', requestTimeoutMs: 1000 });
    await store.start();
    const collector = new Collector({
      url: mosquitto.url,
      store,
      log,
      clientId: 'fault-collector-influx',
      keys: loadKeyRegistry(ws.keysDir),
      keepaliveS: 2,
      flushIntervalMs: 50,
      maxRetryDelayMs: 1000,
    });
    await collector.start();
    cleanups.push(() => collector.stop());
    const gateway = new Gateway({
      site: loadSiteConfig(writeSite(ws, device.port, mosquitto.url)),
      log,
      reconnectPeriodMs: 200,
    });
    await gateway.start();
    cleanups.push(() => gateway.stop(0));

    await until('20 readings stored', () => collector.counters.readingsStored >= 20);
    influx.pause();
    const errorsBefore = collector.counters.storeErrors;
    await sleep(4000); // frozen for 4 s
    // The writes time out after 1 s; on a loaded machine the failure may be counted later than that.
    await until('a write failed while frozen', () => collector.counters.storeErrors > errorsBefore, 30_000);
    influx.resume();
    await sleep(1000);
    await gateway.stop(5000);
    const lastSeq = gateway.counters.lastSeq;
    await until('every batch archived', async () => (await store.batchHeads())[0]?.seq === lastSeq, 30_000);

    const a = await audit(store);
    expect(a.lastSeq).toBe(lastSeq);
    expect(lostValues(device.served, a.values).length, 'served but not stored').toBeLessThanOrEqual(1);
    expect(a.findings.map((f) => f.code)).toEqual([]);
    expect(collector.counters.invalidPayloads).toBe(0);
  }, 150_000);
});
