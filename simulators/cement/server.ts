/**
 * Modbus front of the cement line model: the six feeder controllers as unit ids 1–6 (model.ts
 * `FEEDERS`) on a scale bus, reachable at once over Modbus TCP (a TCP gateway in front of the bus),
 * RTU over TCP (a transparent serial converter) and Modbus RTU on a serial port (e.g. one end of a
 * socat pty pair). Every read first moves the model to the clock's time. Faults are injected per unit
 * id through {@link CementSimulator.faults}, {@link CementSimulator.resetTotalizer} and
 * {@link CementSimulator.restart}.
 */
import { type Clock, systemClock } from '../../core/time.ts';
import {
  FaultControl,
  type Listener,
  listenModbusRtu,
  listenModbusRtuOverTcp,
  listenModbusTcp,
  type SerialSettings,
  type SimSlave,
  serviceVector,
} from '../shared/modbus-server.ts';
import { type CementParams, CementPlantModel, FEEDER_IDS, FEEDERS, type FeederId } from './model.ts';
import { readFeeder } from './register-map.ts';

/** Ports of `mrv sim cement` and `examples/cement-plant.site.yaml`. */
export const CEMENT_DEMO_PORTS = { tcp: 15030, rtuOverTcp: 15031 } as const;

/** Options of {@link startCementSimulator}. */
export interface CementSimulatorOptions {
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Modbus TCP port; 0 picks a free one (default); `false` disables the TCP listener. */
  tcpPort?: number | false;
  /** RTU-over-TCP port; 0 picks a free one; absent or `false` disables it. */
  rtuOverTcpPort?: number | false;
  /** Serial port for Modbus RTU (e.g. a socat pty end); absent disables RTU. */
  rtuPath?: string;
  /** Line settings of the RTU port (default 9600 8E1). */
  serial?: SerialSettings;
  /** Seed of the model; default 1. */
  seed?: number;
  /** Clock driving the model; default the system clock. */
  clock?: Clock;
  /** Virtual time of tick 0; default `clock.now()` at start. */
  start?: number;
  params?: Partial<CementParams>;
}

/** A running cement simulator. */
export interface CementSimulator {
  host: string;
  /** Bound ports (absent when disabled). */
  ports: { tcp?: number; rtuOverTcp?: number };
  model: CementPlantModel;
  /** Per unit id: time out, answer exceptions, be down for a while; `clear` ends a fault. */
  faults: FaultControl;
  /** Resets a feeder's totalizer to 0, as an operator on the scale's keypad would. */
  resetTotalizer(feeder: FeederId): void;
  /** Restarts a feeder controller: silent for `downMs` (simulated), then back with its power-failure flag set. */
  restart(feeder: FeederId, downMs?: number): void;
  /** Closes every listener. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the cement line simulator.
 * @throws the bind/open error of a listener (listeners already started are closed)
 * @example
 * const sim = await startCementSimulator({ seed: 7, tcpPort: 15030 });
 * // mbpoll -m tcp -p 15030 -a 1 -0 -r 0 -t 4:float -B -1 127.0.0.1   → clinker rate, t/h
 * sim.faults.timeout(4); // the carbide slag feeder goes silent
 * await sim.stop();
 */
export async function startCementSimulator(options: CementSimulatorOptions = {}): Promise<CementSimulator> {
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? systemClock;
  const model = new CementPlantModel({
    seed: options.seed ?? 1,
    start: options.start ?? clock.now(),
    ...(options.params !== undefined && { params: options.params }),
  });
  const faults = new FaultControl(clock);
  const byUnit = new Map<number, SimSlave>(
    FEEDER_IDS.map((id) => [
      FEEDERS[id].unitId,
      {
        read: (table, address, length) => {
          model.advanceTo(clock.now());
          return readFeeder(id, model.feeder(id), table, address, length);
        },
      },
    ]),
  );
  const vector = serviceVector((u) => byUnit.get(u), faults);
  const listeners: Listener[] = [];
  const ports: CementSimulator['ports'] = {};
  try {
    if (options.tcpPort !== false) {
      const l = await listenModbusTcp(vector, host, options.tcpPort ?? 0);
      listeners.push(l);
      ports.tcp = l.port;
    }
    if (options.rtuOverTcpPort !== undefined && options.rtuOverTcpPort !== false) {
      const l = await listenModbusRtuOverTcp(vector, host, options.rtuOverTcpPort);
      listeners.push(l);
      ports.rtuOverTcp = l.port;
    }
    if (options.rtuPath !== undefined)
      listeners.push(await listenModbusRtu(vector, options.rtuPath, options.serial));
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    throw new Error(`cement simulator: cannot listen: ${String(err)}`, { cause: err });
  }
  let stopped: Promise<void> | undefined;
  return {
    host,
    ports,
    model,
    faults,
    resetTotalizer: (feeder) => {
      model.advanceTo(clock.now());
      model.resetTotalizer(feeder);
    },
    restart: (feeder, downMs = 3000) => {
      model.advanceTo(clock.now());
      model.restart(feeder);
      faults.restart(FEEDERS[feeder].unitId, downMs);
    },
    stop: () => {
      stopped ??= Promise.all(listeners.map((l) => l.close())).then(() => undefined);
      return stopped;
    },
  };
}
