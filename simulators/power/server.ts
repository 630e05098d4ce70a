/**
 * Modbus TCP front of the coal-fired unit model: four servers (register-map.ts `POWER_PORT_IDS`),
 * answering the unit ids and register blocks of `examples/power-plant.site.yaml`. Every read first
 * moves the model to the clock's time. Reads outside a device's block answer exception 02, writes 01;
 * a unit id with no device on a server gets no answer. Faults per server and unit id through
 * {@link PowerSimulator.faults} (simulators/shared/modbus-server.ts), plus meter resets, device
 * restarts and unit trips.
 */
import { systemClock } from '../../core/time.ts';
import {
  FaultControl,
  listenModbusTcpAll,
  type ServiceVector,
  type SimSlave,
  serviceVector,
} from '../shared/modbus-server.ts';
import type { SimulatorBaseOptions } from '../shared/parameters.ts';
import { blockSlave } from '../shared/register-block.ts';
import { type CounterId, type PowerParams, PowerPlantModel } from './model.ts';
import { POWER_PORT_IDS, POWER_REGISTER_MAP, type PowerDeviceMap, type PowerPortId } from './register-map.ts';

export { POWER_DEMO_PORTS } from './register-map.ts';

/** Options of {@link startPowerSimulator}. */
export interface PowerSimulatorOptions extends SimulatorBaseOptions<PowerParams> {
  /** Port of each server; absent or 0 picks a free one. */
  ports?: Partial<Record<PowerPortId, number>>;
}

/** A running power-plant simulator. */
export interface PowerSimulator {
  host: string;
  /** Bound port of each server. */
  ports: Readonly<Record<PowerPortId, number>>;
  model: PowerPlantModel;
  /** The devices with their servers and unit ids (the site file's devices). */
  registerMap: readonly PowerDeviceMap[];
  /** Per server, per unit id: time out, answer exceptions, be down for a while; `clear` ends a fault. */
  faults: Readonly<Record<PowerPortId, FaultControl>>;
  /** Sets a totalizer to 0 (a meter replaced or reset). */
  resetTotalizer(counter: CounterId): void;
  /** Restarts a device (site-file device id): silent for `downMs` of simulated time (default 3000). */
  restart(deviceId: string, downMs?: number): void;
  /** Trips the unit for `seconds` of simulated time: no load, no coal, no steam, standby power imported. */
  trip(seconds: number): void;
  /** Closes every server and client socket. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the simulated unit's four Modbus TCP servers.
 * @throws Error naming the server and port when a bind fails (servers already started are stopped)
 * @example
 * const sim = await startPowerSimulator({ seed: 7, ports: POWER_DEMO_PORTS });
 * // mbpoll -m tcp -p 15052 -a 1 -0 -1 -t 4 -r 0 -c 6 127.0.0.1   → generator meter block
 * sim.faults.feeders.timeout(2); // feeder B's controller goes silent
 * await sim.stop();
 */
export async function startPowerSimulator(options: PowerSimulatorOptions = {}): Promise<PowerSimulator> {
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? systemClock;
  const model = new PowerPlantModel({
    seed: options.seed ?? 1,
    start: options.start ?? clock.now(),
    ...(options.params !== undefined && { params: options.params }),
  });
  const snapshot = () => {
    model.advanceTo(clock.now());
    return model.snapshot();
  };
  const faults = Object.fromEntries(POWER_PORT_IDS.map((id) => [id, new FaultControl(clock)])) as Record<
    PowerPortId,
    FaultControl
  >;
  const vectors = Object.fromEntries(
    POWER_PORT_IDS.map((port) => {
      const slaves = new Map<number, SimSlave>(
        POWER_REGISTER_MAP.filter((d) => d.port === port).map((d) => [
          d.unitId,
          blockSlave(d.deviceId, d.points, snapshot),
        ]),
      );
      return [port, serviceVector((u) => slaves.get(u), faults[port])];
    }),
  ) as Record<PowerPortId, ServiceVector>;
  const servers = await listenModbusTcpAll('power simulator: server', host, vectors, options.ports);
  return {
    host,
    ports: servers.ports,
    model,
    registerMap: POWER_REGISTER_MAP,
    faults,
    resetTotalizer: (counter) => {
      model.advanceTo(clock.now());
      model.resetCounter(counter);
    },
    restart: (deviceId, downMs = 3000) => {
      const d = POWER_REGISTER_MAP.find((x) => x.deviceId === deviceId);
      if (!d) throw new RangeError(`power simulator: no device "${deviceId}"`);
      faults[d.port].restart(d.unitId, downMs);
    },
    trip: (seconds) => {
      model.advanceTo(clock.now());
      model.trip(seconds);
    },
    stop: () => servers.stop(),
  };
}
