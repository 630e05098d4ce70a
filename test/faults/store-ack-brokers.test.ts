// The store acknowledgement (docs/delivery.md) with the two brokers a user starts first: the demo's
// embedded aedes and Debian's Mosquitto at its defaults. A gateway that publishes before any collector
// ever subscribed (the broker queues nothing for an unknown session) and a broker replaced by a new
// one without any state lose nothing. The confirmation time-out is set far beyond the test, so what
// brings the batches back here is the collector's sync request and the gateway's re-send on reconnect.
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../cli/embedded-broker.ts';
import { Collector } from '../../collector/collector.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { loadSiteConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import {
  audit,
  GATEWAY,
  lostValues,
  startCounterDevice,
  UNIT,
  until,
  workspace,
  writeSite,
} from './harness.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Broker {
  url: string;
  /** Replaces the broker by a new one on the same port, with no sessions, subscriptions or queues. */
  replace(): Promise<void>;
  stop(): Promise<void>;
}

async function aedes(): Promise<Broker> {
  let b = await startEmbeddedBroker({ port: 0, accounts: 'anonymous' });
  const port = b.port;
  return {
    url: b.url,
    replace: async () => {
      await b.stop();
      b = await startEmbeddedBroker({ port, accounts: 'anonymous' });
    },
    stop: () => b.stop(),
  };
}

async function mosquittoDefaults(): Promise<Broker> {
  const m = await startMosquitto({ defaults: true });
  return {
    url: m.url,
    replace: async () => {
      m.kill9();
      await m.restart(); // no persistence at its defaults: it comes back empty
    },
    stop: () => m.stop(),
  };
}

describe.each([
  ['aedes (the demo broker)', aedes],
  ['Mosquitto at its defaults', mosquittoDefaults],
])('store acknowledgement with %s', (_name, startBroker) => {
  it('stores every seq once when the gateway published before any collector subscribed, and after the broker was replaced without state', async () => {
    const ws = workspace();
    cleanups.push(() => ws.cleanup());
    const [device, broker] = await Promise.all([startCounterDevice(), startBroker()]);
    cleanups.push(
      () => device.close(),
      () => broker.stop(),
    );
    const gateway = new Gateway({
      site: loadSiteConfig(writeSite(ws, device.port, broker.url, { delivery: { confirmTimeoutS: 3600 } })),
      log,
      reconnectPeriodMs: 200,
    });
    await gateway.start();
    cleanups.push(() => gateway.stop(0));
    // Published, acknowledged by the broker, and delivered to nobody.
    await until('the broker took 40 batches', () => gateway.counters.batchesAcked >= 40);
    expect(gateway.counters.batchesConfirmed).toBe(0);
    expect(
      gateway.bufferStatus().pendingBatches,
      'nothing released without a collector',
    ).toBeGreaterThanOrEqual(40);

    const store = new SqliteStore({ path: path.join(ws.dir, 'store.sqlite') });
    await store.start();
    const collector = new Collector({
      url: broker.url,
      store,
      log,
      clientId: `ack-${_name.split(' ')[0]}`,
      keys: loadKeyRegistry(ws.keysDir),
      keepaliveS: 2,
    });
    await collector.start();
    cleanups.push(
      () => store.stop(),
      () => collector.stop(),
    );
    const storedSeq = async () => (await store.batchHeads())[0]?.seq ?? 0;
    const early = gateway.counters.batchesAcked;
    // Every one of them, not only the newest: new batches are stored at once, the early ones only if sent again.
    const archivedUpTo = async (seq: number) =>
      (await store.listBatchLinks({ unitId: UNIT, gatewayId: GATEWAY, limit: 100_000 })).filter(
        (l) => l.seq <= seq,
      ).length;
    await until(
      'what was published before the collector is stored',
      async () => (await archivedUpTo(early)) === early,
      60_000,
    );
    expect(collector.counters.syncRequests, 'the new session asked for a re-send').toBeGreaterThanOrEqual(1);

    await broker.replace();
    const before = await storedSeq();
    await until(
      'stored again after the broker came back empty',
      async () => (await storedSeq()) > before + 40,
      60_000,
    );

    await gateway.stop(30_000);
    const lastSeq = gateway.counters.lastSeq;
    expect(gateway.bufferStatus().pendingBatches, 'every batch confirmed before the gateway stopped').toBe(0);
    await until('every batch archived', async () => (await storedSeq()) === lastSeq, 30_000);
    const a = await audit(store); // seqs exactly 1..N, each once, all verified
    expect(a.lastSeq).toBe(lastSeq);
    expect(lostValues(device.served, a.values).length).toBeLessThanOrEqual(1);
    expect(a.findings.map((f) => f.code)).toEqual([]);
    expect(gateway.counters.batchesConfirmed).toBe(lastSeq);
  }, 180_000);
});
