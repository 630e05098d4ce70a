// Keys belong to a (unit, gateway) and have a validity (collector/keys.ts, issue 17 item 1): a batch
// signed with one gateway's key claiming another unit is rejected whole with MRV_F_KEY_MISMATCH; after
// a rotation the old key still verifies the batches it signed before; after a revocation its batches
// are MRV_F_KEY_REVOKED; a registry entry without a unit does not load.
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { demoIntegrity } from '../../../cli/integrity-options.ts';
import { generateGatewayKey, revokeGatewayKey } from '../../../cli/keygen.ts';
import { checkChains } from '../../../cli/verify-batches.ts';
import { IntegrityChecker, type ReceivedBatch } from '../../../collector/integrity.ts';
import { loadKeyRegistry } from '../../../collector/keys.ts';
import { SqliteStore } from '../../../collector/sqlite-store.ts';
import { canonicalJson } from '../../../core/schema/canonical.ts';
import { type Batch, GENESIS_HASH } from '../../../core/schema/wire.ts';
import { batchHash, parsePrivateKey, signBatch } from '../../../core/signing.ts';
import { signedChain } from '../../helpers/signed-chain.ts';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const privateKey = (file: string) => parsePrivateKey(readFileSync(file, 'utf8'));

describe('key registry bound to (unit, gateway)', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mrv-keys-'));
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
  });
  afterEach(async () => {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function take(checker: IntegrityChecker, batches: Batch[], receivedAt = T0 + 3_600_000) {
    const items: ReceivedBatch[] = batches.map((batch) => ({ batch, receivedAt }));
    const plan = await checker.plan(items, store, receivedAt);
    await store.writeReadings(plan.rows);
    await store.writeFindings(plan.findings);
    await store.archiveBatches(plan.archive);
    checker.commit(plan);
    return plan;
  }

  it('rejects a batch signed with gateway A of unit A claiming unit B: MRV_F_KEY_MISMATCH, nothing stored', async () => {
    const a = generateGatewayKey({ unitId: 'UA', gatewayId: 'gwA', outDir: dir });
    generateGatewayKey({ unitId: 'UB', gatewayId: 'gwB', outDir: dir });
    const checker = new IntegrityChecker({ keys: loadKeyRegistry(dir), maxClockSkewMs: 1e12 });
    // Claiming unit B under A's own gateway id, and under B's gateway id.
    const forged = [
      ...signedChain(1, privateKey(a.privateKeyFile), { unitId: 'UB', gatewayId: 'gwA' }),
      ...signedChain(1, privateKey(a.privateKeyFile), { unitId: 'UB', gatewayId: 'gwB' }),
    ];
    const plan = await take(checker, forged);
    expect(plan.rows).toEqual([]);
    expect(plan.archive).toEqual([]);
    expect(plan.rejected.map((r) => [r.item.batch.gatewayId, r.finding.code])).toEqual([
      ['gwA', 'MRV_F_KEY_MISMATCH'],
      ['gwB', 'MRV_F_KEY_MISMATCH'],
    ]);
    const stored = await store.listFindings('UB', 0, T0 + 1e10, { code: 'MRV_F_KEY_MISMATCH' });
    expect(stored).toHaveLength(2);
    expect(stored[0]).toMatchObject({ severity: 'critical', detail: { keyId: a.keyId, keyUnitId: 'UA' } });
    expect(stored[0]?.message.zh).toMatch(/疑似伪造/);
    expect(stored[0]?.message.en).toMatch(/signed by key .* of UA\/gwA/);
    expect(await store.listBatches({ unitId: 'UB', gatewayId: 'gwA' })).toEqual([]);
    expect(await store.listBatches({ unitId: 'UB', gatewayId: 'gwB' })).toEqual([]);
    // A's own batches still verify.
    const own = await take(
      checker,
      signedChain(2, privateKey(a.privateKeyFile), { unitId: 'UA', gatewayId: 'gwA' }),
    );
    expect(own.findings).toEqual([]);
    expect(own.archive.map((b) => b.verdict)).toEqual(['verified', 'verified']);
  });

  it('rotation keeps old batches verifying; after revocation the old key raises MRV_F_KEY_REVOKED', async () => {
    // Batch seq is sent at T0 + seq s; the key is rotated at T0 + 5.5 s.
    const old = generateGatewayKey({ unitId: 'U1', gatewayId: 'gw1', outDir: dir });
    const oldKey = privateKey(old.privateKeyFile);
    const rotated = generateGatewayKey({
      unitId: 'U1',
      gatewayId: 'gw1',
      outDir: dir,
      rotate: true,
      now: T0 + 5_500,
    });
    const newKey = privateKey(rotated.privateKeyFile);
    // 1..5 with the old key before the rotation, 6..8 with the new one, 9 and 10 with the old one after it.
    const chain = chainSignedBy(10, (seq) => (seq <= 5 || seq >= 9 ? oldKey : newKey));
    const checker = new IntegrityChecker({ keys: loadKeyRegistry(dir), maxClockSkewMs: 1e12 });
    const plan = await take(checker, chain);
    expect(plan.findings.map((f) => [f.code, f.detail.seq, f.detail.reason])).toEqual([
      ['MRV_F_KEY_REVOKED', 9, 'expired'],
      ['MRV_F_KEY_REVOKED', 10, 'expired'],
    ]);
    expect(plan.archive.map((b) => b.verdict)).toEqual([...Array(8).fill('verified'), 'failed', 'failed']);
    expect(plan.rows.map((r) => r.quality)).toEqual([...Array(8).fill('good'), 'uncertain', 'uncertain']);

    // The new key revoked at T0 + 7.5 s (stolen): its batch 8 (sent T0 + 8 s) is a finding, 6 and 7 are not.
    revokeGatewayKey({
      unitId: 'U1',
      gatewayId: 'gw1',
      keyId: rotated.keyId,
      outDir: dir,
      at: T0 + 7_500,
      reason: 'stolen',
    });
    await store.stop();
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    const again = await take(
      new IntegrityChecker({ keys: loadKeyRegistry(dir), maxClockSkewMs: 1e12 }),
      chain.slice(0, 8),
    );
    expect(again.findings.map((f) => [f.code, f.detail.seq, f.detail.reason, f.severity])).toEqual([
      ['MRV_F_KEY_REVOKED', 8, 'revoked', 'critical'],
    ]);
    expect(again.findings[0]?.message.en).toMatch(/revoked at 2026-03-01T00:00:07\.500Z/);
    // Offline, the same decision: mrv verify over the exported batches.
    const exported = chain.slice(0, 8).map((b) => {
      const { sig, ...unsigned } = b;
      return { unitId: 'U1', gatewayId: 'gw1', seq: b.seq, canonical: canonicalJson(unsigned), sig };
    });
    const offline = checkChains(exported, loadKeyRegistry(dir));
    expect(offline.problems.map((p) => [p.seq, p.code])).toEqual([[8, 'MRV_F_KEY_REVOKED']]);
    expect(offline.text).toMatch(/revoked at 2026-03-01T00:00:07\.500Z/);
  });

  it('the demo adopts its own key made before keys named their unit', () => {
    const a = generateGatewayKey({ unitId: 'U1', gatewayId: 'gw1', outDir: path.join(dir, 'keys') });
    const [entry] = JSON.parse(readFileSync(a.registryFile, 'utf8'));
    const { unitId: _u, ...legacy } = entry;
    writeFileSync(a.registryFile, JSON.stringify(legacy));
    const { keys } = demoIntegrity(dir, 'U1', 'gw1');
    expect(keys.keysOf('U1', 'gw1').map((k) => k.keyId)).toEqual([a.keyId]);
  });

  it('refuses a registry entry without a unit, saying how to fix it', () => {
    const a = generateGatewayKey({ unitId: 'U1', gatewayId: 'gw1', outDir: dir });
    const [entry] = JSON.parse(readFileSync(a.registryFile, 'utf8'));
    const { unitId: _u, ...noUnit } = entry;
    writeFileSync(a.registryFile, JSON.stringify(noUnit));
    expect(() => loadKeyRegistry(dir)).toThrow(
      /names no unit.*mrv keygen --unit UNIT_ID --gateway gw1.*add "unitId": "UNIT_ID" to the \.pub\.json/,
    );
  });
});

/** One gateway's chain of `n` batches (U1/gw1, sent at T0 + seq s), batch `seq` signed with `keyOf(seq)`. */
function chainSignedBy(n: number, keyOf: (seq: number) => KeyObject): Batch[] {
  const out: Batch[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const ts = new Date(T0 + seq * 1000).toISOString();
    const b = signBatch(
      {
        v: 1,
        unitId: 'U1',
        gatewayId: 'gw1',
        seq,
        prevHash: prev,
        sentAt: ts,
        readings: [{ point: 'p1', ts, rxTs: ts, value: `${seq * 10}`, quality: 'good' }],
      },
      keyOf(seq),
    );
    prev = batchHash(b);
    out.push(b);
  }
  return out;
}
