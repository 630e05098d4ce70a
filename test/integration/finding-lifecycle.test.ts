// Findings have a lifecycle (collector/finding-lifecycle.ts), end to end: a real collector on a real
// Mosquitto reports a hole whose batches were still on their way, the batches arrive late on the backlog
// topic, the finding is resolved in the store with the time and the seqs that closed it (and published
// so on the findings topic); another gateway's hole, only partly filled, stays open with what is still
// missing. The month's evidence, built from that store, cites the open gap only and lists the resolved
// one, and `mrv verify` recomputes the package from its readings and accepts it.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector } from '../../collector/collector.ts';
import { keyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import { evidenceCsv, evidenceHtml } from '../../core/domain/render.ts';
import type { Finding } from '../../core/schema/finding.ts';
import type { Batch, GatewayMeta } from '../../core/schema/wire.ts';
import { signMeta } from '../../core/signing.ts';
import { buildEvidence, loadEvidenceKey } from '../../evidence/service.ts';
import { until } from '../faults/harness.ts';
import { type MosquittoServer, startMosquitto } from '../helpers/mosquitto.ts';
import { signedChain } from '../helpers/signed-chain.ts';
import { spawnTied } from '../helpers/tied-process.ts';

const log = pino({ level: 'silent' });
const root = new URL('../..', import.meta.url).pathname;
const pair = generateKeyPairSync('ed25519');
const publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const keys = keyRegistry([
  { gatewayId: 'gw1', unitId: 'U1', publicKey },
  { gatewayId: 'gw2', unitId: 'U1', publicKey },
]);
/** Batch 6 of gw1 says the gateway held nothing below 6 when it was made: 3..5 were with the broker. */
const gw1 = signedChain(8, pair.privateKey, { gatewayId: 'gw1', backlog: { 6: 6 } });
const gw2 = signedChain(6, pair.privateKey, {
  gatewayId: 'gw2',
  backlog: { 5: 5 },
  t0: Date.parse('2026-03-02T00:00:00.000Z'),
});
const meta = (gatewayId: string): GatewayMeta => ({
  v: 1,
  gatewayId,
  unit: { id: 'U1', name: '测试水泥厂', industry: 'cement', province: '安徽' },
  points: [
    { id: 'p1', device: 'd1', unit: 't', parameter: 'cement.clinker_output', aggregation: 'totalizer' },
  ],
  meters: [],
  configHash: 'a'.repeat(64),
});

describe('a seq gap raised while its batches were on their way', () => {
  let mosquitto: MosquittoServer;
  let store: SqliteStore;
  let collector: Collector;
  let pub: MqttClient;
  const published: Finding[] = [];
  const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-lifecycle-'));

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    store = new SqliteStore({ path: path.join(tmp, 'store.db') });
    await store.start();
    collector = new Collector({
      url: mosquitto.url,
      store,
      log,
      keys,
      clientId: 'lifecycle-collector',
      flushIntervalMs: 20,
      backlogQuietMs: 500,
    });
    await collector.start();
    pub = await mqtt.connectAsync(mosquitto.url, { clientId: 'lifecycle-pub' });
    await pub.subscribeAsync(collector.findingsTopic, { qos: 1 });
    pub.on('message', (topic, payload) => {
      if (topic === collector.findingsTopic) published.push(JSON.parse(payload.toString()) as Finding);
    });
    for (const gw of ['gw1', 'gw2'])
      await pub.publishAsync(
        `mrv/v1/U1/${gw}/meta`,
        JSON.stringify(signMeta(meta(gw), pair.privateKey, Date.now())),
        { qos: 1, retain: true },
      );
  });
  afterAll(async () => {
    await pub?.endAsync();
    await collector?.stop();
    await store?.stop();
    await mosquitto?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const send = (c: Batch[], seq: number, kind: 'data' | 'backlog' = 'data') => {
    const b = c[seq - 1] as Batch;
    return pub.publishAsync(`mrv/v1/U1/${b.gatewayId}/${kind}`, JSON.stringify(b), { qos: 1 });
  };
  const gap = async (gatewayId: string) =>
    (await store.listFindings('U1', 0, Date.parse('2027-01-01'), { code: 'MRV_F_SEQ_GAP', gatewayId }))[0];

  it('is resolved with the time and the seqs once they are stored; a partly filled one stays open', async () => {
    for (const seq of [1, 2, 6]) await send(gw1, seq);
    for (const seq of [1, 2, 5]) await send(gw2, seq);
    await until(
      'both holes reported',
      async () => (await gap('gw1')) !== undefined && (await gap('gw2')) !== undefined,
    );
    expect(await gap('gw1')).toMatchObject({ detail: { from: 3, to: 5, missing: 3 } });
    expect((await gap('gw1'))?.state ?? 'open').toBe('open');
    expect(await gap('gw2')).toMatchObject({ detail: { from: 3, to: 4, missing: 2 } });

    // The batches were still queued (a re-send, a drained backlog): 3 and 4 of gw1 first.
    await send(gw1, 3, 'backlog');
    await send(gw1, 4, 'backlog');
    await until('gw1 gap updated', async () => (await gap('gw1'))?.detail.stillMissing === 1);
    expect(await gap('gw1')).toMatchObject({ detail: { remaining: [[5, 5]], arrived: [[3, 4]] } });
    expect((await gap('gw1'))?.state ?? 'open').toBe('open');

    const before = Date.now();
    await send(gw1, 5, 'backlog');
    await send(gw2, 3, 'backlog'); // gw2's 4 never comes
    await until('gw1 gap resolved', async () => (await gap('gw1'))?.state === 'resolved');
    const resolved = (await gap('gw1')) as Finding;
    expect(resolved.resolution).toMatchObject({
      by: 'late-batches',
      seqs: [[3, 5]],
      detail: { brokenLinks: [] },
    });
    expect(Date.parse(resolved.resolvedAt as string)).toBeGreaterThanOrEqual(before - 1000);
    await until('gw2 gap updated', async () => (await gap('gw2'))?.detail.stillMissing === 1);
    expect(await gap('gw2')).toMatchObject({ detail: { remaining: [[4, 4]], arrived: [[3, 3]] } });
    expect((await gap('gw2'))?.state ?? 'open').toBe('open');
    expect((await store.listOpenFindings('U1', 'MRV_F_SEQ_GAP')).map((f) => f.gatewayId)).toEqual(['gw2']);

    // Raised on the findings topic at each step: open, updated, resolved.
    await until('resolution published', () =>
      published.some((f) => f.gatewayId === 'gw1' && f.state === 'resolved'),
    );
    // (3 and 4 may be stored by one write or two: one or two updates.)
    const states = published.filter((f) => f.gatewayId === 'gw1').map((f) => f.state ?? 'open');
    expect(states.length).toBeGreaterThanOrEqual(3);
    expect(states.slice(0, -1).every((x) => x === 'open')).toBe(true);
    expect(states.at(-1)).toBe('resolved');
    // Every batch that arrived is stored once, no other finding.
    const seqs = await store.listBatchLinks({ unitId: 'U1', gatewayId: 'gw1' });
    expect(seqs.map((l) => [l.seq, l.verdict])).toEqual([1, 2, 3, 4, 5, 6].map((s) => [s, 'verified']));
    const all = await store.listFindings('U1', 0, Date.parse('2027-01-01'));
    expect(all.map((f) => f.code)).toEqual(['MRV_F_SEQ_GAP', 'MRV_F_SEQ_GAP']);
  });

  it('evidence of that month cites no resolved gap, lists it as resolved, and verifies', async () => {
    const lines: string[] = [];
    const pkg = await buildEvidence({
      store,
      unitId: 'U1',
      month: '2026-03',
      now: Date.parse('2026-04-02T00:00:00Z'),
      generator: 'carbon-mrv test',
      key: loadEvidenceKey(path.join(tmp, 'evidence.pem'), true),
      sink: (line) => lines.push(line),
    });
    expect(pkg.storedFindings.map((f) => [f.gatewayId, f.code, f.detail.remaining])).toEqual([
      ['gw2', 'MRV_F_SEQ_GAP', [[4, 4]]],
    ]);
    expect(
      pkg.resolvedFindings?.map((f) => [f.gatewayId, f.resolvedAt !== undefined, f.resolution?.seqs]),
    ).toEqual([['gw1', true, [[3, 5]]]]);
    const html = evidenceHtml(pkg);
    expect(html).toContain('已解决的问题 Resolved findings');
    expect(html).toMatch(/<td>3–5<\/td>/);
    expect(html).toContain('仍缺 4（1 批）');
    expect(evidenceCsv(pkg)).toMatch(/resolved_finding,MRV_F_SEQ_GAP,[^\n]*3–5/);

    // `mrv verify` recomputes the package (the split into open and resolved included) and accepts it.
    const file = path.join(tmp, 'evidence.json');
    const readings = path.join(tmp, 'readings.jsonl');
    writeFileSync(file, JSON.stringify(pkg));
    writeFileSync(readings, `${lines.join('\n')}\n`);
    const p = await spawnTied(
      process.execPath,
      [
        path.join(root, 'bin/mrv.js'),
        'verify',
        file,
        '--trusted-keys',
        path.join(tmp, 'evidence.pub.json'),
        '--readings',
        readings,
      ],
      {
        cwd: root,
      },
    );
    const { code } = await p.exited;
    expect(p.tail()).toMatch(/ACCEPTED/);
    expect(code).toBe(0);
  });
});
