// Cross-unit forgery with a registered key (issue 17 item 1), against a real, open Mosquitto (anonymous,
// no ACL: anyone on the plant network may publish on any topic) and a real collector: a batch signed
// with gateway A's key claiming unit B is dead-lettered and counted, raises MRV_F_KEY_MISMATCH (stored),
// and stores no reading and no archive record; B's own batches still go through verified.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateGatewayKey } from '../../cli/keygen.ts';
import { Collector, type DeadLetter } from '../../collector/collector.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { parsePrivateKey } from '../../core/signing.ts';
import { until } from '../faults/harness.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { signedChain } from '../helpers/signed-chain.ts';

describe('a batch signed by another unit’s registered key', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mrv-keymismatch-'));
  let stops: (() => Promise<void>)[] = [];
  let collector: Collector;
  let store: SqliteStore;
  let pub: MqttClient;
  const letters: DeadLetter[] = [];

  beforeAll(async () => {
    const mosquitto = await startMosquitto();
    store = new SqliteStore({ path: path.join(dir, 'store.sqlite') });
    await store.start();
    collector = new Collector({
      url: mosquitto.url,
      store,
      keys: loadKeyRegistry(path.join(dir, 'keys')),
      log: pino({ level: 'silent' }),
      clientId: 'keymismatch-collector',
      flushIntervalMs: 50,
      maxClockSkewMs: 1e12,
    });
    await collector.start();
    pub = await mqtt.connectAsync(mosquitto.url, { clientId: 'keymismatch-attacker' });
    await pub.subscribeAsync(collector.deadLetterTopic, { qos: 1 });
    pub.on('message', (topic, payload) => {
      if (topic === collector.deadLetterTopic) letters.push(JSON.parse(payload.toString()) as DeadLetter);
    });
    stops = [() => pub.endAsync(), () => collector.stop(), () => store.stop(), () => mosquitto.stop()];
  }, 30_000);

  afterAll(async () => {
    for (const s of stops) await s();
    rmSync(dir, { recursive: true, force: true });
  });

  // Keys made before the collector starts (it reads the registry at construction).
  const keysDir = path.join(dir, 'keys');
  const a = generateGatewayKey({ unitId: 'UA', gatewayId: 'gwA', outDir: keysDir });
  const b = generateGatewayKey({ unitId: 'UB', gatewayId: 'gwB', outDir: keysDir });
  const key = (file: string) => parsePrivateKey(readFileSync(file, 'utf8'));

  it('dead-letters it with MRV_F_KEY_MISMATCH and stores no reading', async () => {
    const [forged] = signedChain(1, key(a.privateKeyFile), { unitId: 'UB', gatewayId: 'gwB' });
    await pub.publishAsync('mrv/v1/UB/gwB/data', JSON.stringify(forged), { qos: 1 });
    await until(
      'the forged batch dead-lettered',
      () => letters.length === 1 && collector.counters.rejectedBatches === 1,
      15_000,
    );
    expect(letters[0]?.reason).toMatch(
      /^MRV_F_KEY_MISMATCH: batch 1 claims gateway gwB but is signed by key [0-9a-f]{16} of UA\/gwA/,
    );
    expect(letters[0]?.topic).toBe('mrv/v1/UB/gwB/data');
    const findings = await store.listFindings('UB', 0, Date.now() + 1e10, { code: 'MRV_F_KEY_MISMATCH' });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      severity: 'critical',
      class: 'authenticity',
      detail: { keyId: a.keyId },
    });
    expect(await store.listBatches({ unitId: 'UB', gatewayId: 'gwB' })).toEqual([]);
    expect(collector.counters.readingsStored).toBe(0);

    // B's genuine batch 1 (same seq) is then stored, verified, with no finding of its own.
    const genuine = signedChain(2, key(b.privateKeyFile), { unitId: 'UB', gatewayId: 'gwB' });
    for (const g of genuine) await pub.publishAsync('mrv/v1/UB/gwB/data', JSON.stringify(g), { qos: 1 });
    await until(
      'B’s batches stored',
      async () => (await store.listBatches({ unitId: 'UB', gatewayId: 'gwB' })).length === 2,
      15_000,
    );
    const archived = await store.listBatches({ unitId: 'UB', gatewayId: 'gwB' });
    expect(archived.map((x) => [x.seq, x.verdict])).toEqual([
      [1, 'verified'],
      [2, 'verified'],
    ]);
    expect(collector.counters.readingsStored).toBe(2);
    expect(collector.counters.rejectedBatches).toBe(1);
  });
});
