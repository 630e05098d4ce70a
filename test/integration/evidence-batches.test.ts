// The monthly evidence package cites the raw signed batches it was computed from (issue 5 item 7,
// docs/architecture.md §6): batches signed with core/signing.ts go through the collector's integrity plan into a
// real SqliteStore (readings + archive), the package is built from the store, and `mrv verify FILE
// --batches EXPORT --keys REGISTRY` — run as a user runs it — accepts it, names a tampered batch, and
// rejects a package with one value changed; a batch missing from the archive is declared in the package.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportBatches } from '../../cli/verify-batches.ts';
import { IntegrityChecker } from '../../collector/integrity.ts';
import { loadKeyRegistry } from '../../collector/keys.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { EvidencePackage } from '../../core/domain/evidence.ts';
import { canonicalJson } from '../../core/schema/canonical.ts';
import { SiteConfig } from '../../core/schema/site.ts';
import { type Batch, GENESIS_HASH } from '../../core/schema/wire.ts';
import { BatchSetDigest, batchHash, signBatch } from '../../core/signing.ts';
import { buildEvidence, loadEvidenceKey, signEvidence } from '../../evidence/service.ts';
import { budget } from '../helpers/budget.ts';
import { spawnTied } from '../helpers/tied-process.ts';

const root = new URL('../..', import.meta.url).pathname;
const mrv = path.join(root, 'bin/mrv.js');
const UNIT = 'U-AL-7';
/** UTC+8 wall time, noon of a day of 2026 → ms epoch. */
const cstNoon = (m: number, d: number) => Date.UTC(2026, m - 1, d, 12 - 8);

const site = SiteConfig.parse({
  version: 1,
  unit: { id: UNIT, name: '测试铝厂 Test smelter', industry: 'aluminium', province: '内蒙古' },
  gateway: { id: 'gw1', mqtt: { url: 'mqtt://127.0.0.1:1883' } },
  meters: [
    {
      id: 'anode-1',
      name: 'anode scale',
      kind: 'crane-scale',
      calibrations: [
        {
          certificate: 'A-1',
          kind: 'verification',
          date: '2025-06-01',
          validUntil: '2026-05-31',
          body: 'Demo',
          result: '合格',
        },
      ],
    },
  ],
  devices: [
    {
      id: 'stations',
      driver: 'modbus-tcp',
      pollIntervalMs: 86_400_000,
      points: [
        {
          id: 'anode.set_total',
          meter: 'anode-1',
          unit: 't',
          parameter: 'aluminium.anode_consumption',
          aggregation: 'totalizer',
          type: 'uint32',
          scale: '0.1',
        },
      ],
    },
  ],
});

async function run(...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = await spawnTied(process.execPath, [mrv, ...args], { cwd: root });
  const { code } = await p.exited;
  return { code, out: p.tail() };
}

describe('evidence cites its raw signed batches; mrv verify --batches re-checks them', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mrv-evbatches-'));
  const keys = path.join(tmp, 'keys');
  const sqlite = path.join(tmp, 'store.sqlite');
  const evidenceKey = loadEvidenceKey(path.join(tmp, 'evidence.pem'), true);
  // The trust file the server writes beside its key: what a regulator verifies against.
  const trust = path.join(tmp, 'evidence.pub.json');
  const batches: Batch[] = [];
  let store: SqliteStore;

  beforeAll(async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    mkdirSync(keys);
    writeFileSync(
      path.join(keys, 'gw1.pub.json'),
      JSON.stringify({
        gatewayId: 'gw1',
        unitId: UNIT,
        publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
      }),
    );
    // One batch a day: seq 1 on Jan 31 (the lookback day), seq 2..29 on Feb 1..28, seq 30 on Mar 1.
    // The anode totalizer counts 500, 501.5, 503, … t (+1.5 t a day).
    let prev = GENESIS_HASH;
    for (let d = 0; d <= 29; d++) {
      const ts = new Date(d === 0 ? cstNoon(1, 31) : d === 29 ? cstNoon(3, 1) : cstNoon(2, d)).toISOString();
      const b = signBatch(
        {
          v: 1,
          unitId: UNIT,
          gatewayId: 'gw1',
          seq: d + 1,
          prevHash: prev,
          sentAt: ts,
          device: 'stations',
          readings: [
            {
              point: 'anode.set_total',
              meter: 'anode-1',
              ts,
              rxTs: ts,
              value: `${500 + 1.5 * d}`,
              quality: 'good',
            },
          ],
        },
        privateKey,
      );
      prev = batchHash(b);
      batches.push(b);
    }
    store = new SqliteStore({ path: sqlite });
    await store.start();
    // What the collector does on a flush: plan (signatures, chain), then readings, then the archive.
    const plan = await new IntegrityChecker({ keys: loadKeyRegistry(keys) }).plan(
      batches.map((batch) => ({ batch, receivedAt: Date.parse(batch.sentAt) + 1000 })),
      store,
      cstNoon(3, 2),
    );
    expect(plan.findings).toEqual([]);
    await store.writeReadings(plan.rows);
    await store.archiveBatches(plan.archive);
  });

  afterAll(async () => {
    await store?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const build = (sink?: (line: string) => void) =>
    buildEvidence({
      store,
      unitId: UNIT,
      month: '2026-02',
      now: cstNoon(3, 2),
      generator: 'carbon-mrv test',
      key: evidenceKey,
      sites: [site],
      ...(sink ? { sink } : {}),
    });
  const write = (name: string, pkg: EvidencePackage) => {
    const file = path.join(tmp, name);
    writeFileSync(file, JSON.stringify(pkg, null, 1));
    return file;
  };
  const exportTo = async (name: string) => {
    const file = path.join(tmp, name);
    const list = await exportBatches(store, { unitId: UNIT, gatewayId: 'gw1' });
    writeFileSync(file, list.map((b) => `${JSON.stringify(b)}\n`).join(''));
    return file;
  };

  // Five `mrv verify` processes: ~3 s on a quiet box, over 30 s on a loaded one.
  it('cites the digest of exactly the batches used; verify accepts it, names a tampered batch, rejects a changed value', {
    timeout: budget({ cliRuns: 5 }),
  }, async () => {
    const lines: string[] = [];
    const pkg = await build((l) => lines.push(l));
    // 500 on Jan 31 → 542 on Feb 28: 28 days × 1.5 t = 42 t
    expect(pkg.parameters.find((p) => p.id === 'aluminium.anode_consumption')?.value).toBe('42');
    const raw = pkg.rawData;
    // Batches 1 (lookback) to 29 (Feb 28) were read; 30 (Mar 1) was not.
    expect(raw?.batches).toEqual({
      count: 29,
      gateways: [{ gatewayId: 'gw1', count: 29, ranges: [[1, 29]] }],
    });
    expect(raw?.missingBatches).toEqual({ count: 0, gateways: [] });
    expect(raw?.readings).toBe(29);
    const d = new BatchSetDigest();
    for (const b of batches.slice(0, 29)) {
      const { sig, ...unsigned } = b;
      d.add('gw1', b.seq, canonicalJson(unsigned), sig);
    }
    expect(raw?.batchDigest).toBe(d.digest());

    const pkgFile = write('ev.json', pkg);
    const exportFile = await exportTo('gw1.jsonl');
    const ok = await run('verify', pkgFile, '--trusted-keys', trust, '--batches', exportFile, '--keys', keys);
    expect(ok.out).toMatch(/U-AL-7\/gw1: 30 batches, seq 1\.\.30: OK/);
    expect(ok.out).toContain(`batches: 29 cited (gw1#1..29), batch digest ${d.digest()}: identical`);
    expect(ok.out).toMatch(/ACCEPTED\s*$/);
    expect(ok.code).toBe(0);

    // The readings file still recomputes the values (without the batch digest).
    const readingsFile = path.join(tmp, 'ev.readings');
    writeFileSync(readingsFile, `${lines.join('\n')}\n`);
    const fromReadings = await run('verify', pkgFile, '--trusted-keys', trust, '--readings', readingsFile);
    expect(fromReadings.out).toMatch(/batch digest [0-9a-f]{64} not checked/);
    expect(fromReadings.code).toBe(0);

    // One byte of archived batch 12 (Feb 11: 516.5 t) changed in the export: named by gateway and seq.
    const text = readFileSync(exportFile, 'utf8');
    expect(text).toContain('516.5');
    const tamperedFile = path.join(tmp, 'gw1-tampered.jsonl');
    writeFileSync(tamperedFile, text.replace('516.5', '517.5'));
    const tampered = await run(
      'verify',
      pkgFile,
      '--trusted-keys',
      trust,
      '--batches',
      tamperedFile,
      '--keys',
      keys,
    );
    expect(tampered.code).toBe(1);
    expect(tampered.out).toMatch(/first broken link: seq 12: MRV_F_BAD_SIGNATURE/);
    expect(tampered.out).toMatch(
      /REJECTED: batches fail verification: gw1#12 MRV_F_BAD_SIGNATURE, gw1#13 MRV_F_CHAIN_BROKEN/,
    );
    expect(tampered.out).toMatch(/\$\.rawData\.batchDigest: package/);

    // One value changed in the package: the signature catches it; re-signed, the recomputation does.
    const changed = structuredClone(pkg) as EvidencePackage;
    const param = changed.parameters.find((p) => p.id === 'aluminium.anode_consumption');
    if (param) param.value = '43';
    const unsignedChange = await run(
      'verify',
      '--trusted-keys',
      trust,
      write('ev-43.json', changed),
      '--batches',
      exportFile,
      '--keys',
      keys,
    );
    expect(unsignedChange.code).toBe(1);
    expect(unsignedChange.out).toMatch(
      /REJECTED: signature: MRV_E_VERIFY: signature does not match the content/,
    );
    const { signature: _s, ...body } = changed;
    const resigned = await run(
      'verify',
      '--trusted-keys',
      trust,
      write('ev-43-resigned.json', signEvidence(body, evidenceKey)),
      '--batches',
      exportFile,
      '--keys',
      keys,
    );
    expect(resigned.code).toBe(1);
    expect(resigned.out).toMatch(
      /REJECTED: values differ from the recomputation:\n {2}\$\.parameters\[1\]\.value: package "43" ≠ recomputed "42"/,
    );
  });

  it('rejects a package with changed figures re-signed by an unknown key in every mode, and refuses without trusted keys', {
    timeout: budget({ cliRuns: 8 }),
  }, async () => {
    const pkg = await build();
    const lines: string[] = [];
    await build((l) => lines.push(l));
    const readingsFile = path.join(tmp, 'ev-forged.readings');
    writeFileSync(readingsFile, `${lines.join('\n')}\n`);
    const exportFile = await exportTo('gw1-forged.jsonl');
    // The attacker changes the CF4 slope factor and re-signs with an Ed25519 key of their own.
    const text = JSON.stringify(pkg);
    expect(text).toContain('"0.143"');
    const { signature: _s, ...body } = JSON.parse(text.replace('"0.143"', '"0.043"')) as EvidencePackage;
    const attacker = loadEvidenceKey(path.join(tmp, 'attacker', 'evil.pem'), true);
    const forged = write('ev-forged.json', signEvidence(body, attacker));
    for (const mode of [[], ['--readings', readingsFile], ['--batches', exportFile, '--keys', keys]]) {
      const r = await run('verify', forged, '--trusted-keys', trust, ...mode);
      expect(r.code, mode.join(' ')).toBe(1);
      expect(r.out).toMatch(
        new RegExp(
          `REJECTED: signature: MRV_E_UNTRUSTED_KEY: signed by key ${attacker.keyId}, which is not trusted`,
        ),
      );
      expect(r.out).not.toMatch(/ACCEPTED/);
      // Without trusted keys nothing is checked against the package's own key: a named refusal.
      const none = await run('verify', forged, ...mode);
      expect(none.code).toBe(1);
      expect(none.out).toMatch(/MRV_E_NO_TRUSTED_KEYS: no trusted evidence key: give --trusted-keys/);
    }
    // The genuine package, with the server's key given as a plain PEM public key file, names key and owner.
    const pem = path.join(tmp, 'server-public.pem');
    writeFileSync(pem, evidenceKey.publicKey.export({ type: 'spki', format: 'pem' }));
    const ok = await run('verify', write('ev-genuine.json', pkg), '--public-key', pem);
    expect(ok.out).toContain(
      `signature: OK (Ed25519, trusted key ${evidenceKey.keyId}, owner server-public.pem)`,
    );
    expect(ok.code).toBe(0);
    // The content status follows the signature: a good signature says nothing about completeness.
    expect(ok.out).toMatch(/^content: (no_data|incomplete|complete)\b/m);
    const owner = await run('verify', path.join(tmp, 'ev-genuine.json'), '--trusted-keys', trust);
    expect(owner.out).toMatch(/owner carbon-mrv server evidence key evidence\.pem/);
    expect(owner.code).toBe(0);
  });

  it('declares a batch the archive lacks, by count and range, and verify says the values cannot be re-checked', {
    timeout: budget({ cliRuns: 1 }),
  }, async () => {
    const db = new Database(sqlite);
    db.prepare('DELETE FROM batch WHERE seq = 5').run();
    db.close();
    const pkg = await build();
    expect(pkg.rawData?.batches.count).toBe(29);
    expect(pkg.rawData?.missingBatches).toEqual({
      count: 1,
      gateways: [{ gatewayId: 'gw1', count: 1, ranges: [[5, 5]] }],
    });
    const d = new BatchSetDigest();
    for (const b of batches.slice(0, 29).filter((b) => b.seq !== 5)) {
      const { sig, ...unsigned } = b;
      d.add('gw1', b.seq, canonicalJson(unsigned), sig);
    }
    expect(pkg.rawData?.batchDigest).toBe(d.digest());
    const r = await run(
      'verify',
      '--trusted-keys',
      trust,
      write('ev-missing.json', pkg),
      '--batches',
      await exportTo('gw1-gap.jsonl'),
      '--keys',
      keys,
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/seq 6: MRV_F_SEQ_GAP: batches 5\.\.5 are missing/);
    expect(r.out).toMatch(
      /REJECTED: the package cites 1 batches that were not in the archive when it was made \(gw1#5\)/,
    );
  });
});
