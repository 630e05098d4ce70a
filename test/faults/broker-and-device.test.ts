// Fault injection with real processes: Mosquitto killed with SIGKILL mid-stream and restarted; a device
// that stops answering. Real gateway and collector code in this process, signed batches, a store-and-
// forward folder on disk, the embedded SQLite store. Every value the device served is accounted for.
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { loadSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { type MosquittoServer, startMosquitto } from '../helpers/mosquitto.ts';
import {
  audit,
  type CounterDevice,
  type FaultWorkspace,
  lostValues,
  sleep,
  startCounterDevice,
  until,
  workspace,
  writeSite,
} from './harness.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
/** Deadline of each wait for the moving system: ~1 s when the machine is quiet. */
const STEP_MS = 30_000;

describe('faults: broker killed, device silent', () => {
  let ws: FaultWorkspace;
  let device: CounterDevice;
  let mosquitto: MosquittoServer;
  let store: SqliteStore;
  let collector: Collector;
  let gateway: Gateway;

  beforeAll(async () => {
    ws = workspace();
    [device, mosquitto] = await Promise.all([startCounterDevice(), startMosquitto()]);
    store = new SqliteStore({ path: path.join(ws.dir, 'store.sqlite') });
    await store.start();
    collector = new Collector({
      url: mosquitto.url,
      store,
      log,
      clientId: 'fault-collector',
      keys: loadKeyRegistry(ws.keysDir),
      keepaliveS: 2,
      flushIntervalMs: 50,
      maxRetryDelayMs: 1000,
    });
    await collector.start();
    gateway = new Gateway({
      site: loadSiteConfig(writeSite(ws, device.port, mosquitto.url)),
      log,
      reconnectPeriodMs: 200,
    });
    await gateway.start();
  });

  afterAll(async () => {
    await gateway?.stop(0);
    await collector?.stop();
    await store?.stop();
    await mosquitto?.stop();
    await device?.close();
    ws?.cleanup();
  });

  // Six waits of up to STEP_MS (30 s), the fixed sleeps, the stop and the audit.
  it('loses nothing when Mosquitto is killed with SIGKILL mid-stream and comes back 3 s later', async () => {
    await until('20 batches acknowledged', () => gateway.counters.batchesAcked >= 20, STEP_MS);
    mosquitto.kill9();
    const seqAtKill = gateway.counters.lastSeq;
    await sleep(3000); // the outage; the gateway keeps polling: ~60 batches wait in the disk log when quiet
    // On a loaded machine the 50 ms polls come slower: wait for the backlog to build instead of counting on it.
    await until(
      'over 20 batches logged while the broker is down',
      () => gateway.counters.lastSeq > seqAtKill + 20 && gateway.bufferStatus().pendingBatches > 20,
      STEP_MS,
    );
    await mosquitto.restart();
    // Beyond the gateway's 30 s confirmTimeoutS: a batch whose store ack was lost is only sent again then.
    await until('the backlog replayed', () => gateway.bufferStatus().pendingBatches <= 2, 90_000);
    await sleep(500);

    // Device silent for at least three requests: bad readings with a reason, polling and seq go on.
    device.silent = true;
    await until('3 requests left unanswered', () => device.unanswered >= 3, STEP_MS);
    device.silent = false;
    const servedAtRecovery = device.served.length;
    await until('the device answering again', () => device.served.length >= servedAtRecovery + 5, STEP_MS);

    await gateway.stop(5000);
    const lastSeq = gateway.counters.lastSeq;
    await until('every batch archived', async () => (await store.batchHeads())[0]?.seq === lastSeq, STEP_MS);
    await collector.flush();

    const a = await audit(store);
    expect(a.lastSeq).toBe(lastSeq);
    expect(lostValues(device.served, a.values), 'served but not stored').toEqual(
      // A read in flight when the gateway stopped was never logged (its poll cycle was abandoned).
      device.served.length > a.values.length ? device.served.slice(a.values.length) : [],
    );
    expect(device.served.length - a.values.length).toBeLessThanOrEqual(1);
    expect(a.bad.length, 'timed-out reads while the device was silent').toBeGreaterThanOrEqual(3);
    for (const reason of a.bad) expect(reason).toMatch(/^MRV_E_(MODBUS_TIMEOUT|DEVICE_UNREACHABLE)/);
    expect(
      a.findings.map((f) => f.code),
      'no integrity finding',
    ).toEqual([]);
    expect(gateway.counters).toMatchObject({ batchesDropped: 0, batchesRefused: 0, tornRecords: 0 });
    expect(collector.counters.invalidPayloads).toBe(0);
  }, 270_000);
});
