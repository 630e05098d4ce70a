// The live feed across processes (collector/live-relay.ts), on a real Mosquitto: a collector running
// apart announces what it stored, a server-side relay feeds its LiveHub from that, and a batch is
// announced only once it is in the store.
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.ts';
import type { LiveBatch } from '../../collector/live.ts';
import { LiveHub } from '../../collector/live.ts';
import { LiveRelay, liveTopic } from '../../collector/live-relay.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { type Batch, GENESIS_HASH } from '../../core/schema/wire.ts';
import { batchHash } from '../../core/signing.ts';
import { until } from '../faults/harness.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';

const log = pino({ level: 'silent' });
const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

function chain(n: number): Batch[] {
  const out: Batch[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const ts = new Date(Date.UTC(2026, 10, 15, 0, 0, seq)).toISOString();
    const b: Batch = {
      v: 1,
      unitId: 'U1',
      gatewayId: 'gw1',
      seq,
      prevHash,
      sentAt: ts,
      device: 'belt',
      readings: [{ point: 'clinker.belt', ts, rxTs: ts, value: `${seq}.5`, quality: 'good' }],
    };
    prevHash = batchHash(b);
    out.push(b);
  }
  return out;
}

describe('live relay', () => {
  it('shows on the server side exactly the batches a separate collector stored, after it stored them', async () => {
    const mosquitto = await startMosquitto();
    stops.push(() => mosquitto.stop());
    const store = new SqliteStore({ path: ':memory:' });
    await store.start();
    stops.push(() => store.stop());
    const collector = new Collector({
      url: mosquitto.url,
      store,
      log,
      clientId: 'relay-test-collector',
      flushIntervalMs: 20,
      announceStored: true,
    });
    await collector.start();
    stops.push(() => collector.stop());

    // The server's side: a relay into its own hub, with no store at all.
    const hub = new LiveHub();
    const relay = new LiveRelay({ url: mosquitto.url, live: hub, log });
    await relay.start();
    stops.push(() => relay.stop());
    const seen: { batch: LiveBatch; inStore: Promise<number> }[] = [];
    hub.subscribe('U1', (batch) =>
      seen.push({
        batch,
        // Checked at the moment the announcement arrives: the reading must already be stored.
        inStore: store
          .rawReadings({ unitId: 'U1', pointId: 'clinker.belt', from: 0, to: Date.UTC(2030, 0, 1) })
          .then((rows) => rows.filter((r) => r.seq === batch.seq).length),
      }),
    );

    const pub = await mqtt.connectAsync(mosquitto.url, { clientId: 'relay-test-pub' });
    stops.push(() => pub.endAsync());
    const batches = chain(5);
    for (const b of batches) await pub.publishAsync('mrv/v1/U1/gw1/data', JSON.stringify(b), { qos: 1 });
    // A malformed announcement (not from a collector of this version) is skipped and counted.
    await pub.publishAsync(liveTopic('mrv/v1', 'U1', 'gw1'), '{"unitId":"U1"}', { qos: 0 });
    await until('five batches relayed', () => seen.length === 5, 10_000);
    await until('the malformed one counted', () => relay.counters.invalid === 1, 5_000);

    expect(seen.map((s) => [s.batch.seq, s.batch.readings[0]?.value])).toEqual(
      batches.map((b) => [b.seq, b.readings[0]?.value]),
    );
    expect(await Promise.all(seen.map((s) => s.inStore))).toEqual([1, 1, 1, 1, 1]);
    expect(relay.counters.announcements).toBe(5);
    // A redelivered batch is not stored again, so not announced again.
    await pub.publishAsync('mrv/v1/U1/gw1/data', JSON.stringify(batches[2]), { qos: 1 });
    await until('the redelivery recognised', () => collector.counters.duplicates === 1, 5_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toHaveLength(5);
  });
});
