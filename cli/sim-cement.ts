/**
 * `mrv sim cement`: the cement line simulator (simulators/cement/) on its demo ports, until Ctrl-C.
 * Its Modbus TCP and RTU-over-TCP ports match `examples/cement-plant.site.yaml`; `--rtu-path` adds
 * Modbus RTU on a serial port (e.g. one end of `socat pty,raw,echo=0,link=/tmp/cement-sim
 * pty,raw,echo=0,link=/tmp/cement-rtu`, the gateway opening the other end).
 */
import { parseArgs } from 'node:util';
import { CEMENT_DEMO_PORTS, startCementSimulator } from '../simulators/cement/server.ts';
import { createLogger } from './log.ts';
import { clockFor, intFlag, runUntilSignal } from './run.ts';

/** Runs `mrv sim cement [--seed 42] [--speed 1] [--port 15030] [--rtu-over-tcp-port 15031] [--rtu-path DEV]`. */
export async function simCement(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      seed: { type: 'string', default: '42' },
      speed: { type: 'string', default: '1' },
      port: { type: 'string', default: String(CEMENT_DEMO_PORTS.tcp) },
      'rtu-over-tcp-port': { type: 'string', default: String(CEMENT_DEMO_PORTS.rtuOverTcp) },
      'rtu-path': { type: 'string' },
      baud: { type: 'string', default: '9600' },
      host: { type: 'string', default: '127.0.0.1' },
    },
  });
  const log = createLogger('mrv-sim');
  const sim = await startCementSimulator({
    host: v.host,
    seed: intFlag('seed', v.seed, 42),
    clock: clockFor(intFlag('speed', v.speed, 1)),
    tcpPort: intFlag('port', v.port, CEMENT_DEMO_PORTS.tcp),
    rtuOverTcpPort: intFlag('rtu-over-tcp-port', v['rtu-over-tcp-port'], CEMENT_DEMO_PORTS.rtuOverTcp),
    ...(v['rtu-path'] !== undefined && {
      rtuPath: v['rtu-path'],
      serial: { baudRate: intFlag('baud', v.baud, 9600) },
    }),
  });
  process.stdout.write(
    `cement line simulator on ${v.host}: Modbus TCP ${sim.ports.tcp}, RTU over TCP ${sim.ports.rtuOverTcp}${v['rtu-path'] ? `, RTU ${v['rtu-path']}` : ''}; unit ids 1-6\n`,
  );
  return runUntilSignal(log, () => sim.stop());
}
