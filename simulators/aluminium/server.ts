/**
 * Modbus TCP front of the aluminium smelter model: one `modbus-serial` ServerTCP per station, because
 * in a plant each station is a separate meter with its own IP address. Every read first moves the
 * model to the clock's time, then answers from the station's register image
 * (register-map.ts). Reads outside a station's block answer exception 02 (illegal data address),
 * writes answer exception 01 (illegal function): the meters are read-only.
 */
import { type Clock, systemClock } from '../../core/time.ts';
import { type Listener, listenModbusTcp } from '../shared/modbus-server.ts';
import { type AluminiumParams, AluminiumSmelterModel } from './model.ts';
import {
  aluminiumRegisterMap,
  encodeStation,
  STATION_IDS,
  type StationId,
  type StationMap,
  stationBlock,
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
  /** Closes every server and every client socket. Idempotent. */
  stop(): Promise<void>;
}

/** Modbus exception codes used here (MODBUS Application Protocol V1.1b3 §7). */
const ILLEGAL_FUNCTION = 0x01;
const ILLEGAL_DATA_ADDRESS = 0x02;

/** An error modbus-serial's server turns into an exception response with this code. */
function modbusError(code: number, message: string): Error {
  return Object.assign(new Error(message), { modbusErrorCode: code });
}

/** The service vector of one station: synchronous handlers (modbus-serial calls 3-argument ones synchronously). */
function stationVector(station: StationMap, model: AluminiumSmelterModel, clock: Clock) {
  const block = stationBlock(station);
  const read = (table: 'holding' | 'input', addr: number, length: number): number[] => {
    if (
      table !== block.table ||
      length < 1 ||
      addr < block.start ||
      addr + length > block.start + block.count
    )
      throw modbusError(
        ILLEGAL_DATA_ADDRESS,
        `${station.id}: ${table} ${addr}+${length} outside ${block.table} ${block.start}+${block.count}`,
      );
    model.advanceTo(clock.now());
    const offset = addr - block.start;
    return encodeStation(station, model.snapshot()).slice(offset, offset + length);
  };
  const readOnly = (): never => {
    throw modbusError(ILLEGAL_FUNCTION, `${station.id}: read-only`);
  };
  const noBits = (addr: number): never => {
    throw modbusError(ILLEGAL_DATA_ADDRESS, `${station.id}: no coils or discrete inputs (address ${addr})`);
  };
  return {
    getHoldingRegister: (addr: number, _unitID: number): number => read('holding', addr, 1)[0] ?? 0,
    getInputRegister: (addr: number, _unitID: number): number => read('input', addr, 1)[0] ?? 0,
    getMultipleHoldingRegisters: (addr: number, length: number, _unitID: number): number[] =>
      read('holding', addr, length),
    getMultipleInputRegisters: (addr: number, length: number, _unitID: number): number[] =>
      read('input', addr, length),
    getCoil: (addr: number, _unitID: number): boolean => noBits(addr),
    getDiscreteInput: (addr: number, _unitID: number): boolean => noBits(addr),
    setCoil: (_addr: number, _value: boolean, _unitID: number): void => readOnly(),
    setRegister: (_addr: number, _value: number, _unitID: number): void => readOnly(),
    setRegisterArray: (_addr: number, _value: number[], _unitID: number): void => readOnly(),
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
  const servers: Listener[] = [];
  const ports = { potline: 0, energy: 0, ladle: 0, anode: 0 } satisfies Record<StationId, number>;
  try {
    for (const id of STATION_IDS) {
      const wanted = options.ports?.[id] ?? 0;
      try {
        const server = await listenModbusTcp(stationVector(registerMap[id], model, clock), host, wanted);
        servers.push(server);
        ports[id] = server.port;
      } catch (err) {
        throw new Error(
          `aluminium simulator: station ${id} cannot listen on ${host}:${wanted}: ${String(err)}`,
          {
            cause: err,
          },
        );
      }
    }
  } catch (err) {
    await Promise.all(servers.map((l) => l.close()));
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    host,
    ports,
    model,
    registerMap,
    stop: () => {
      stopped ??= Promise.all(servers.map((l) => l.close())).then(() => undefined);
      return stopped;
    },
  };
}
