// A month of one-minute readings of a small aluminium unit with the usual events, for the day
// aggregates' tests (test/integration/day-aggregates.test.ts, test/unit/domain/evidence-checkpoint.test.ts):
// a counter roll-over (day 2) and reset (day 5), a correction step just before midnight that lasts into
// the next day (day 12 → 13), a range violation and rate-of-change run across midnight (day 7 → 8), a
// bad-quality run (day 16), a gap on day 10 delivered late, an outage across midnight (day 20 → 21),
// weighing tickets every three hours, and meters whose certificates expire on day 20.
import type { StoredReading } from '../../collector/store.ts';
import { monthPeriod } from '../../core/domain/period.ts';
import { SiteConfig } from '../../core/schema/site.ts';

export const UNIT = 'U-AL-DAYS';
export const GW = 'gw-days';
export const MONTH = '2026-10';
const IV = 60_000;
export const DAY = 86_400_000;

const calibrations = [
  {
    certificate: 'C-1',
    kind: 'verification' as const,
    date: '2026-01-01',
    validUntil: '2026-10-20',
    body: 'Demo',
    result: '合格',
  },
];
export const site = SiteConfig.parse({
  version: 1,
  unit: { id: UNIT, name: '测试铝厂 Test smelter', industry: 'aluminium', province: '内蒙古' },
  gateway: { id: GW, mqtt: { url: 'mqtt://127.0.0.1:1883' } },
  meters: [
    { id: 'anode-1', name: 'anode scale', kind: 'crane-scale', calibrations },
    { id: 'ladle-1', name: 'ladle scale', kind: 'ladle-scale', calibrations },
  ],
  devices: [
    {
      id: 'dev',
      driver: 'modbus-tcp',
      host: '127.0.0.1',
      port: 15020,
      pollIntervalMs: IV,
      points: [
        {
          id: 'anode.set_total',
          meter: 'anode-1',
          unit: 't',
          parameter: 'aluminium.anode_consumption',
          aggregation: 'totalizer',
          maxRate: '20',
          correctionTolerance: '0.5',
          table: 'input',
          address: 0,
          type: 'uint16',
          scale: '0.1',
        },
        { id: 'ladle.ticket_no', meter: 'ladle-1', unit: 'id', table: 'holding', address: 0, type: 'uint32' },
        {
          id: 'ladle.net',
          meter: 'ladle-1',
          unit: 't',
          parameter: 'aluminium.liquid_output',
          aggregation: 'events',
          ticketPoint: 'ladle.ticket_no',
          table: 'holding',
          address: 2,
          type: 'uint32',
          scale: '0.001',
        },
        {
          id: 'ladle.net_total',
          meter: 'ladle-1',
          unit: 't',
          aggregation: 'totalizer',
          maxRate: '60',
          maxStep: '4.5',
          table: 'holding',
          address: 4,
          type: 'uint32',
          scale: '0.001',
        },
        {
          id: 'potline.current',
          unit: 'kA',
          aggregation: 'gauge',
          table: 'input',
          address: 8,
          type: 'float32',
        },
        {
          id: 'potline.cell_count',
          unit: 'count',
          parameter: 'aluminium.cells_in_operation',
          aggregation: 'gauge',
          table: 'input',
          address: 10,
          type: 'uint16',
        },
      ],
    },
  ],
});

export const { from: MONTH_FROM, to: MONTH_TO } = monthPeriod(MONTH);
/** Day 10's gap (02:00–06:00 UTC+8): left out at first, delivered late. */
export const GAP = { from: MONTH_FROM + 9 * DAY + 2 * 3_600_000, to: MONTH_FROM + 9 * DAY + 6 * 3_600_000 };
/** An outage across the night of day 20 to 21 (22:00–03:00): never delivered. */
const OUTAGE = { from: MONTH_FROM + 20 * DAY - 2 * 3_600_000, to: MONTH_FROM + 20 * DAY + 3 * 3_600_000 };

/** The month's readings (one poll a minute, from the lookback day), seqs by minute; `late`: the gap's. */
export function readings(late: boolean): StoredReading[] {
  const out: StoredReading[] = [];
  let anode = 65_000; // counts of 0.1 t in a uint16 register (modulus 6553.6 t): it wraps on day 2
  let ladleTotal = 0;
  let ticket = 1000;
  let net = '0';
  for (let ts = MONTH_FROM - DAY; ts < MONTH_TO; ts += IV) {
    const minute = (ts - (MONTH_FROM - DAY)) / IV;
    const inGap = ts >= GAP.from && ts < GAP.to;
    const inOutage = ts >= OUTAGE.from && ts < OUTAGE.to;
    // Physics runs on whether or not the readings are delivered.
    if (minute % 7 === 0) anode += 1;
    if (anode >= 65_536) anode -= 65_536; // roll-over
    if (minute % 180 === 0) {
      ticket++;
      net = (3 + (ticket % 7) * 0.125).toFixed(3);
      ladleTotal += Number(net) * 1000;
    }
    let anodeValue = (anode / 10).toFixed(1);
    // A counter reset on day 5 at 08:00 (replaced PLC): it restarts from zero.
    if (ts === MONTH_FROM + 4 * DAY + 8 * 3_600_000) anode = 3;
    // A correction of 0.3 t at 23:59 on day 12, which lasts into day 13 until the counter passes it again.
    if (ts >= MONTH_FROM + 12 * DAY - IV && ts < MONTH_FROM + 12 * DAY + 10 * IV)
      anodeValue = (anode / 10 - 0.3).toFixed(1);
    // Current: 400 kA, out of range (> 500) from 23:50 on day 7 to 00:20 on day 8, with steep ramps.
    const hot = ts >= MONTH_FROM + 7 * DAY - 10 * IV && ts < MONTH_FROM + 7 * DAY + 20 * IV;
    const current = hot ? '520.5' : (400 + (minute % 5) * 0.25).toFixed(2);
    const bad = ts >= MONTH_FROM + 15 * DAY + 3_600_000 && ts < MONTH_FROM + 15 * DAY + 2 * 3_600_000;
    if (inOutage || inGap !== late) continue;
    const base = { unitId: UNIT, gatewayId: GW, device: 'dev', rxTs: ts + 200, seq: minute + 1 };
    const r = (point: string, value: string | null, meter?: string): StoredReading => ({
      ...base,
      point,
      ts,
      value,
      quality: value === null ? 'bad' : 'good',
      ...(value === null ? { reason: 'MRV_E_MODBUS_EXCEPTION: 02 illegal data address' } : {}),
      ...(meter ? { meter } : {}),
    });
    out.push(
      r('anode.set_total', bad ? null : anodeValue, 'anode-1'),
      r('ladle.ticket_no', String(ticket), 'ladle-1'),
      r('ladle.net', net, 'ladle-1'),
      r('ladle.net_total', (ladleTotal / 1000).toFixed(3), 'ladle-1'),
      r('potline.current', current),
      r('potline.cell_count', minute % 1440 < 720 ? '300' : '298'),
    );
  }
  return out;
}
