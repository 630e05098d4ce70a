// The contract of the evidence confirmations store (server/state/evidence-confirmations.ts), run
// against SQLite files and a real PostgreSQL (evidence-confirmations.test.ts). Each test gets a fresh
// database migrated by openStateDb (0001 and 0003_evidence_confirmations).
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MrvError } from '../../core/errors.ts';
import { receiptBytes } from '../../evidence/confirmation-receipt.ts';
import {
  ConfirmationStore,
  type ConfirmInput,
  MAX_CONFIRMATION_COMMENT,
} from '../../server/state/evidence-confirmations.ts';
import { StateStore } from '../../server/state/state-store.ts';
import type { FreshTarget } from './state-contract.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const plant = { id: 'account:ent-a', role: 'enterprise' as const };
const reg = { id: 'account:reg', role: 'regulator' as const };
const sha = (t: string) => createHash('sha256').update(t, 'utf8').digest('hex');

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof MrvError) return err.code;
    throw err;
  }
  return 'no error';
}

/** A confirmation of a fake package (the store stores text; the routes test real packages). */
function input(unitId: string, month: string, body: string, extra: Partial<ConfirmInput> = {}): ConfirmInput {
  return {
    unitId,
    month,
    packageJson: JSON.stringify({ kind: 'monthly-evidence', unitId, month, body }),
    packageKeyId: 'k1',
    contentStatus: 'complete',
    actor: plant,
    actorName: '甲厂 计量员',
    sign: (bytes) => sign(null, bytes, privateKey).toString('base64'),
    ...extra,
  };
}

/** Registers the contract for one engine. */
export function describeConfirmationContract(name: string, fresh: FreshTarget): void {
  describe(`confirmations store contract: ${name}`, () => {
    let cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.reverse()) await c();
      cleanups = [];
    });
    let t = Date.parse('2026-12-02T01:00:00.000Z');
    const open = async () => {
      const { target, cleanup } = await fresh();
      const s = await StateStore.open(target);
      cleanups.push(cleanup, () => s.close());
      return { state: s, c: new ConfirmationStore(s.stateDb, { now: () => (t += 1000) }), target };
    };

    it('version 1 freezes the bytes given, its receipt verifies, the audit log records it', async () => {
      const { state, c } = await open();
      const i = input('UA', '2026-11', 'first');
      const v1 = await c.confirm({ ...i, comment: '  gaps on 11-14: meter swap  ' });
      expect(v1.version).toBe(1);
      expect(v1.supersedes).toBeNull();
      expect(v1.latest).toBe(true);
      expect(v1.packageSha256).toBe(sha(i.packageJson));
      expect(v1.comment).toBe('gaps on 11-14: meter swap');
      expect(await c.frozenPackage('UA', '2026-11', 1)).toBe(i.packageJson);
      expect(v1.receipt).toMatchObject({
        kind: 'evidence-confirmation',
        unitId: 'UA',
        month: '2026-11',
        version: 1,
        packageSha256: sha(i.packageJson),
        supersedes: null,
        confirmedBy: 'account:ent-a',
        commentSha256: sha('gaps on 11-14: meter swap'),
      });
      expect(verify(null, receiptBytes(v1.receipt), publicKey, Buffer.from(v1.signature, 'base64'))).toBe(
        true,
      );
      // A receipt with another digest does not verify with that signature.
      const forged = { ...v1.receipt, packageSha256: sha('other') };
      expect(verify(null, receiptBytes(forged), publicKey, Buffer.from(v1.signature, 'base64'))).toBe(false);
      const audit = await state.listAudit({ targetKind: 'evidence' });
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        actor: 'account:ent-a',
        actorRole: 'enterprise',
        action: 'evidence.confirm',
        targetId: 'UA/2026-11/v1',
        unitId: 'UA',
        detail: { version: 1, packageSha256: sha(i.packageJson), supersedesVersion: null },
      });
      expect(JSON.stringify(audit[0]?.detail)).not.toContain('meter swap');
    });

    it('a correction is version 2 citing version 1’s digest; both stay, frozen; only the latest is reviewed, once', async () => {
      const { state, c, target } = await open();
      const i1 = input('UA', '2026-11', 'first');
      const i2 = input('UA', '2026-11', 'corrected');
      const v1 = await c.confirm(i1);
      const v2 = await c.confirm({ ...i2, comment: 'late tickets arrived' });
      expect(v2.version).toBe(2);
      expect(v2.supersedes).toEqual({ version: 1, sha256: v1.packageSha256 });
      expect(v2.receipt.supersedes).toEqual({ version: 1, sha256: sha(i1.packageJson) });
      const listed = await c.versions('UA', '2026-11');
      expect(listed.map((v) => [v.version, v.latest, v.packageSha256])).toEqual([
        [1, false, sha(i1.packageJson)],
        [2, true, sha(i2.packageJson)],
      ]);
      expect(await c.frozenPackage('UA', '2026-11', 1)).toBe(i1.packageJson);
      expect(await c.frozenPackage('UA', '2026-11', 2)).toBe(i2.packageJson);
      expect(await c.frozenPackage('UA', '2026-11', 3)).toBeUndefined();

      const review = { unitId: 'UA', month: '2026-11', actor: reg, actorName: '省厅 审核员' };
      expect(await code(c.review({ ...review, version: 1 }))).toBe('MRV_E_CONFIRMATION');
      expect(await code(c.review({ ...review, version: 3 }))).toBe('MRV_E_NOT_FOUND');
      expect(await code(c.review({ ...review, month: '2026-10', version: 1 }))).toBe('MRV_E_NOT_FOUND');
      const r = await c.review({ ...review, version: 2, comment: '已核 checked' });
      expect(r.review).toMatchObject({ by: 'account:reg', name: '省厅 审核员', comment: '已核 checked' });
      expect(await code(c.review({ ...review, version: 2 }))).toBe('MRV_E_CONFIRMATION');
      // The review changes nothing the receipt signed.
      expect(r.receipt).toEqual(v2.receipt);
      expect(r.signature).toBe(v2.signature);

      const audit = await state.listAudit({ targetKind: 'evidence' });
      expect(audit.map((a) => [a.action, a.targetId])).toEqual([
        ['evidence.confirm', 'UA/2026-11/v1'],
        ['evidence.confirm', 'UA/2026-11/v2'],
        ['evidence.review', 'UA/2026-11/v2'],
      ]);

      // Reopened (the migration does not run twice), the versions are still there.
      const again = await StateStore.open(target);
      cleanups.push(() => again.close());
      const c2 = new ConfirmationStore(again.stateDb);
      expect((await c2.versions('UA', '2026-11')).map((v) => v.version)).toEqual([1, 2]);
      expect((await c2.version('UA', '2026-11', 2))?.review?.by).toBe('account:reg');
    });

    it('months(): the latest version and first confirmation per month, one unit only', async () => {
      const { c } = await open();
      await c.confirm(input('UA', '2026-09', 'a'));
      await c.confirm(input('UA', '2026-10', 'b'));
      await c.confirm(input('UA', '2026-10', 'c'));
      await c.confirm(input('UB', '2026-10', 'other unit'));
      const m = await c.months('UA', '2026-09', '2026-11');
      expect([...m.keys()]).toEqual(['2026-09', '2026-10']);
      expect(m.get('2026-10')).toMatchObject({ latestVersion: 2, versions: 2 });
      expect(m.get('2026-10')?.firstConfirmedAt).toBe((await c.version('UA', '2026-10', 1))?.confirmedAt);
      expect((await c.months('UA', '2026-10', '2026-10')).size).toBe(1);
      expect((await c.versions('UB', '2026-10')).map((v) => v.version)).toEqual([1]);
      expect(await c.versions('UC', '2026-10')).toEqual([]);
    });

    it('bad input is refused and stores nothing', async () => {
      const { c } = await open();
      const long = 'x'.repeat(MAX_CONFIRMATION_COMMENT + 1);
      expect(await code(c.confirm({ ...input('UA', '2026-11', 'a'), comment: long }))).toBe(
        'MRV_E_BAD_REQUEST',
      );
      expect(await c.versions('UA', '2026-11')).toEqual([]);
      await c.confirm(input('UA', '2026-11', 'a'));
      expect(
        await code(
          c.review({ unitId: 'UA', month: '2026-11', version: 1, actor: reg, actorName: 'r', comment: long }),
        ),
      ).toBe('MRV_E_BAD_REQUEST');
      expect((await c.version('UA', '2026-11', 1))?.review).toBeUndefined();
    });

    it('confirmations at once: versions stay 1..n without duplicates; a loser gets 409, never a 500', async () => {
      const { c } = await open();
      const results = await Promise.all(
        [0, 1, 2, 3].map((k) =>
          c.confirm(input('UA', '2026-11', `copy ${k}`)).then(
            (v) => v.version,
            (e) => (e instanceof MrvError ? e.code : String(e)),
          ),
        ),
      );
      const ok = results.filter((r): r is number => typeof r === 'number');
      expect(results.filter((r) => typeof r !== 'number').every((r) => r === 'MRV_E_CONFIRMATION')).toBe(
        true,
      );
      expect(ok.length).toBeGreaterThan(0);
      expect(new Set(ok).size).toBe(ok.length);
      const stored = (await c.versions('UA', '2026-11')).map((v) => v.version);
      expect(stored).toEqual(ok.sort((a, b) => a - b));
      expect(stored).toEqual(stored.map((_, i) => i + 1));
      // Each stored version cites the one before it.
      const vs = await c.versions('UA', '2026-11');
      for (let k = 1; k < vs.length; k++) expect(vs[k]?.supersedes?.sha256).toBe(vs[k - 1]?.packageSha256);
    });
  });
}
