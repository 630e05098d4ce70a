/**
 * `mrv sim steel` and `mrv sim aluminium --opcua`: the OPC UA simulators, with faults an engineer can
 * switch on from the command line to see what the gateway does:
 *   --fault ID=StatusName   a variable reports that StatusCode (e.g. Gas.COG.Rate=BadSensorFailure)
 *   --outage-every S --outage-for S   the server stops every S seconds for S seconds (a restart)
 *   --no-subscriptions      CreateSubscription is refused (clients must poll)
 * The server's PKI (its certificate) is kept in `--pki` (default `.data/sim-pki/<name>`), so a gateway
 * trusts it once, not at every run.
 */
import { parseArgs } from 'node:util';
import { MrvError } from '../core/errors.ts';
import { type Clock, ScaledClock, systemClock } from '../core/time.ts';
import { quietImport } from '../drivers/opcua/load.ts';
import type { OpcuaSimulator } from '../simulators/opcua-host.ts';
import { createLogger } from './log.ts';

const common = {
  seed: { type: 'string', default: '42' },
  speed: { type: 'string', default: '1' },
  host: { type: 'string', default: '127.0.0.1' },
  fault: { type: 'string', multiple: true },
  'outage-every': { type: 'string' },
  'outage-for': { type: 'string', default: '10' },
  'no-subscriptions': { type: 'boolean', default: false },
  users: { type: 'string', multiple: true },
} as const;

function num(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new MrvError('MRV_E_CONFIG', `--${name}: expected a number, got "${v}"`);
  return n;
}

function clockFor(speed: number): Clock {
  return speed === 1 ? systemClock : new ScaledClock(Date.now(), speed);
}

function users(list: string[] | undefined): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  return Object.fromEntries(
    list.map((u) => {
      const i = u.indexOf(':');
      if (i < 1) throw new MrvError('MRV_E_CONFIG', `--users: expected NAME:PASSWORD, got "${u}"`);
      return [u.slice(0, i), u.slice(i + 1)];
    }),
  );
}

/** Applies the fault flags and runs until SIGINT/SIGTERM. */
async function runFaults(
  sim: OpcuaSimulator,
  v: {
    fault?: string[] | undefined;
    'outage-every'?: string | undefined;
    'outage-for': string;
    'no-subscriptions': boolean;
  },
  stopAll: () => Promise<void>,
): Promise<number> {
  const log = createLogger('mrv-sim');
  for (const f of v.fault ?? []) {
    const [id, status] = f.split('=');
    if (!id || !status) throw new MrvError('MRV_E_CONFIG', `--fault: expected ID=StatusName, got "${f}"`);
    sim.setStatus(id, status);
  }
  if (v['no-subscriptions']) sim.refuseSubscriptions(true);
  let timer: NodeJS.Timeout | undefined;
  const every = v['outage-every'];
  if (every !== undefined) {
    const everyMs = num('outage-every', every, 60) * 1000;
    const forMs = num('outage-for', v['outage-for'], 10) * 1000;
    const cycle = () => {
      timer = setTimeout(async () => {
        log.info({ forMs }, 'simulated outage: server stopped');
        await sim.stop();
        timer = setTimeout(async () => {
          await sim.restart();
          log.info('simulated outage over: server restarted');
          cycle();
        }, forMs);
      }, everyMs);
    };
    cycle();
  }
  await new Promise<void>((res) => {
    process.once('SIGINT', () => res());
    process.once('SIGTERM', () => res());
  });
  clearTimeout(timer);
  await stopAll();
  return 0;
}

/** `mrv sim steel [--port 4841] [--seed 42] [--speed 1] [faults]`. */
export async function simSteel(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      ...common,
      port: { type: 'string' },
      'modbus-port': { type: 'string' },
      pki: { type: 'string', default: '.data/sim-pki/steel' },
    },
  });
  const { startSteelSimulator } = await quietImport(() => import('../simulators/steel/opcua-server.ts'));
  const { STEEL_DEMO_PORT } = await import('../simulators/steel/opcua-map.ts');
  const { startSteelModbusSimulator, STEEL_MODBUS_DEMO_PORT } = await import(
    '../simulators/steel/modbus-server.ts'
  );
  const u = users(v.users);
  const clock = clockFor(num('speed', v.speed, 1));
  const sim = await startSteelSimulator({
    host: v.host,
    port: num('port', v.port, STEEL_DEMO_PORT),
    seed: num('seed', v.seed, 42),
    clock,
    pkiDir: v.pki,
    ...(u ? { users: u } : {}),
  });
  const scale = await startSteelModbusSimulator({
    model: sim.model,
    clock,
    host: v.host,
    port: num('modbus-port', v['modbus-port'], STEEL_MODBUS_DEMO_PORT),
  }).catch(async (err: unknown) => {
    await sim.stop();
    throw err;
  });
  process.stdout.write(
    `steel plant OPC UA simulator: ${sim.endpointUrl} (server certificate in ${sim.pkiDir}/server/own/certs)\n` +
      `  ladle scale over Modbus TCP: ${v.host}:${scale.port} (unit id 1, holding 0-8)\n` +
      `  e.g. mrv browse ${sim.endpointUrl} --node "ns=1;s=SteelPlant"\n`,
  );
  return runFaults(sim, v, async () => {
    await sim.stop();
    await scale.stop();
  });
}

/** `mrv sim aluminium --opcua [--opcua-port 4842]`: the Modbus stations plus the pot-line over OPC UA, one smelter. */
export async function simAluminiumOpcua(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      ...common,
      opcua: { type: 'boolean', default: true },
      'opcua-port': { type: 'string' },
      'base-port': { type: 'string', default: '15020' },
      pki: { type: 'string', default: '.data/sim-pki/aluminium' },
    },
  });
  const { startAluminiumSimulator } = await import('../simulators/aluminium/server.ts');
  const { startAluminiumOpcuaSimulator, ALUMINIUM_OPCUA_DEMO_PORT } = await quietImport(
    () => import('../simulators/aluminium/opcua-server.ts'),
  );
  const clock = clockFor(num('speed', v.speed, 1));
  const base = num('base-port', v['base-port'], 15020);
  const modbus = await startAluminiumSimulator({
    host: v.host,
    seed: num('seed', v.seed, 42),
    clock,
    ports: { potline: base, energy: base + 1, ladle: base + 2, anode: base + 3 },
  });
  const ua = await startAluminiumOpcuaSimulator({
    host: v.host,
    port: num('opcua-port', v['opcua-port'], ALUMINIUM_OPCUA_DEMO_PORT),
    clock,
    model: modbus.model,
    pkiDir: v.pki,
  });
  process.stdout.write(
    `aluminium smelter simulator on ${v.host}: Modbus ports ${JSON.stringify(modbus.ports)}, pot-line OPC UA ${ua.endpointUrl}\n`,
  );
  return runFaults(ua, v, async () => {
    await ua.stop();
    await modbus.stop();
  });
}
