// Fault injection: after a broker outage longer than the gateway's in-flight window, new batches go
// out ahead of the backlog (gateway/send-order.ts) marked with `backlogFrom`, and the collector waits for
// the older ones instead of reporting gaps (collector/integrity.ts). Real Mosquitto killed with SIGKILL,
// real gateway and collector code, signed batches, a disk log; every value the device served is stored.
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { Batch } from '../../core/schema/wire.ts';
import { loadSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import {
  audit,
  GATEWAY,
  lostValues,
  sleep,
  startCounterDevice,
  UNIT,
  until,
  workspace,
  writeSite,
} from './harness.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('faults: a backlog longer than the in-flight window', () => {
  it('sends live batches ahead of the backlog, and the collector stores all with no finding', async () => {
    const ws = workspace();
    cleanups.push(() => ws.cleanup());
    const [device, mosquitto] = await Promise.all([startCounterDevice(), startMosquitto()]);
    cleanups.push(
      () => device.close(),
      () => mosquitto.stop(),
    );
    const store = new SqliteStore({ path: path.join(ws.dir, 'store.sqlite') });
    await store.start();
    cleanups.push(() => store.stop());
    const collector = new Collector({
      url: mosquitto.url,
      store,
      log,
      clientId: 'backlog-collector',
      keys: loadKeyRegistry(ws.keysDir),
      keepaliveS: 2,
      maxRetryDelayMs: 1000,
    });
    await collector.start();
    cleanups.push(() => collector.stop());
    // Arrival order as a subscriber of the data topic sees it.
    // A persistent session (the broker's persistence keeps it across kill -9): what the gateway sends after
    // the restart waits for the watcher until it is back, in the order the broker took it.
    const watcher = await mqtt.connectAsync(mosquitto.url, {
      clientId: 'order-watcher',
      clean: false,
      reconnectPeriod: 100,
    });
    const arrivals: { seq: number; topic: string; backlogFrom?: number }[] = [];
    watcher.on('message', (topic, p) => {
      const b = JSON.parse(p.toString('utf8')) as Batch;
      arrivals.push({
        seq: b.seq,
        topic: topic.split('/').at(-1) as string,
        ...(b.backlogFrom !== undefined ? { backlogFrom: b.backlogFrom } : {}),
      });
    });
    await watcher.subscribeAsync({ 'mrv/v1/+/+/data': { qos: 1 }, 'mrv/v1/+/+/backlog': { qos: 1 } });
    cleanups.push(() => watcher.endAsync(true));

    // A small window (8) so that a 3 s outage at 50 ms polls (~60 batches) is a backlog.
    const gateway = new Gateway({
      site: loadSiteConfig(writeSite(ws, device.port, mosquitto.url)),
      log,
      reconnectPeriodMs: 200,
      maxInFlight: 8,
    });
    await gateway.start();
    cleanups.push(() => gateway.stop(0));

    await until('20 batches acknowledged', () => gateway.counters.batchesAcked >= 20);
    mosquitto.kill9();
    await sleep(3000); // the outage
    // ~60 batches wait after 3 s on a quiet machine; on a loaded one the polls come slower: wait for 30.
    await until('over 30 batches waiting', () => gateway.bufferStatus().pendingBatches > 30, 30_000);
    await mosquitto.restart();
    await until('the backlog replayed', () => gateway.bufferStatus().pendingBatches <= 2, 30_000);
    await sleep(500);
    await gateway.stop(5000);
    const lastSeq = gateway.counters.lastSeq;
    // Live batches are stored first, so the head reaches lastSeq before the backlog is through: count.
    await until(
      'every batch archived',
      async () =>
        (await store.listBatchLinks({ unitId: UNIT, gatewayId: GATEWAY, limit: 100_000 })).length === lastSeq,
      20_000,
    );
    await collector.flush();
    // The watcher reconnects on its own timer, possibly after the gateway has sent everything: wait until
    // it has had every seq (a race on a busy machine, seen in CI as "arrival order 1,…,20").
    await until(
      'the watcher has seen every seq',
      () => new Set(arrivals.map((x) => x.seq)).size >= lastSeq,
      30_000,
    );

    // First copies only: after the reconnect the gateway also sends again what the broker had taken but
    // no collector had confirmed yet (docs/delivery.md); the collector stores such copies once.
    const firsts = arrivals.filter((a, i) => arrivals.findIndex((b) => b.seq === a.seq) === i);
    // Out of order on the wire: some batch arrived before an older one, and it said where its backlog began.
    const overtaking = firsts.findIndex((a, i) => firsts.slice(i + 1).some((later) => later.seq < a.seq));
    expect(overtaking, `arrival order ${firsts.map((a) => a.seq).join(',')}`).toBeGreaterThanOrEqual(0);
    const ahead = firsts[overtaking] as { seq: number; topic: string; backlogFrom?: number };
    expect(ahead.backlogFrom).toBeDefined();
    expect(ahead.backlogFrom as number).toBeLessThan(ahead.seq);
    // The backlog went on its own topic while live batches went ahead on `data`.
    expect(ahead.topic).toBe('data');
    expect(firsts.filter((a) => a.topic === 'backlog').length).toBeGreaterThan(0);
    for (const a of firsts.filter((x) => x.topic === 'backlog')) expect(a.seq).toBeLessThan(ahead.seq);

    // The delivery guarantees hold as in seq order: every seq once, every value, no finding.
    const a = await audit(store);
    expect(a.lastSeq).toBe(lastSeq);
    expect(lostValues(device.served, a.values).length).toBeLessThanOrEqual(1);
    expect(
      a.findings.map((f) => f.code),
      'no integrity finding',
    ).toEqual([]);
    expect(collector.counters.invalidPayloads).toBe(0);
  }, 120_000);
});
