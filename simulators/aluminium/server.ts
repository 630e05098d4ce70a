/**
 * Modbus TCP front of the aluminium smelter model: one `modbus-serial` ServerTCP per station, because
 * in a plant each station is a separate meter with its own IP address. Every read first moves the
 * model to the clock's time, then answers from the station's register image
 * (register-map.ts). Reads outside a station's block answer exception 02 (illegal data address),
 * writes answer exception 01 (illegal function): the meters are read-only. Faults per station through
 * {@link AluminiumSimulator.faults}, {@link AluminiumSimulator.resetTotalizer} and
 * {@link AluminiumSimulator.restart}, on the shared control surface (simulators/shared/modbus-server.ts).
 */
import { type Clock, systemClock } from '../../core/time.ts';
import {
  EXCEPTION,
  FaultControl,
  listenModbusTcpAll,
  modbusError,
  type SimSlave,
  serviceVector,
} from '../shared/modbus-server.ts';
import { blockSlave } from '../shared/register-block.ts';
import { type AluminiumParams, AluminiumSmelterModel, type AluminiumSnapshot } from './model.ts';
import {
  aluminiumRegisterMap,
  encodeTicketLog,
  LADLE_TICKET_LOG,
  STATION_IDS,
  type StationId,
  type StationMap,
} from './register-map.ts';

/** Options of {@link startAluminiumSimulator}. */
export interface AluminiumSimulatorOptions {
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** TCP port per station; 0 or absent picks a free port. The demo uses 15020–15023. */
  ports?: Partial<Record<StationId, number>>;
  /** Seed of the model; default 1. */
  seed?: number;
  /** Clock driving the model (pass a ScaledClock to run faster than real time); default the system clock. */
  clock?: Clock;
  /** Virtual time of the model's tick 0, ms since the epoch; default `clock.now()` at start. */
  start?: number;
  /** Overrides of the model's parameters (model.ts `ALUMINIUM_PARAMETERS`). */
  params?: Partial<AluminiumParams>;
}

/** A running simulator. */
export interface AluminiumSimulator {
  /** Address the servers listen on. */
  host: string;
  /** Port each station listens on. */
  ports: Record<StationId, number>;
  /** The model behind the servers (read its `snapshot()` / `ledger()` to compare with what a client reads). */
  model: AluminiumSmelterModel;
  /** The register map the servers answer from. */
  registerMap: Readonly<Record<StationId, StationMap>>;
  /** Per station: time out, answer exceptions; `clear` ends a fault. */
  faults: Readonly<Record<StationId, StationFaults>>;
  /**
   * Resets a station's totalizer to 0, as an operator on the meter's keypad would: the DC energy
   * totalizer (kWh) or the ladle scale's net total (kg). The model's own ledger is untouched.
   */
  resetTotalizer(station: TotalizerStation): void;
  /** Restarts a station: silent for `downMs` of simulated time (default 3000), then answering again. */
  restart(station: StationId, downMs?: number): void;
  /** Closes every server and every client socket. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Faults of one station (a meter with its own IP address: whatever unit id a request carries). The
 * control surface of simulators/shared/modbus-server.ts, as the cement simulator has per unit id.
 */
export interface StationFaults {
  /** The station stops answering (requests time out at the client) until {@link clear}. */
  timeout(): void;
  /** The station answers every read with exception `code` (default 04 slave device failure) until {@link clear}. */
  exception(code?: number): void;
  /** Ends any fault. */
  clear(): void;
}

/** Stations with a totalizer an operator can reset: the DC energy meter and the ladle scale. */
export type TotalizerStation = 'energy' | 'ladle';

/** Totalizer offsets (the reading at the last reset) applied to a snapshot before it is encoded. */
interface Offsets {
  energyKWh: number;
  ladleKg: number;
}

const UINT32 = 2 ** 32;

function withOffsets(s: AluminiumSnapshot, o: Offsets): AluminiumSnapshot {
  if (o.energyKWh === 0 && o.ladleKg === 0) return s;
  return {
    ...s,
    energy: { ...s.energy, totalizerKWh: (s.energy.totalizerKWh - o.energyKWh + UINT32) % UINT32 },
    ladle: { ...s.ladle, netTotalKg: s.ladle.netTotalKg - o.ladleKg },
  };
}

/**
 * One station as a shared-vector slave: reads inside its register block answer from the model at
 * `clock.now()`; reads outside answer exception 02 (illegal data address), coils and discrete inputs
 * too (the stations have none).
 */
function stationSlave(
  station: StationMap,
  model: AluminiumSmelterModel,
  clock: Clock,
  offsets: Offsets,
): SimSlave {
  const snapshot = () => {
    model.advanceTo(clock.now());
    return withOffsets(model.snapshot(), offsets);
  };
  const block = blockSlave(`station ${station.id}`, station.points, snapshot);
  if (station.id !== 'ladle') return block;
  // The ladle station also answers its ticket memory (register-map.ts LADLE_TICKET_LOG).
  const L = LADLE_TICKET_LOG;
  const end = L.ringAddress + model.params.ticketLogRecords * L.stride;
  return {
    read: (table, addr, length) => {
      if (table !== L.table || addr < L.indexAddress) return block.read(table, addr, length);
      if (length < 1 || addr + length > end)
        throw modbusError(
          EXCEPTION.ILLEGAL_DATA_ADDRESS,
          `station ladle: ${table} ${addr}+${length} outside the ticket memory ${L.indexAddress}+${end - L.indexAddress}`,
        );
      const offset = addr - L.indexAddress;
      return encodeTicketLog(snapshot()).slice(offset, offset + length);
    },
  };
}

/**
 * Starts the four stations of the simulated smelter (pot-line, DC energy meter, ladle scale, anode
 * scale), each a Modbus TCP server on its own port, answering holding/input register reads from the
 * model at `clock.now()`.
 *
 * @returns the bound ports, the model and `stop()`
 * @throws Error naming the station and port when a bind fails (servers already started are stopped)
 * @example
 * const sim = await startAluminiumSimulator({ seed: 7, clock: new ScaledClock(Date.now(), 1440) });
 * // mbpoll -m tcp -p ${sim.ports.potline} -0 -r 0 -t 3:float -B -1 127.0.0.1   → line current, kA
 * await sim.stop();
 */
export async function startAluminiumSimulator(
  options: AluminiumSimulatorOptions = {},
): Promise<AluminiumSimulator> {
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? systemClock;
  const model = new AluminiumSmelterModel({
    seed: options.seed ?? 1,
    start: options.start ?? clock.now(),
    ...(options.params !== undefined && { params: options.params }),
  });
  const registerMap = aluminiumRegisterMap(model.params.monitoredCells);
  const offsets: Offsets = { energyKWh: 0, ladleKg: 0 };
  // One FaultControl per station, keyed by 0: a station is one meter whatever unit id it is asked for.
  const controls = Object.fromEntries(STATION_IDS.map((id) => [id, new FaultControl(clock)])) as Record<
    StationId,
    FaultControl
  >;
  const faults = Object.fromEntries(
    STATION_IDS.map((id) => [
      id,
      {
        timeout: () => controls[id].timeout(0),
        exception: (code?: number) => controls[id].exception(0, code),
        clear: () => controls[id].clear(0),
      } satisfies StationFaults,
    ]),
  ) as Record<StationId, StationFaults>;
  const vectors = Object.fromEntries(
    STATION_IDS.map((id) => {
      const slave = stationSlave(registerMap[id], model, clock, offsets);
      const control = controls[id];
      return [id, serviceVector(() => slave, { check: () => control.check(0) })];
    }),
  ) as Record<StationId, object>;
  const servers = await listenModbusTcpAll('aluminium simulator: station', host, vectors, options.ports);
  return {
    host,
    ports: servers.ports,
    model,
    registerMap,
    faults,
    resetTotalizer: (station) => {
      model.advanceTo(clock.now());
      const s = model.snapshot();
      if (station === 'energy') offsets.energyKWh = s.energy.totalizerKWh;
      else offsets.ladleKg = s.ladle.netTotalKg;
    },
    restart: (station, downMs = 3000) => controls[station].restart(0, downMs),
    stop: () => servers.stop(),
  };
}
