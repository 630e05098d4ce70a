// The contract of the meter ledger (server/state/meter-ledger.ts), run against every engine the state
// database supports: SQLite and a real PostgreSQL (ledger-store.test.ts). Each test gets a fresh database.
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { MrvError } from '../../core/errors.ts';
import { SiteConfig } from '../../core/schema/site.ts';
import { type CertificateInput, MAX_SCAN_BYTES, MeterLedger } from '../../server/state/meter-ledger.ts';
import { StateStore } from '../../server/state/state-store.ts';

/** A fresh database: its target (file or URL) and how to throw it away. */
export type FreshTarget = () => Promise<{ target: string; cleanup: () => Promise<void> }>;

/** Bytes that are a PDF by their magic number (`%PDF-`), made here. */
export function pdfBytes(text = 'certificate'): Buffer {
  return Buffer.from(
    `%PDF-1.4\n% ${text}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n`,
  );
}
/** The 8-byte PNG signature and a little more. */
export function pngBytes(): Buffer {
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.from('0000000d49484452', 'hex')]);
}

/** A site file of unit `UL` with two meters, one certificate each (one expired on 2026-03-10). */
export function ledgerSite(unitId = 'UL'): SiteConfig {
  return SiteConfig.parse({
    version: 1,
    unit: { id: unitId, name: '台账测试 Ledger test', industry: 'aluminium', province: '内蒙古' },
    gateway: { id: `gw-${unitId}`, mqtt: { url: 'mqtt://127.0.0.1:1883' } },
    meters: [
      {
        id: 'ladle-1',
        name: 'ladle scale',
        kind: 'ladle-scale',
        serial: 'LS-0001',
        calibrations: [
          {
            certificate: 'L-1',
            kind: 'verification',
            date: '2025-03-11',
            validUntil: '2026-03-10',
            body: '示范市计量所',
            regulation: 'JJG 539-2016',
            result: '合格',
          },
        ],
      },
      {
        id: 'power-1',
        name: 'DC energy meter',
        kind: 'electricity-meter',
        calibrations: [
          {
            certificate: 'P-1',
            kind: 'calibration',
            date: '2025-06-01',
            validUntil: '2027-05-31',
            body: '示范市计量所',
            result: '合格',
          },
        ],
      },
    ],
    devices: [
      {
        id: 'd1',
        driver: 'modbus-tcp',
        points: [{ id: 'ladle.net', meter: 'ladle-1', unit: 't', type: 'uint32' }],
      },
    ],
  });
}

const alice = { id: 'account:alice', role: 'enterprise' as const };
const NOW = Date.parse('2026-03-20T04:00:00.000Z');

/** A renewal of ladle-1: 2026-03-11 ..= 2027-03-10, with a PDF scan. */
export function renewal(extra: Partial<CertificateInput> = {}): CertificateInput {
  return {
    kind: 'verification',
    certificate: 'L-2',
    body: '示范市计量所',
    regulation: 'JJG 539-2016',
    date: '2026-03-11',
    validUntil: '2027-03-10',
    result: '合格',
    scan: { fileName: '检定证书 L-2.pdf', contentType: 'application/pdf', data: pdfBytes('L-2') },
    ...extra,
  };
}

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
export function describeLedgerContract(name: string, fresh: FreshTarget): void {
  describe(`meter ledger contract: ${name}`, () => {
    let state: StateStore;
    let ledger: MeterLedger;
    let cleanup: (() => Promise<void>) | undefined;

    async function open(): Promise<MeterLedger> {
      const t = await fresh();
      cleanup = t.cleanup;
      state = await StateStore.open(t.target);
      ledger = new MeterLedger(state.database, { today: () => NOW });
      return ledger;
    }

    afterEach(async () => {
      await state?.close();
      await cleanup?.();
    });

    it('seeds meters and certificates from site files once, and a second seed changes nothing', async () => {
      await open();
      expect(await ledger.seedFromSites([ledgerSite()])).toEqual({ meters: 2, certificates: 2 });
      expect(await ledger.seedFromSites([ledgerSite()])).toEqual({ meters: 0, certificates: 0 });
      const meters = await ledger.meters('UL');
      expect(meters.map((m) => [m.id, m.kind, m.serial, typeof m.seededFromSiteAt])).toEqual([
        ['ladle-1', 'ladle-scale', 'LS-0001', 'string'],
        ['power-1', 'electricity-meter', undefined, 'string'],
      ]);
      const certs = await ledger.certificates('UL');
      expect(certs.map((c) => [c.meterId, c.certificate, c.source, c.state, c.createdBy])).toEqual([
        ['ladle-1', 'L-1', 'site', 'current', 'server:site-file'],
        ['power-1', 'P-1', 'site', 'current', 'server:site-file'],
      ]);
      expect(await ledger.meters('OTHER')).toEqual([]);
      const audit = await state.listAudit({ unitIds: ['UL'] });
      expect(audit.map((a) => [a.action, a.targetId, a.detail.certificates])).toEqual([
        ['meter.seed', 'UL/ladle-1', ['L-1']],
        ['meter.seed', 'UL/power-1', ['P-1']],
      ]);
    });

    it('a seed never overwrites the ledger: a changed site file adds only certificates it lacks', async () => {
      await open();
      await ledger.seedFromSites([ledgerSite()]);
      const changed = ledgerSite();
      const ladle = changed.meters[0]!;
      ladle.name = 'renamed in YAML';
      ladle.calibrations[0]!.validUntil = '2030-01-01'; // the ledger keeps its L-1
      ladle.calibrations.push({ ...ladle.calibrations[0]!, certificate: 'L-0', validUntil: '2025-03-10' });
      expect(await ledger.seedFromSites([changed])).toEqual({ meters: 0, certificates: 1 });
      expect((await ledger.meter('UL', 'ladle-1'))?.name).toBe('ladle scale');
      const l1 = (await ledger.certificates('UL', 'ladle-1')).find((c) => c.certificate === 'L-1');
      expect(l1?.validUntil).toBe('2026-03-10');
    });

    it('adds a renewal with its scan; the current certificates are the provider for the evidence', async () => {
      await open();
      await ledger.seedFromSites([ledgerSite()]);
      const c = await ledger.addCertificate('UL', 'ladle-1', renewal(), alice);
      expect(c).toMatchObject({
        certificate: 'L-2',
        source: 'ledger',
        state: 'current',
        createdBy: 'account:alice',
        scan: {
          contentType: 'application/pdf',
          fileName: '检定证书 L-2.pdf',
          sha256: createHash('sha256').update(pdfBytes('L-2')).digest('hex'),
          size: pdfBytes('L-2').length,
        },
      });
      const scan = await ledger.scan('UL', 'ladle-1', c.id);
      expect(scan?.data.equals(pdfBytes('L-2'))).toBe(true);
      expect(await ledger.scan('UL', 'power-1', c.id)).toBeUndefined();
      const current = await ledger.currentCertificates('UL');
      expect(current.get('ladle-1')?.map((x) => [x.certificate, x.validUntil, x.regulation])).toEqual([
        ['L-1', '2026-03-10', 'JJG 539-2016'],
        ['L-2', '2027-03-10', 'JJG 539-2016'],
      ]);
      expect(current.get('power-1')?.map((x) => x.certificate)).toEqual(['P-1']);
      const audit = await state.listAudit({ targetKind: 'meter', targetId: 'UL/ladle-1' });
      expect(audit.map((a) => [a.action, a.actor, a.detail.certificate])).toEqual([
        ['meter.seed', 'server:site-file', undefined],
        ['certificate.renew', 'account:alice', 'L-2'],
      ]);
      expect(audit[1]?.detail.scanSha256).toBe(c.scan?.sha256);
    });

    it('a correction supersedes the row and keeps it in the history; a second correction of it is 409', async () => {
      await open();
      await ledger.seedFromSites([ledgerSite()]);
      const wrong = await ledger.addCertificate(
        'UL',
        'ladle-1',
        renewal({ validUntil: '2026-03-12' }),
        alice,
      );
      const fixed = await ledger.correct(
        'UL',
        'ladle-1',
        wrong.id,
        { reason: '有效期录错 typo in validUntil', certificate: { ...renewal(), scan: undefined } },
        alice,
      );
      expect(fixed).toMatchObject({ supersedes: wrong.id, validUntil: '2027-03-10', state: 'current' });
      // the scan is kept when the correction brings none
      expect(fixed.scan?.sha256).toBe(wrong.scan?.sha256);
      const history = await ledger.certificates('UL', 'ladle-1');
      expect(history.map((c) => [c.certificate, c.validUntil, c.state])).toEqual([
        ['L-1', '2026-03-10', 'current'],
        ['L-2', '2026-03-12', 'superseded'],
        ['L-2', '2027-03-10', 'current'],
      ]);
      expect(history[1]?.supersededBy).toBe(fixed.id);
      expect(
        await code(ledger.correct('UL', 'ladle-1', wrong.id, { reason: 'again', withdraw: true }, alice)),
      ).toBe('MRV_E_LEDGER_CONFLICT');
      const audit = await state.listAudit({ targetKind: 'meter', targetId: 'UL/ladle-1' });
      expect(audit.at(-1)).toMatchObject({
        action: 'certificate.correct',
        actor: 'account:alice',
        detail: {
          supersedes: wrong.id,
          reason: '有效期录错 typo in validUntil',
          before: { validUntil: '2026-03-12' },
          after: { validUntil: '2027-03-10' },
        },
      });
    });

    it('a withdrawal removes a certificate from the current ones, the row stays', async () => {
      await open();
      await ledger.seedFromSites([ledgerSite()]);
      const [p1] = await ledger.certificates('UL', 'power-1');
      const w = await ledger.correct(
        'UL',
        'power-1',
        p1!.id,
        { reason: '证书作废 revoked', withdraw: true },
        alice,
      );
      expect(w).toMatchObject({ state: 'withdrawal', supersedes: p1!.id, certificate: 'P-1' });
      expect(typeof w.revokedAt).toBe('string');
      expect((await ledger.currentCertificates('UL')).get('power-1')).toEqual([]);
      expect((await ledger.certificates('UL', 'power-1')).map((c) => c.state)).toEqual([
        'superseded',
        'withdrawal',
      ]);
      // a withdrawal row is no certificate to correct
      expect(await code(ledger.correct('UL', 'power-1', w.id, { reason: 'x', withdraw: true }, alice))).toBe(
        'MRV_E_LEDGER_CONFLICT',
      );
      // the seed does not bring the withdrawn site certificate back
      expect(await ledger.seedFromSites([ledgerSite()])).toEqual({ meters: 0, certificates: 0 });
      expect((await ledger.currentCertificates('UL')).get('power-1')).toEqual([]);
      expect((await state.listAudit({ targetId: 'UL/power-1' })).at(-1)?.action).toBe('certificate.withdraw');
    });

    it('two corrections of one certificate at once: exactly one wins', async () => {
      await open();
      await ledger.seedFromSites([ledgerSite()]);
      const [l1] = await ledger.certificates('UL', 'ladle-1');
      const results = await Promise.allSettled(
        ['a', 'b', 'c'].map((r) =>
          ledger.correct(
            'UL',
            'ladle-1',
            l1!.id,
            { reason: r, certificate: { ...renewal(), certificate: `L-1${r}` } },
            alice,
          ),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') expect((r.reason as MrvError).code).toBe('MRV_E_LEDGER_CONFLICT');
      expect((await ledger.currentCertificates('UL')).get('ladle-1')).toHaveLength(1);
    });

    it('refuses bad input with catalogue errors and stores nothing', async () => {
      await open();
      await ledger.seedFromSites([ledgerSite()]);
      const before = (await ledger.certificates('UL')).length;
      const cases: [Partial<CertificateInput>, string][] = [
        [{ date: '2026-02-30' }, 'MRV_E_BAD_REQUEST'],
        [{ date: '11/03/2026' }, 'MRV_E_BAD_REQUEST'],
        [{ validUntil: '2026-03-01' }, 'MRV_E_BAD_REQUEST'], // before the date
        [{ validUntil: '2207-03-10' }, 'MRV_E_BAD_REQUEST'], // mistyped year
        [{ date: '2026-03-21' }, 'MRV_E_BAD_REQUEST'], // after today (2026-03-20 UTC+8)
        [{ certificate: '   ' }, 'MRV_E_BAD_REQUEST'],
        [{ kind: 'guess' as 'verification' }, 'MRV_E_BAD_REQUEST'],
        [{ scan: undefined }, 'MRV_E_BAD_REQUEST'],
        [
          { scan: { fileName: 'cert.pdf', contentType: 'application/pdf', data: pngBytes() } },
          'MRV_E_UNSUPPORTED_MEDIA',
        ],
        [
          {
            scan: {
              fileName: 'setup.exe',
              contentType: 'application/x-msdownload',
              data: Buffer.from('MZ\x90\x00'),
            },
          },
          'MRV_E_UNSUPPORTED_MEDIA',
        ],
        [
          { scan: { fileName: 'setup.exe', contentType: 'application/pdf', data: pdfBytes() } },
          'MRV_E_UNSUPPORTED_MEDIA',
        ],
        [
          { scan: { fileName: 'a.pdf', contentType: 'application/pdf', data: Buffer.alloc(0) } },
          'MRV_E_BAD_REQUEST',
        ],
        [
          {
            scan: {
              fileName: 'big.pdf',
              contentType: 'application/pdf',
              data: Buffer.concat([pdfBytes(), Buffer.alloc(MAX_SCAN_BYTES)]),
            },
          },
          'MRV_E_TOO_LARGE',
        ],
      ];
      for (const [extra, expected] of cases)
        expect([extra, await code(ledger.addCertificate('UL', 'ladle-1', renewal(extra), alice))]).toEqual([
          extra,
          expected,
        ]);
      expect(await code(ledger.addCertificate('UL', 'nope', renewal(), alice))).toBe('MRV_E_NOT_FOUND');
      expect(await code(ledger.addCertificate('OTHER', 'ladle-1', renewal(), alice))).toBe('MRV_E_NOT_FOUND');
      // the same number twice on one meter
      expect(await code(ledger.addCertificate('UL', 'ladle-1', renewal({ certificate: 'L-1' }), alice))).toBe(
        'MRV_E_LEDGER_CONFLICT',
      );
      expect(
        await code(ledger.correct('UL', 'ladle-1', 'no-such-id', { reason: 'x', withdraw: true }, alice)),
      ).toBe('MRV_E_NOT_FOUND');
      expect(
        await code(
          ledger.correct(
            'UL',
            'power-1',
            (await ledger.certificates('UL', 'ladle-1'))[0]!.id,
            { reason: 'x', withdraw: true },
            alice,
          ),
        ),
      ).toBe('MRV_E_NOT_FOUND');
      expect(
        await code(
          ledger.correct(
            'UL',
            'ladle-1',
            (await ledger.certificates('UL', 'ladle-1'))[0]!.id,
            { reason: ' ', withdraw: true },
            alice,
          ),
        ),
      ).toBe('MRV_E_BAD_REQUEST');
      expect((await ledger.certificates('UL')).length).toBe(before);
      expect((await state.listAudit({ unitIds: ['UL'] })).map((a) => a.action)).toEqual([
        'meter.seed',
        'meter.seed',
      ]);
    });

    it('a database made before the ledger gets it on open, keeping what it had', async () => {
      const t = await fresh();
      cleanup = t.cleanup;
      const old = await StateStore.open(t.target);
      await old.addAccount(
        {
          username: 'ent-l',
          password: 'a long enough password',
          role: 'enterprise',
          scope: { provinces: [], units: ['UL'] },
        },
        { id: 'cli:test', role: 'cli' },
      );
      // Back to the schema of 0001_state: no ledger (nor later) tables, only 0001 recorded as applied.
      const db = old.database.db;
      for (const table of ['meter_certificates', 'certificate_scans', 'meters', 'confirmations'])
        await sql`drop table ${sql.table(table)}`.execute(db);
      await sql`delete from kysely_migration where name <> '0001_state'`.execute(db);
      await old.close();
      state = await StateStore.open(t.target);
      expect((await state.account('ent-l'))?.role).toBe('enterprise');
      ledger = new MeterLedger(state.database, { today: () => NOW });
      expect(await ledger.seedFromSites([ledgerSite()])).toEqual({ meters: 2, certificates: 2 });
    });

    it('registers a meter no site file describes; the provider answers it with its certificates', async () => {
      await open();
      const m = await ledger.addMeter(
        'US',
        { id: 'ws-9', name: '汽车衡 weighbridge', kind: 'weighbridge', serial: ' W-9 ' },
        alice,
      );
      expect(m).toMatchObject({ unitId: 'US', id: 'ws-9', serial: 'W-9' });
      expect(m.seededFromSiteAt).toBeUndefined();
      expect(
        await code(ledger.addMeter('US', { id: 'ws-9', name: 'again', kind: 'weighbridge' }, alice)),
      ).toBe('MRV_E_LEDGER_CONFLICT');
      for (const bad of [
        { id: '-x', name: 'n', kind: 'k' },
        { id: 'a/b', name: 'n', kind: 'k' },
        { id: 'ok', name: ' ', kind: 'k' },
        { id: 'ok', name: 'n', kind: 'k'.repeat(201) },
      ])
        expect(await code(ledger.addMeter('US', bad, alice))).toBe('MRV_E_BAD_REQUEST');
      expect(await ledger.meterMetas('US')).toEqual([
        { id: 'ws-9', name: '汽车衡 weighbridge', kind: 'weighbridge', serial: 'W-9', calibrations: [] },
      ]);
      await ledger.addCertificate('US', 'ws-9', renewal({ certificate: 'W-1' }), alice);
      expect((await ledger.meterMetas('US'))[0]?.calibrations.map((c) => c.certificate)).toEqual(['W-1']);
      expect((await state.listAudit({ unitIds: ['US'] })).map((a) => [a.action, a.actor])).toEqual([
        ['meter.add', 'account:alice'],
        ['certificate.add', 'account:alice'],
      ]);
      // a site file seeding the same meter later leaves the registered one as it is
      const s = ledgerSite('US');
      s.meters[0]!.id = 'ws-9';
      expect(await ledger.seedFromSites([s])).toMatchObject({ meters: 1 });
      expect((await ledger.meter('US', 'ws-9'))?.name).toBe('汽车衡 weighbridge');
    });

    it('two seeds at once insert every row once', async () => {
      await open();
      const other = new MeterLedger(state.database);
      await Promise.all([ledger.seedFromSites([ledgerSite()]), other.seedFromSites([ledgerSite()])]);
      expect((await ledger.meters('UL')).length).toBe(2);
      expect((await ledger.certificates('UL')).map((c) => c.certificate)).toEqual(['L-1', 'P-1']);
    });
  });
}
