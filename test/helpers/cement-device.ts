/**
 * The cement simulator as a device for the driver contract suite (test/integration/driver-contract.ts):
 * one feeder's points from the simulator's register map, with the exact values they must read.
 * The simulator runs on a manual clock, so values stand still while the driver polls.
 */
import { ManualClock } from '../../core/time.ts';
import { applyScaling, float32ToDecimalString } from '../../drivers/modbus/decode.ts';
import { FEEDERS, type FeederId } from '../../simulators/cement/model.ts';
import { feederPoints } from '../../simulators/cement/register-map.ts';
import { type CementSimulatorOptions, startCementSimulator } from '../../simulators/cement/server.ts';
import type { ContractDevice } from '../integration/driver-contract.ts';

/** 2026-03-01 00:00 China Standard Time. */
export const CEMENT_START = Date.UTC(2026, 1, 28, 16);

/**
 * Starts a cement simulator and describes one feeder as a device of `connection` (driver, host/port
 * or path, ...). Poll groups run every 100 ms and 250 ms so the suite is quick.
 */
export async function cementDevice(
  feeder: FeederId,
  sim: Omit<CementSimulatorOptions, 'clock' | 'start' | 'seed'>,
  connection: (ports: { tcp?: number; rtuOverTcp?: number }) => Record<string, unknown>,
): Promise<ContractDevice> {
  const clock = new ManualClock(CEMENT_START);
  const s = await startCementSimulator({ ...sim, clock, start: CEMENT_START, seed: 3 });
  clock.advance(3_600_000);
  s.model.advanceTo(clock.now());
  const state = s.model.feeder(feeder);
  const points = feederPoints(feeder, 'm').map(({ meter: _m, ...p }) =>
    p.pollIntervalMs ? { ...p, pollIntervalMs: 250 } : p,
  );
  const prefix = points[0]?.id.split('.')[0] ?? feeder;
  const unitId = FEEDERS[feeder].unitId;
  return {
    config: {
      id: `dev-${feeder}`,
      ...connection(s.ports),
      unitId,
      pollIntervalMs: 100,
      timeoutMs: 250,
      retries: 0,
      reconnectDelayMs: 100,
      points,
    },
    expected: {
      [`${prefix}.rate`]: float32ToDecimalString(Math.fround(state.rateTph)),
      [`${prefix}.total`]: applyScaling(String(state.totalKg), { scale: '0.001' }),
      [`${prefix}.running`]: state.running ? '1' : '0',
      [`${prefix}.low_material`]: '0',
    },
    timeout: () => s.faults.timeout(unitId),
    exception: (code) => s.faults.exception(unitId, code),
    clear: () => s.faults.clear(unitId),
    reasons: { timeout: 'MRV_E_MODBUS_TIMEOUT', exception: /^MRV_E_MODBUS_EXCEPTION: .*exception 4/i },
    stop: () => s.stop(),
  };
}
