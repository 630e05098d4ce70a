// Issue 17 item 3 through a real collector, Mosquitto and the embedded store: batches that fail
// verification (unsigned, wrongly signed, from an unknown gateway) with the times of verified readings
// change no reading, series or evidence figure; a forged batch before the genuine one leaves only the
// genuine reading; a forged high seq raises no gap. Every wait polls for what the collector reports.
import { generateKeyPairSync } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.ts';
import { keyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { Batch, GatewayMeta } from '../../core/schema/wire.ts';
import { signBatch, signMeta } from '../../core/signing.ts';
import { buildEvidence, type EvidenceKey } from '../../evidence/service.ts';
import { until } from '../faults/harness.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { signedChain } from '../helpers/signed-chain.ts';

const log = pino({ level: 'silent' });
const pair = generateKeyPairSync('ed25519');
const rogue = generateKeyPairSync('ed25519');
const evidenceKey: EvidenceKey = (() => {
  const k = generateKeyPairSync('ed25519');
  const der = k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { privateKey: k.privateKey, publicKey: k.publicKey, publicKeyDer: der, keyId: '0123456789abcdef' };
})();
/** 2026-03-01T00:00Z + seq s: readings of clinker.belt (a totalizer) = seq × 10. */
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const END = Date.parse('2026-04-01T00:00:00.000Z');

describe('collector: unverified batches are quarantined', () => {
  let stops: (() => Promise<void>)[] = [];
  let collector: Collector;
  let store: SqliteStore;
  let pub: MqttClient;
  const chain = signedChain(10, pair.privateKey, { t0: T0 });

  beforeAll(async () => {
    const mosquitto = await startMosquitto();
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    collector = new Collector({
      url: mosquitto.url,
      store,
      log,
      clientId: 'quarantine-test',
      flushIntervalMs: 20,
      backlogQuietMs: 300,
      keys: keyRegistry([
        {
          unitId: 'U1',
          gatewayId: 'gw1',
          publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        },
      ]),
    });
    await collector.start();
    pub = await mqtt.connectAsync(mosquitto.url, { clientId: 'quarantine-test-pub' });
    stops = [() => pub.endAsync(), () => collector.stop(), () => store.stop(), () => mosquitto.stop()];
  });
  afterAll(async () => {
    for (const s of stops) await s();
  });

  const meta: GatewayMeta = {
    v: 1,
    gatewayId: 'gw1',
    unit: { id: 'U1', name: 'quarantine test', industry: 'cement', province: '安徽' },
    points: [
      { id: 'p1', device: 'd1', unit: 't', aggregation: 'totalizer', parameter: 'cement.clinker_output' },
    ],
    meters: [],
    configHash: 'a'.repeat(64),
  };
  const send = (b: Batch) =>
    pub.publishAsync(`mrv/v1/${b.unitId}/${b.gatewayId}/data`, JSON.stringify(b), { qos: 1 });
  /** Batch `like` with seq, value and gateway replaced; signed with `key`, or unsigned. */
  const forge = (
    like: Batch,
    o: { seq?: number; value: string; key?: typeof rogue.privateKey; gatewayId?: string },
  ) => {
    const { sig: _s, ...b } = like;
    const body = {
      ...b,
      seq: o.seq ?? like.seq,
      gatewayId: o.gatewayId ?? like.gatewayId,
      readings: [{ ...(like.readings[0] as Batch['readings'][number]), value: o.value }],
    };
    return o.key === undefined ? (body as Batch) : signBatch(body, o.key);
  };
  const raw = async () =>
    (await store.rawReadings({ unitId: 'U1', pointId: 'p1', from: T0, to: END })).map((r) => [
      r.value,
      r.quality,
      r.gatewayId,
      r.seq,
    ]);
  const stepped = () => store.series({ unitId: 'U1', pointId: 'p1', from: T0, to: END, stepMs: 3_600_000 });
  const figures = async () => {
    const pkg = await buildEvidence({
      store,
      unitId: 'U1',
      month: '2026-03',
      now: END,
      generator: 'test',
      key: evidenceKey,
    });
    return { parameters: pkg.parameters, completeness: pkg.completeness };
  };
  const findings = (code: string) => store.listFindings('U1', 0, END, { code });
  const stored = () => collector.counters.batches;

  it('changes no verified reading, trend or evidence figure; keeps the forgeries in quarantine', async () => {
    // Signed by gw1's key: a collector with a key registry takes no other catalogue (issue 17).
    pub.publish('mrv/v1/U1/gw1/meta', JSON.stringify(signMeta(meta, pair.privateKey, Date.now())), {
      qos: 1,
      retain: false,
    });
    for (const b of chain.slice(0, 4)) await send(b);
    await until('4 batches stored', async () => (await raw()).length === 4, 10_000);
    const before = { raw: await raw(), series: await stepped(), evidence: await figures() };
    expect(before.raw).toEqual([
      ['10', 'good', 'gw1', 1],
      ['20', 'good', 'gw1', 2],
      ['30', 'good', 'gw1', 3],
      ['40', 'good', 'gw1', 4],
    ]);
    // The figure compared below is the month's clinker output: the totalizer's rise, 40 − 10 t.
    expect(before.evidence.parameters.map((p) => [p.id, p.value])).toEqual([['cement.clinker_output', '30']]);

    const n = stored();
    await send(forge(chain[1] as Batch, { seq: 5, value: '777777' })); // unsigned
    await send(forge(chain[2] as Batch, { seq: 6, value: '555555', key: rogue.privateKey })); // wrong key
    await send(
      forge(chain[3] as Batch, { seq: 1, value: '333333', key: rogue.privateKey, gatewayId: 'gw-x' }),
    ); // unknown
    await send(forge(chain[3] as Batch, { seq: 896_600, value: '999999' })); // forged high seq
    await until('the 4 forgeries received', () => stored() >= n + 4, 10_000);
    await until(
      'their findings stored',
      async () => (await findings('MRV_F_BAD_SIGNATURE')).length === 3,
      10_000,
    );
    expect((await findings('MRV_F_UNKNOWN_KEY')).map((f) => f.gatewayId)).toEqual(['gw-x']);
    expect(await raw()).toEqual(before.raw);
    expect(await stepped()).toEqual(before.series);
    expect(await figures()).toEqual(before.evidence);
    expect(
      (await store.listQuarantine({ unitId: 'U1', from: T0, to: END })).map((r) => [
        r.value,
        r.gatewayId,
        r.cause,
      ]),
    ).toEqual([
      ['777777', 'gw1', 'MRV_F_BAD_SIGNATURE'],
      ['555555', 'gw1', 'MRV_F_BAD_SIGNATURE'],
      ['333333', 'gw-x', 'MRV_F_UNKNOWN_KEY'],
      ['999999', 'gw1', 'MRV_F_BAD_SIGNATURE'],
    ]);

    // The genuine 5 and 6 arrive after the forged ones: they replace them, and only they are readings.
    await send(chain[4] as Batch);
    await send(chain[5] as Batch);
    await until('the genuine 5 and 6 stored', async () => (await raw()).length === 6, 10_000);
    expect((await raw()).map((r) => r[0])).toEqual(['10', '20', '30', '40', '50', '60']);
    expect((await findings('MRV_F_SEQ_CONFLICT')).map((f) => [f.detail.seq, f.detail.kept])).toEqual([
      [5, 'received'],
      [6, 'received'],
    ]);
    expect(
      (await store.listBatches({ unitId: 'U1', gatewayId: 'gw1', fromSeq: 5, toSeq: 6 })).map(
        (b) => b.verdict,
      ),
    ).toEqual(['verified', 'verified']);

    // The forged high seq raised no gap. A real one (8 and 9 never sent) is the control that the gap
    // check ran: it is the only gap, 8..9, not one up to 896 599.
    await send(chain[6] as Batch);
    await send(chain[9] as Batch);
    await until('the real gap reported', async () => (await findings('MRV_F_SEQ_GAP')).length > 0, 15_000);
    expect((await findings('MRV_F_SEQ_GAP')).map((f) => [f.detail.from, f.detail.to])).toEqual([[8, 9]]);
    expect(await store.batchHeads()).toEqual([expect.objectContaining({ gatewayId: 'gw1', seq: 10 })]);
  });
});
