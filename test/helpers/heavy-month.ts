// A heavy unit for evidence load (test/integration/evidence-no-stall.test.ts, bench/evidence-workers.ts):
// `points` anode-consumption totalizers of an aluminium unit read every second, each value changing
// every second, written straight into a store with `writeReadings` (as a collector would, one batch
// seq per second), so that a monthly build reads `points × 86 400` readings a day.
import type { StoredReading, TimeSeriesStore } from '../../collector/store.ts';
import { monthPeriod } from '../../core/domain/period.ts';
import { SiteConfig } from '../../core/schema/site.ts';

export const HEAVY_UNIT = 'U-AL-HEAVY';
export const HEAVY_GATEWAY = 'gw-heavy';
export const HEAVY_MONTH = '2026-10';
const DAY = 86_400_000;

/** The heavy unit's site: `points` totalizers (0.001 t, uint32) polled every second. */
export function heavySite(points: number): SiteConfig {
  return SiteConfig.parse({
    version: 1,
    unit: {
      id: HEAVY_UNIT,
      name: '负载测试铝厂 Load-test smelter',
      industry: 'aluminium',
      province: '内蒙古',
    },
    gateway: { id: HEAVY_GATEWAY, mqtt: { url: 'mqtt://127.0.0.1:1883' } },
    meters: [],
    devices: [
      {
        id: 'heavy',
        driver: 'modbus-tcp',
        host: '127.0.0.1',
        port: 15020,
        pollIntervalMs: 1000,
        points: Array.from({ length: points }, (_, i) => ({
          id: `anode.total_${String(i).padStart(2, '0')}`,
          unit: 't',
          parameter: 'aluminium.anode_consumption',
          aggregation: 'totalizer',
          maxRate: '50',
          table: 'input',
          address: 2 * i,
          type: 'uint32',
          scale: '0.001',
        })),
      },
    ],
  });
}

/**
 * Writes `days` days of 1 s readings of the heavy unit's `points` totalizers, from the month's first
 * day (the evidence's lookback day before it included), in transactions of about 50 000 readings.
 * Each totalizer grows by 1–3 counts (0.001 t) a second. `firstDay`: the first day written, 0-based
 * from the month's start (default −1, the lookback day): e.g. 29 with `days` 31 writes days 30–31 only.
 * Returns the number of readings written.
 */
export async function seedHeavyMonth(
  store: TimeSeriesStore,
  o: { points: number; days: number; month?: string; firstDay?: number },
): Promise<number> {
  const { from } = monthPeriod(o.month ?? HEAVY_MONTH);
  const start = from + (o.firstDay ?? -1) * DAY;
  const end = from + o.days * DAY;
  const totals = Array.from({ length: o.points }, (_, i) => 1_000_000 * (i + 1));
  let batch: StoredReading[] = [];
  let n = 0;
  let seq = 1;
  for (let ts = start; ts < end; ts += 1000, seq++) {
    for (let i = 0; i < o.points; i++) {
      totals[i] = (totals[i] as number) + 1 + ((ts / 1000 + i) % 3);
      const v = totals[i] as number;
      batch.push({
        unitId: HEAVY_UNIT,
        gatewayId: HEAVY_GATEWAY,
        device: 'heavy',
        point: `anode.total_${String(i).padStart(2, '0')}`,
        ts,
        rxTs: ts + 20,
        value: `${Math.floor(v / 1000)}.${String(v % 1000).padStart(3, '0')}`,
        quality: 'good',
        seq,
      });
    }
    if (batch.length >= 50_000) {
      n += await store.writeReadings(batch);
      batch = [];
    }
  }
  if (batch.length > 0) n += await store.writeReadings(batch);
  return n;
}
