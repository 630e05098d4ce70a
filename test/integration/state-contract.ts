// The contract of the state store (server/state/state-store.ts), run against every engine it supports:
// SQLite (state-store.test.ts) and a real PostgreSQL (the same file). Each test gets a fresh database.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MrvError } from '../../core/errors.ts';
import type { Finding } from '../../core/schema/finding.ts';
import { StateStore } from '../../server/state/state-store.ts';
import type { Principal } from '../../server/tokens.ts';

/** A fresh database: its target (file or URL) and how to throw it away. */
export type FreshTarget = () => Promise<{ target: string; cleanup: () => Promise<void> }>;

const cli = { id: 'cli:test', role: 'cli' as const };
const PASSWORD = 'correct horse battery staple';

export function finding(id: string, unitId: string, extra: Partial<Finding> = {}): Finding {
  return {
    id,
    unitId,
    source: 'integrity',
    code: 'MRV_F_SEQ_GAP',
    class: 'delivery',
    severity: 'error',
    message: { zh: '序号缺口', en: 'seq gap' },
    detail: {},
    ts: '2026-11-03T00:00:00.000Z',
    at: '2026-11-03T00:00:01.000Z',
    ...extra,
  } as Finding;
}

const enterpriseA: Principal = {
  tokenId: 'account:a',
  name: 'A',
  role: 'enterprise',
  scope: { provinces: [], units: ['UA'] },
  username: 'ent-a',
};
const regulator: Principal = {
  tokenId: 'account:r',
  name: 'R',
  role: 'regulator',
  scope: { provinces: ['内蒙古'], units: [] },
  username: 'reg',
};
const province = async (unitId: string) => (unitId === 'UA' || unitId === 'UB' ? '内蒙古' : '山东');

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof MrvError) return err.code;
    throw err;
  }
  return 'no error';
}

/** Registers the contract for one engine. */
export function describeStateContract(name: string, fresh: FreshTarget): void {
  describe(`state store contract: ${name}`, () => {
    let cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.reverse()) await c();
      cleanups = [];
    });
    const open = async (opts: ConstructorParameters<typeof StateStore>[1] = {}) => {
      const { target, cleanup } = await fresh();
      const s = await StateStore.open(target, opts);
      cleanups.push(cleanup, () => s.close());
      return { s, target };
    };

    it('migrates once: opening the same database again keeps its accounts', async () => {
      const { s, target } = await open();
      await s.addAccount(
        { username: 'alice', password: PASSWORD, role: 'admin', scope: { provinces: [], units: [] } },
        cli,
      );
      const again = await StateStore.open(target);
      cleanups.push(() => again.close());
      expect((await again.listAccounts()).map((a) => a.username)).toEqual(['alice']);
    });

    it('accounts: argon2id hash, never the password; duplicates refused; wrong and disabled refused', async () => {
      const { s } = await open();
      const a = await s.addAccount(
        { username: 'bob', password: PASSWORD, role: 'enterprise', scope: { provinces: [], units: ['UA'] } },
        cli,
      );
      expect(a).not.toHaveProperty('password_hash');
      expect(a.scope).toEqual({ provinces: [], units: ['UA'] });
      expect(
        await code(
          s.addAccount(
            { username: 'bob', password: PASSWORD, role: 'admin', scope: { provinces: [], units: [] } },
            cli,
          ),
        ),
      ).toBe('MRV_E_ACCOUNT_EXISTS');
      expect(
        await code(
          s.addAccount(
            { username: 'short', password: 'x', role: 'admin', scope: { provinces: [], units: [] } },
            cli,
          ),
        ),
      ).toBe('MRV_E_BAD_REQUEST');
      expect((await s.checkCredentials('bob', PASSWORD))?.username).toBe('bob');
      expect(await s.checkCredentials('bob', `${PASSWORD}!`)).toBeUndefined();
      expect(await s.checkCredentials('nobody', PASSWORD)).toBeUndefined();
      await s.setPassword('bob', 'a new long password 2', cli);
      expect(await s.checkCredentials('bob', PASSWORD)).toBeUndefined();
      expect((await s.checkCredentials('bob', 'a new long password 2'))?.username).toBe('bob');
      await s.disableAccount('bob', cli);
      expect(await s.checkCredentials('bob', 'a new long password 2')).toBeUndefined();
      expect((await s.account('bob'))?.disabledAt).toMatch(/^\d{4}-/);
      expect(await code(s.disableAccount('nobody', cli))).toBe('MRV_E_NOT_FOUND');
      const audit = await s.listAudit({ targetKind: 'account', targetId: 'bob' });
      expect(audit.map((e) => e.action)).toEqual(['account.add', 'account.password', 'account.disable']);
      expect(audit.every((e) => e.actor === 'cli:test')).toBe(true);
    });

    it('sessions: only the hash is kept; expiry, idle timeout, revoke, and disable ends them', async () => {
      let now = Date.parse('2026-12-01T00:00:00Z');
      const { s } = await open({ now: () => now, sessionTtlMs: 10_000, sessionIdleMs: 4_000 });
      const acc = await s.addAccount(
        { username: 'carol', password: PASSWORD, role: 'admin', scope: { provinces: [], units: [] } },
        cli,
      );
      const subject = `account:${acc.id}`;
      const one = await s.create(subject);
      expect(one.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await s.lookup(one.id))?.tokenId).toBe(subject);
      now += 3_000;
      expect(await s.lookup(one.id)).toBeDefined(); // refreshed the idle timer
      now += 3_000;
      expect(await s.lookup(one.id)).toBeDefined();
      now += 4_500; // past the absolute lifetime
      expect(await s.lookup(one.id)).toBeUndefined();
      const two = await s.create(subject);
      now += 4_000; // idle
      expect(await s.lookup(two.id)).toBeUndefined();
      const three = await s.create(subject);
      expect(await s.revoke(three.id)).toBe(true);
      expect(await s.revoke(three.id)).toBe(false);
      expect(await s.lookup(three.id)).toBeUndefined();
      const four = await s.create(subject);
      const five = await s.create('0badc0de');
      await s.disableAccount('carol', cli);
      expect(await s.lookup(four.id)).toBeUndefined();
      expect(await s.lookup(five.id)).toBeDefined();
      expect(await s.revokeToken('0badc0de')).toBe(1);
      expect(await s.lookup(five.id)).toBeUndefined();
      expect(await s.lookup('not a session id')).toBeUndefined();
    });

    it('findings workflow: open → acknowledged → explained (attachment with SHA-256) → closed → reopened, audited', async () => {
      const { s } = await open();
      const f = finding('f-1', 'UA');
      const tracked = await s.trackFindings([f, finding('f-2', 'UC')]);
      expect(tracked.get('f-1')?.state).toBe('open');
      expect(await code(s.act('f-1', 'close', regulator, province))).toBe('MRV_E_FINDING_TRANSITION');
      expect(await code(s.act('f-1', 'acknowledge', regulator, province))).toBe('MRV_E_FORBIDDEN');
      expect((await s.act('f-1', 'acknowledge', enterpriseA, province)).state).toBe('acknowledged');
      expect(await code(s.act('f-1', 'acknowledge', enterpriseA, province))).toBe('MRV_E_FINDING_TRANSITION');
      expect(await code(s.act('f-1', 'explain', enterpriseA, province, { text: '  ' }))).toBe(
        'MRV_E_BAD_REQUEST',
      );
      const pdf = Buffer.from('%PDF-1.4\n% calibration certificate\n');
      expect(
        await code(
          s.act('f-1', 'explain', enterpriseA, province, {
            text: 'x',
            attachment: {
              fileName: 'a.pdf',
              contentType: 'application/pdf',
              data: Buffer.from('MZ not a pdf'),
            },
          }),
        ),
      ).toBe('MRV_E_UNSUPPORTED_MEDIA');
      const explained = await s.act('f-1', 'explain', enterpriseA, province, {
        text: '网关断电，已恢复 / gateway power loss, restored',
        attachment: { fileName: '检定证书.pdf', contentType: 'application/pdf', data: pdf },
      });
      expect(explained.state).toBe('explained');
      expect(explained.explanation).toContain('gateway power loss');
      expect(explained.attachment?.sha256).toBe(createHash('sha256').update(pdf).digest('hex'));
      expect((await s.attachment('f-1', explained.attachment!.sha256))?.data.equals(pdf)).toBe(true);
      expect((await s.act('f-1', 'close', regulator, province, { text: 'ok' })).state).toBe('closed');
      const reopened = await s.act('f-1', 'reopen', regulator, province, { text: 'certificate expired' });
      expect(reopened.state).toBe('open');
      expect(reopened.reopenCount).toBe(1);
      // Enterprise of UA cannot see UC's finding: answered as unknown.
      expect(await code(s.act('f-2', 'acknowledge', enterpriseA, province))).toBe('MRV_E_NOT_FOUND');
      // The regulator of 内蒙古 cannot see a 山东 unit's finding either.
      expect(await code(s.act('f-2', 'reopen', regulator, province))).toBe('MRV_E_NOT_FOUND');
      expect(await code(s.act('nope', 'acknowledge', enterpriseA, province))).toBe('MRV_E_NOT_FOUND');
      const history = await s.listAudit({ targetKind: 'finding', targetId: 'f-1' });
      expect(history.map((e) => [e.action, e.actor, e.detail.from, e.detail.to])).toEqual([
        ['finding.acknowledge', 'account:ent-a', 'open', 'acknowledged'],
        ['finding.explain', 'account:ent-a', 'acknowledged', 'explained'],
        ['finding.close', 'account:reg', 'explained', 'closed'],
        ['finding.reopen', 'account:reg', 'closed', 'open'],
      ]);
      expect(history.every((e) => e.unitId === 'UA' && /^\d{4}-\d\d-\d\dT/.test(e.at))).toBe(true);
    });

    it('a producer-resolved finding shows resolved, takes no action and is not counted open', async () => {
      const { s } = await open();
      await s.trackFindings([finding('g-1', 'UA'), finding('g-2', 'UA'), finding('g-3', 'UB')]);
      expect(Object.fromEntries(await s.openCounts(['UA', 'UB', 'UX']))).toEqual({ UA: 2, UB: 1 });
      const resolved = finding('g-1', 'UA', {
        state: 'resolved',
        resolvedAt: '2026-11-03T01:00:00.000Z',
        resolution: {
          by: 'late-batches',
          seqs: [[3, 4]],
          message: { zh: '补齐', en: 'arrived' },
          detail: {},
        },
      });
      expect((await s.trackFindings([resolved])).get('g-1')?.state).toBe('resolved');
      expect(await code(s.act('g-1', 'acknowledge', enterpriseA, province))).toBe('MRV_E_FINDING_TRANSITION');
      // Listing it again without the producer's state does not un-resolve it.
      expect((await s.trackFindings([finding('g-1', 'UA')])).get('g-1')?.state).toBe('resolved');
      await s.act('g-2', 'explain', enterpriseA, province, { text: 'why' });
      await s.act('g-2', 'close', regulator, province);
      expect(Object.fromEntries(await s.openCounts(['UA', 'UB']))).toEqual({ UB: 1 });
    });

    it('two reviewers at once: exactly one close wins, the other gets a 409', async () => {
      const { s } = await open();
      await s.trackFindings([finding('h-1', 'UA')]);
      await s.act('h-1', 'explain', enterpriseA, province, { text: 'why' });
      const results = await Promise.all([
        code(s.act('h-1', 'close', regulator, province)),
        code(s.act('h-1', 'close', regulator, province)),
      ]);
      expect(results.sort()).toEqual(['MRV_E_FINDING_TRANSITION', 'no error']);
    });
  });
}
