/**
 * `mrv sim power`: the coal-fired unit simulator (simulators/power/) on the ports
 * `examples/power-plant.site.yaml` names, until Ctrl-C.
 */
import { parseArgs } from 'node:util';
import { POWER_DEMO_PORTS, startPowerSimulator } from '../simulators/power/server.ts';
import { createLogger } from './log.ts';
import { clockFor, intFlag, runUntilSignal } from './run.ts';

/** Runs `mrv sim power [--seed 42] [--speed 1] [--base-port 15050] [--host 127.0.0.1]`. */
export async function simPower(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      seed: { type: 'string', default: '42' },
      speed: { type: 'string', default: '1' },
      'base-port': { type: 'string', default: String(POWER_DEMO_PORTS.feeders) },
      host: { type: 'string', default: '127.0.0.1' },
    },
  });
  const log = createLogger('mrv-sim');
  const base = intFlag('base-port', v['base-port'], POWER_DEMO_PORTS.feeders);
  const sim = await startPowerSimulator({
    host: v.host,
    seed: intFlag('seed', v.seed, 42),
    clock: clockFor(intFlag('speed', v.speed, 1)),
    ports: { feeders: base, bunker: base + 1, generator: base + 2, grid: base + 3 },
  });
  const p = sim.ports;
  process.stdout.write(
    `coal-fired power unit simulator on ${v.host}: coal feeders ${p.feeders} (unit ids 1-2), bunker belt scale ${p.bunker}, generator meter ${p.generator}, tariff/heat meters ${p.grid} (unit ids 1-2)\n`,
  );
  return runUntilSignal(log, () => sim.stop());
}
