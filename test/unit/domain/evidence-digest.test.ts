// The readings digest (v2 line encoding, v1 still verifiable), the store source's pages against its
// whole reads, and `mrv verify` of a package made with either encoding.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { verify } from '../../../cli/evidence.ts';
import { SqliteStore } from '../../../collector/sqlite-store.ts';
import type { StoredReading } from '../../../collector/store.ts';
import type { Sample } from '../../../core/domain/aggregate.ts';
import { computeEvidence, type ReadingSource, readPages } from '../../../core/domain/evidence.ts';
import { canonicalJson } from '../../../core/schema/canonical.ts';
import { readFactorPackFile } from '../../../evidence/factor-packs.ts';
import {
  catalogueFromSites,
  digestingSource,
  loadEvidenceKey,
  loadFactorPack,
  loadRulePack,
  RAW_DATA_KIND_V1,
  RAW_DATA_KIND_V2,
  readingLine,
  readingLineV2,
  segmentLineV2,
  signEvidence,
  storeSource,
  writeTrustFile,
} from '../../../evidence/service.ts';
import { loadSiteConfig } from '../../../gateway/config.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-digest-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('readings digest lines', () => {
  it('v2 reading lines: ms, quality, exact value, JSON reason, TAB-separated, LF-terminated', () => {
    expect(readingLineV2({ ts: 1_772_294_400_000, value: '12.50', quality: 'good' })).toBe(
      '1772294400000\tgood\t12.50\t\n',
    );
    expect(readingLineV2({ ts: 5, value: null, quality: 'bad', reason: 'no\tanswer\n"x"' })).toBe(
      '5\tbad\t\t"no\\tanswer\\n\\"x\\""\n',
    );
    expect(() => readingLineV2({ ts: 5, value: '1\t2', quality: 'good' })).toThrow(/not a decimal/);
    expect(segmentLineV2('a.b', 0, 1000, 2, 'ab')).toBe('a.b\t0\t1000\t2\tab\n');
  });

  it('v1 lines are the canonical JSON of the reading with ts ISO UTC (unchanged)', () => {
    expect(readingLine('a.b', { ts: 0, value: '1', quality: 'good' })).toBe(
      '{"point":"a.b","quality":"good","ts":"1970-01-01T00:00:00.000Z","value":"1"}',
    );
  });

  it('digests every reading in the order read, the same through read() and pages(), for both kinds', async () => {
    const samples: Sample[] = [
      { ts: 1000, value: '1', quality: 'good' },
      { ts: 2000, value: null, quality: 'bad', reason: 'timeout' },
      { ts: 3000, value: '1.5', quality: 'uncertain' },
    ];
    const inner: ReadingSource = {
      async read(_p, from, to) {
        return samples.filter((s) => s.ts >= from && s.ts < to);
      },
      async *pages(_p, from, to) {
        for (const s of samples) if (s.ts >= from && s.ts < to) yield [s];
      },
    };
    const first = samples[0] as Sample;
    const expected = {
      [RAW_DATA_KIND_V1]: sha([...samples, first].map((s) => `${readingLine('p', s)}\n`).join('')),
      [RAW_DATA_KIND_V2]: sha(
        segmentLineV2('p', 0, 10_000, 3, sha(samples.map(readingLineV2).join(''))) +
          segmentLineV2('p', 0, 1500, 1, sha(readingLineV2(first))) +
          segmentLineV2('q', 5000, 6000, 0, sha('')),
      ),
    };
    for (const kind of [RAW_DATA_KIND_V1, RAW_DATA_KIND_V2] as const) {
      const a = digestingSource(inner, undefined, kind);
      await a.source.read('p', 0, 10_000);
      await a.source.read('p', 0, 1500);
      await a.source.read('q', 5000, 6000);
      const b = digestingSource(inner, undefined, kind);
      for await (const _ of readPages(b.source, 'p', 0, 10_000));
      for await (const _ of readPages(b.source, 'p', 0, 1500));
      for await (const _ of readPages(b.source, 'q', 5000, 6000));
      const [ra, rb] = [await a.finish(), await b.finish()];
      expect(ra.kind).toBe(kind);
      expect(ra.readingsDigest).toBe(expected[kind]);
      expect(rb.readingsDigest).toBe(expected[kind]);
      expect(ra.readings).toBe(4);
      expect(ra.window).toEqual({ from: new Date(0).toISOString(), to: new Date(10_000).toISOString() });
      expect(ra.note).toContain(kind === RAW_DATA_KIND_V2 ? 'TAB' : 'sorted-key JSON');
    }
  });
});

const site = loadSiteConfig(
  path.join(import.meta.dirname, '../../../examples/aluminium-smelter.site.yaml'),
).site;
const unitId = site.unit.id;
const gatewayId = site.gateway.id;
const month = '2026-02';
const start = Date.UTC(2026, 0, 31, 16); // 2026-02-01T00:00+08:00

/** 1 s readings of the demo unit's counters around the start of February, with bad readings, a gap and a redelivery. */
async function filledStore(): Promise<SqliteStore> {
  const store = new SqliteStore({ path: ':memory:' });
  await store.start();
  const rows: StoredReading[] = [];
  const add = (point: string, ts: number, value: string | null, seq: number, reason?: string) =>
    rows.push({
      unitId,
      gatewayId,
      device: 'dev',
      point,
      ts,
      rxTs: ts,
      value,
      quality: value === null ? 'bad' : 'good',
      ...(reason ? { reason } : {}),
      seq,
    });
  // 3 h: 2 h of lookback day and 1 h of the month; > 4096 readings per point (several stream pages).
  for (let i = 0; i < 3 * 3600; i++) {
    const ts = start - 2 * 3_600_000 + i * 1000;
    if (i > 7000 && i < 7100) continue; // a gap
    const seq = i * 3 + 1;
    if (i % 997 === 0) add('anode.set_total', ts, null, seq, 'MRV_E_MODBUS_TIMEOUT: no answer');
    else add('anode.set_total', ts, (1000 + Math.floor(i / 600) * 0.5).toFixed(1), seq);
    add('anode.butt_total', ts, String(200 + Math.floor(i / 1800)), seq + 1);
    add('potline.cell_count', ts, i % 5000 < 10 ? '239' : '240', seq + 2);
    const ticket = String(100 + Math.floor(i / 1200));
    add('ladle.ticket_no', ts, ticket, seq);
    add('ladle.net', ts, (3 + (Math.floor(i / 1200) % 3) * 0.25).toFixed(3), seq);
  }
  await store.writeReadings(rows);
  // A redelivery of one reading in a later batch: the store keeps it, the package cites that batch.
  const again = rows.find((r) => r.point === 'anode.set_total' && r.ts === start + 600_000) as StoredReading;
  await store.writeReadings([{ ...again, value: '1009.5', seq: 99_999 }]);
  return store;
}

describe('evidence from the store: pages, digest and verification', () => {
  it('the store source pages give exactly the readings read() gives', async () => {
    const store = await filledStore();
    const src = storeSource(store, unitId);
    const whole = await src.read('anode.set_total', start - 86_400_000, start + 86_400_000);
    const paged: Sample[] = [];
    let pages = 0;
    for await (const p of readPages(src, 'anode.set_total', start - 86_400_000, start + 86_400_000)) {
      pages++;
      paged.push(...p);
    }
    expect(pages).toBeGreaterThan(2);
    expect(paged).toEqual(whole);
    expect(whole.length).toBe(3 * 3600 - 99);
    expect(whole.some((s) => s.reason !== undefined)).toBe(true);
    expect(whole.find((s) => s.ts === start + 600_000)).toMatchObject({ value: '1009.5', seq: 99_999 });
    await store.stop();
  });

  it('computes the same package with or without pages, and mrv verify accepts both digest kinds and both formats', async () => {
    const store = await filledStore();
    const catalogue = catalogueFromSites(unitId, [site]);
    if (!catalogue) throw new Error('no catalogue');
    const input = {
      catalogue,
      month,
      factorPack: loadFactorPack(),
      rulePack: loadRulePack('aluminium'),
      generatedAt: Date.UTC(2026, 2, 2),
      generator: 'test',
    };
    const paged = storeSource(store, unitId);
    const unpaged: ReadingSource = { read: (p, f, t) => paged.read(p, f, t) };
    const key = loadEvidenceKey(path.join(tmp, 'evidence.pem'));
    // mrv verify trusts only keys it is given: the server's trust file.
    const trust = path.join(tmp, 'evidence.pub.json');
    writeTrustFile(trust, key, 'test server');
    const made: Record<string, string> = {};
    const oldPack = readFactorPackFile(
      fileURLToPath(
        new URL('../../../core/domain/factors/history/cn-ets-defaults@2026.11-1+docs.yaml', import.meta.url),
      ),
      { legacy: true },
    );
    // formatVersion 1 packages (before content status and month-to-date completeness) still verify.
    const combos = [
      [RAW_DATA_KIND_V1, 1],
      [RAW_DATA_KIND_V2, 1],
      [RAW_DATA_KIND_V2, 2],
    ] as const;
    for (const [kind, formatVersion] of combos) {
      const lines: string[] = [];
      const a = digestingSource(paged, (l) => lines.push(l), kind);
      const b = digestingSource(unpaged, undefined, kind);
      // A formatVersion 1 package was made with a pack of its time (history/, read by mrv verify too).
      const factorPack = formatVersion === 1 ? oldPack : input.factorPack;
      const bodyA = await computeEvidence({ ...input, factorPack, formatVersion, source: a.source });
      const bodyB = await computeEvidence({ ...input, factorPack, formatVersion, source: b.source });
      expect(bodyA.formatVersion).toBe(formatVersion);
      expect('content' in bodyA).toBe(formatVersion === 2);
      expect(canonicalJson(bodyA)).toBe(canonicalJson(bodyB));
      // An archive that holds every cited batch (the readings route of mrv verify does not read them).
      const archive = async (_g: string, f: number, t: number, limit: number) =>
        Array.from({ length: Math.max(0, Math.min(limit, t - f + 1)) }, (_, i) => ({
          seq: f + i,
          canonical: `{"seq":${f + i}}`,
        }));
      const rawA = await a.finish(archive);
      const rawB = await b.finish(archive);
      expect(rawA.missingBatches.count).toBe(0);
      expect(rawA).toEqual(rawB);
      // Every reading read, cited by its batch; the redelivered one by its last delivery.
      expect(rawA.readings).toBe(lines.length);
      expect(rawA.batches.gateways[0]?.ranges.at(-1)).toEqual([99_999, 99_999]);
      const pkg = signEvidence({ ...bodyA, rawData: rawA }, key);
      const file = path.join(tmp, `pkg-${kind}-${formatVersion}.json`);
      const readings = path.join(tmp, `readings-${kind}-${formatVersion}.jsonl`);
      writeFileSync(file, JSON.stringify(pkg));
      writeFileSync(readings, `${lines.join('\n')}\n`);
      made[kind] = rawA.readingsDigest;
      const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        const ok = await verify([file, '--readings', readings, '--trusted-keys', trust]);
        if (ok !== 0) process.stderr.write(out.mock.calls.map((c) => String(c[0])).join(''));
        expect(ok).toBe(0);
        // One reading changed in the export: the digest (and the value) no longer match.
        const i = lines.findIndex((l) => l.includes('"ladle.net"'));
        const bad = [...lines];
        bad[i] = (bad[i] as string).replace(/"value":"[^"]*"/, '"value":"9.999"');
        writeFileSync(readings, `${bad.join('\n')}\n`);
        expect(await verify([file, '--readings', readings, '--trusted-keys', trust])).toBe(1);
        expect(out.mock.calls.map((c) => String(c[0])).join('')).toMatch(/rawData\.readingsDigest/);
      } finally {
        out.mockRestore();
      }
    }
    expect(made[RAW_DATA_KIND_V1]).not.toBe(made[RAW_DATA_KIND_V2]);
    await store.stop();
  });
});
