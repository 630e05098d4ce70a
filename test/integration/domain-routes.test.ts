/**
 * The carbon-accounting routes (meters, findings, monthly evidence) through `inject()` against the
 * real embedded store (SqliteStore ':memory:'), with a site file completing the catalogue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { StoredReading } from '../../collector/store.ts';
import type { EvidencePackage } from '../../core/domain/evidence.ts';
import { SiteConfig } from '../../core/schema/site.ts';
import type { GatewayMeta } from '../../core/schema/wire.ts';
import { ManualClock } from '../../core/time.ts';
import { loadEvidenceKey, trustedOf, verifyEvidenceSignature } from '../../evidence/service.ts';
import { buildServer } from '../../server/app.ts';

const UNIT = 'U-AL-9';
const DAY = 86_400_000;
const cst = (m: number, d: number, h = 12) => Date.UTC(2026, m - 1, d, h - 8);
const cert = (certificate: string, date: string, validUntil: string) => ({
  certificate,
  kind: 'verification',
  date,
  validUntil,
  body: 'Demo',
  result: '合格',
});
const site = SiteConfig.parse({
  version: 1,
  unit: { id: UNIT, name: '测试铝厂 Test smelter', industry: 'aluminium', province: '内蒙古' },
  gateway: { id: 'gw1', mqtt: { url: 'mqtt://127.0.0.1:1883' } },
  // The site judges the anode ratio from 50 t Al (the pack: 100 t); the month here makes 81 t.
  rules: { 'AL-SV-001': { minDenominator: '50' } },
  meters: [
    {
      id: 'ladle-1',
      name: 'ladle scale',
      kind: 'ladle-scale',
      calibrations: [cert('L-1', '2025-03-11', '2026-03-10')],
    },
    {
      id: 'anode-1',
      name: 'anode scale',
      kind: 'crane-scale',
      calibrations: [cert('A-1', '2025-02-15', '2026-02-14')],
    },
  ],
  devices: [
    {
      id: 'stations',
      driver: 'modbus-tcp',
      pollIntervalMs: DAY,
      points: [
        {
          id: 'ladle.net',
          meter: 'ladle-1',
          unit: 't',
          parameter: 'aluminium.liquid_output',
          aggregation: 'events',
          ticketPoint: 'ladle.ticket_no',
          type: 'uint32',
          scale: '0.001',
        },
        { id: 'ladle.ticket_no', meter: 'ladle-1', unit: 'id', type: 'uint32' },
        {
          id: 'anode.set_total',
          meter: 'anode-1',
          unit: 't',
          parameter: 'aluminium.anode_consumption',
          aggregation: 'totalizer',
          maxRate: '1', // t/h: a daily reading may have counted 24 t (so the Feb 10 reset is a reset)
          type: 'uint32',
          scale: '0.001',
        },
        {
          id: 'anode.butt_total',
          meter: 'anode-1',
          unit: 't',
          parameter: 'aluminium.anode_consumption',
          aggregation: 'totalizer',
          sign: '-',
          maxRate: '1',
          type: 'uint32',
          scale: '0.001',
        },
      ],
    },
  ],
});
const meta: GatewayMeta = {
  v: 1,
  gatewayId: 'gw1',
  unit: site.unit,
  points: site.devices.flatMap((d) =>
    d.points.map((p) => ({ id: p.id, device: d.id, unit: String(p.unit) })),
  ),
  meters: site.meters,
  configHash: '0'.repeat(64),
};
const reading = (point: string, ts: number, value: string, meter?: string): StoredReading => ({
  unitId: UNIT,
  gatewayId: 'gw1',
  device: 'stations',
  point,
  ...(meter ? { meter } : {}),
  ts,
  rxTs: ts,
  value,
  quality: 'good',
  seq: 1,
});

describe('domain routes', () => {
  let store: SqliteStore;
  let app: FastifyInstance;
  let dir: string;
  const clock = new ManualClock(cst(3, 2, 9));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mrv-domain-'));
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    await store.writeMeta(UNIT, meta);
    const rs: StoredReading[] = [];
    for (let d = 0; d <= 28; d++) {
      const ts = d === 0 ? cst(1, 31) : cst(2, d);
      // tickets 100+d, 3 t each (ticket 100 on Jan 31 carried over into Feb 1)
      const t = d <= 1 ? 100 : 100 + d;
      rs.push(reading('ladle.ticket_no', ts, String(t), 'ladle-1'), reading('ladle.net', ts, '3', 'ladle-1'));
      // blocks set +1.3 t/day, but the counter was reset on Feb 10 (back to 0, then +1.3/day)
      const set = d < 10 ? 500 + 1.3 * d : 1.3 * (d - 9);
      rs.push(
        reading('anode.set_total', ts, set.toFixed(1), 'anode-1'),
        reading('anode.butt_total', ts, (100 + 0.3 * d).toFixed(1), 'anode-1'),
      );
    }
    await store.writeReadings(rs);
    app = buildServer({
      store,
      live: new LiveHub(),
      clock,
      domain: { sites: [site], keyFile: join(dir, 'key.pem'), generator: 'carbon-mrv test' },
    });
  });

  afterAll(async () => {
    await app?.close();
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists meters with their calibration status', async () => {
    const res = await app.inject(`/api/v1/units/${UNIT}/meters?at=2026-02-20T00:00:00%2B08:00`);
    expect(res.statusCode).toBe(200);
    const meters = res.json() as {
      id: string;
      points: string[];
      calibration: { status: string; certificate: string | null };
    }[];
    expect(
      meters.map((m) => [m.id, m.calibration.status, m.calibration.certificate, m.points.length]),
    ).toEqual([
      ['ladle-1', 'due_soon', 'L-1', 2], // 18 days left
      ['anode-1', 'expired', 'A-1', 2],
    ]);
    const later = (await app.inject(`/api/v1/units/${UNIT}/meters?at=2025-01-01T00:00:00Z`)).json() as {
      calibration: { status: string };
    }[];
    expect(later.map((m) => m.calibration.status)).toEqual(['missing', 'missing']);
  });

  it('answers 404 for an unknown unit and 400 for a bad month or window', async () => {
    expect((await app.inject('/api/v1/units/NOPE/meters')).json()).toMatchObject({
      error: { code: 'MRV_E_NOT_FOUND' },
    });
    expect((await app.inject(`/api/v1/units/${UNIT}/evidence/2026-13`)).statusCode).toBe(400);
    const bad = await app.inject(
      `/api/v1/units/${UNIT}/findings?from=2026-03-01T00:00:00Z&to=2026-01-01T00:00:00Z`,
    );
    expect(bad.json()).toMatchObject({ error: { code: 'MRV_E_BAD_REQUEST' } });
  });

  it('computes, stores and serves findings over a window', async () => {
    const res = await app.inject(
      `/api/v1/units/${UNIT}/findings?from=2026-02-01T00:00:00%2B08:00&to=2026-03-01T00:00:00%2B08:00`,
    );
    expect(res.statusCode).toBe(200);
    const f = res.json() as { rule: string; point: string; source: string }[];
    // The reset of anode.set_total on Feb 10 (logic check) and, over the window, 28 t anode for 81 t Al
    // = 0.3457 t/t below the 0.38 standard value (a period rule, dated at the window start); ticket 101
    // never arrived (100 is seen twice, then 102 …): the month lacks it.
    expect(f.map((x) => [x.rule ?? (x as { code?: string }).code, x.point, x.source])).toEqual([
      ['AL-SV-001', undefined, 'validation'],
      ['MRV_F_TICKETS_MISSING', 'ladle.net', 'completeness'],
      ['AL-LC-001', 'anode.set_total', 'validation'],
    ]);
    const stored = await store.listFindings(UNIT, cst(2, 1, 0), cst(3, 1, 0));
    expect(stored.map((x) => x.rule ?? x.code).sort()).toEqual([
      'AL-LC-001',
      'AL-SV-001',
      'MRV_F_TICKETS_MISSING',
    ]);
  });

  it('answers each finding with its state and narrows by ?state=open|resolved', async () => {
    const base = {
      unitId: UNIT,
      gatewayId: 'gw-late',
      source: 'integrity' as const,
      code: 'MRV_F_SEQ_GAP',
      class: 'delivery',
      severity: 'error' as const,
      message: { zh: '批次 3–5 缺失', en: 'batches 3..5 are missing' },
      detail: { from: 3, to: 5, missing: 3 },
      ts: new Date(cst(2, 20)).toISOString(),
      at: new Date(cst(2, 20)).toISOString(),
    };
    await store.writeFindings([
      { ...base, id: 'api/gap-old' }, // stored before the lifecycle: no state
      {
        ...base,
        id: 'api/gap-resolved',
        state: 'resolved',
        resolvedAt: new Date(cst(2, 21)).toISOString(),
        resolution: {
          by: 'late-batches',
          seqs: [[3, 5]],
          message: { zh: '批次 3–5 已迟到补齐', en: 'batches 3..5 arrived late' },
          detail: {},
        },
      },
    ]);
    const window = 'from=2026-02-01T00:00:00%2B08:00&to=2026-03-01T00:00:00%2B08:00';
    const get = async (q: string) => {
      const res = await app.inject(`/api/v1/units/${UNIT}/findings?${window}${q}`);
      expect(res.statusCode).toBe(200);
      return (res.json() as { id: string; state: string }[]).filter((f) => f.id.startsWith('api/'));
    };
    expect((await get('')).map((f) => [f.id, f.state])).toEqual([
      ['api/gap-old', 'open'],
      ['api/gap-resolved', 'resolved'],
    ]);
    expect((await get('&state=resolved')).map((f) => f.id)).toEqual(['api/gap-resolved']);
    expect((await get('&state=open')).map((f) => f.id)).toEqual(['api/gap-old']);
    const bad = await app.inject(`/api/v1/units/${UNIT}/findings?${window}&state=closing`);
    expect(bad.statusCode).toBe(400);
    // The month's evidence cites the open one and lists the resolved one.
    const pkg = (await app.inject(`/api/v1/units/${UNIT}/evidence/2026-02`)).json() as EvidencePackage;
    expect(pkg.storedFindings.map((f) => f.id)).toEqual(['api/gap-old']);
    expect(pkg.resolvedFindings?.map((f) => [f.id, f.resolution?.seqs])).toEqual([
      ['api/gap-resolved', [[3, 5]]],
    ]);
  });

  it('serves the signed monthly evidence package as JSON, CSV and HTML', async () => {
    const res = await app.inject(`/api/v1/units/${UNIT}/evidence/2026-02`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const pkg = res.json() as EvidencePackage;
    // 27 tickets (101+2 … 128) × 3 t = 81 t
    // set: 500 → 511.7 (+11.7 by Feb 9), reset on Feb 10 to 1.3 (+1.3 bridged), then 1.3 → 24.7 (+23.4): 36.4 t
    // butts: 100 → 108.4: 8.4 t; consumption = 36.4 − 8.4 = 28 t
    expect(pkg.parameters.map((p) => [p.id, p.value])).toEqual([
      ['aluminium.liquid_output', '81'],
      ['aluminium.anode_consumption', '28'],
      ['aluminium.anode_effect_duration', null],
      ['aluminium.cells_in_operation', null],
    ]);
    expect(pkg.deadline).toBe('2026-04-09');
    expect(pkg.generatedAt).toBe('2026-03-02T09:00:00.000+08:00');
    expect(pkg.rawData?.kind).toBe('sha256-readings-v2+batch-set-sha256-v1');
    expect(pkg.rawData?.readingsDigest).toMatch(/^[0-9a-f]{64}$/);
    // Every reading came in batch 1 of gw1, which this store's archive does not hold: said, not hidden.
    const cited = { count: 1, gateways: [{ gatewayId: 'gw1', count: 1, ranges: [[1, 1]] }] };
    expect(pkg.rawData?.batches).toEqual(cited);
    expect(pkg.rawData?.missingBatches).toEqual(cited);
    expect(pkg.rawData?.batchDigest).toBeNull();
    // (29 days × 4 points minus nothing) = 116 readings read, the lookback day included
    expect(pkg.rawData?.readings).toBe(116);
    // 28 / 81 = 0.3457 t/t < 0.38: standard value; the reset: logic check; ticket 101 missing
    expect(pkg.findings.map((f) => f.rule ?? f.code).sort()).toEqual([
      'AL-LC-001',
      'AL-SV-001',
      'MRV_F_TICKETS_MISSING',
    ]);
    expect(pkg.emissions.items.map((i) => [i.id, i.method])).toEqual([
      ['aluminium.anode_co2', 'calculated'],
      ['aluminium.pfc_co2e', 'default'], // no anode-effect data: the default PFC intensity (t CO2e)
    ]);
    const trust = [trustedOf(loadEvidenceKey(join(dir, 'key.pem'), false), 'test server')];
    expect(verifyEvidenceSignature(pkg, trust)).toMatchObject({ ok: true, owner: 'test server' });
    const tampered = {
      ...pkg,
      parameters: pkg.parameters.map((p, i) => (i === 0 ? { ...p, value: '82' } : p)),
    };
    expect(verifyEvidenceSignature(tampered, trust)).toMatchObject({ ok: false, code: 'MRV_E_VERIFY' });

    const csv = await app.inject(`/api/v1/units/${UNIT}/evidence/2026-02?format=csv`);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.body).toContain('parameter,aluminium.liquid_output,value,81,t');
    const html = await app.inject(`/api/v1/units/${UNIT}/evidence/2026-02?format=html`);
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.body).toContain('关键参数月度存证 Monthly key-parameter evidence');
    expect(html.body).toContain(pkg.signature.keyId);
  });

  it('shows in the package exactly the findings the findings list shows for the month (issue 18)', async () => {
    const window = 'from=2026-02-01T00:00:00%2B08:00&to=2026-03-01T00:00:00%2B08:00';
    // A period rule over a shorter window was stored by an earlier findings call (dated at its start).
    await app.inject(
      `/api/v1/units/${UNIT}/findings?from=2026-02-05T00:00:00%2B08:00&to=2026-02-25T00:00:00%2B08:00`,
    );
    const list = (await app.inject(`/api/v1/units/${UNIT}/findings?${window}`)).json() as { id: string }[];
    const pkg = (await app.inject(`/api/v1/units/${UNIT}/evidence/2026-02`)).json() as EvidencePackage;
    const shown = [...pkg.findings, ...pkg.storedFindings, ...(pkg.resolvedFindings ?? [])].map((f) => f.id);
    // Before: stored validation findings were left out of the package ("Findings: 0" beside a full list).
    expect(shown.sort()).toEqual(list.map((f) => f.id).sort());
    expect(list.length).toBeGreaterThan(2);
  });

  it('answers month-to-date completeness without building the evidence, and says not_monitored before the first data', async () => {
    type Answer = {
      status: string;
      ratio: string | null;
      expected: number;
      good: number;
      firstDataAt: string | null;
      judgedTo: string;
      points: { point: string; expectedIntervalMs: number; expected: number; good: number }[];
    };
    const get = async (month: string) => {
      const res = await app.inject(`/api/v1/units/${UNIT}/completeness?month=${month}`);
      expect(res.statusCode).toBe(200);
      return res.json() as Answer;
    };
    // February is over: one reading a day per point (interval = the device's 1 day), all there. The
    // ladle's net weights (an `events` point: one reading per ticket, stamped with its weighing time)
    // are judged by ticket numbers, not counted against an interval.
    const feb = await get('2026-02');
    expect(feb).toMatchObject({
      status: 'ended',
      ratio: '1.0000',
      firstDataAt: '2026-01-31T12:00:00.000+08:00',
    });
    expect(feb.points.map((p) => [p.point, p.expectedIntervalMs, p.expected, p.good])).toEqual([
      ['anode.butt_total', DAY, 28, 28],
      ['anode.set_total', DAY, 28, 28],
    ]);
    // March so far (now = Mar 2 09:00): one reading due per point, none came.
    expect(await get('2026-03')).toMatchObject({
      status: 'no_data',
      ratio: '0.0000',
      expected: 2,
      judgedTo: '2026-03-02T09:00:00.000+08:00',
    });
    // Before the unit's first reading: nothing was due, nothing is overdue.
    expect((await get('2025-12')).status).toBe('not_monitored');
    // Its package says so first: no data, no parameter claimed as a default it did not use.
    const empty = (await app.inject(`/api/v1/units/${UNIT}/evidence/2025-12`)).json() as EvidencePackage;
    expect(empty.content).toMatchObject({ status: 'no_data', received: 0 });
    expect(empty.parameters.map((p) => [p.id, p.value, p.method])).toEqual([
      ['aluminium.liquid_output', null, 'not_measured'],
      ['aluminium.anode_consumption', null, 'not_measured'],
      ['aluminium.anode_effect_duration', null, 'not_measured'],
      ['aluminium.cells_in_operation', null, 'not_measured'],
    ]);
    expect(empty.notices?.map((n) => [n.parameter, n.issue])).toEqual([
      ['aluminium.liquid_output', 'no_data'],
      ['aluminium.anode_consumption', 'no_data'],
      ['aluminium.anode_effect_duration', 'not_supplied'],
      ['aluminium.cells_in_operation', 'not_supplied'],
    ]);
    const html = (await app.inject(`/api/v1/units/${UNIT}/evidence/2025-12?format=html`)).body;
    expect(html).toContain('data-content-status="no_data"');
    expect((await get('2026-05')).status).toBe('not_started');
    // Without ?month the current month.
    expect(((await app.inject(`/api/v1/units/${UNIT}/completeness`)).json() as Answer).judgedTo).toBe(
      '2026-03-02T09:00:00.000+08:00',
    );
    expect((await app.inject(`/api/v1/units/${UNIT}/completeness?month=2026-13`)).statusCode).toBe(400);
    expect((await app.inject('/api/v1/units/NOPE/completeness')).json()).toMatchObject({
      error: { code: 'MRV_E_NOT_FOUND' },
    });
  });
});
