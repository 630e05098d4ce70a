/**
 * Modbus TCP front of the steel plant model: the weighing indicator (称重仪表) of the BOF 1 ladle
 * crane scale, read straight from the instrument beside the DCS's OPC UA copy (opcua-server.ts). In a
 * plant the ladle scale is a stand-alone indicator with a Modbus TCP port; reading it directly gives
 * the crude steel output from the primary instrument, a cross-check of the DCS tags.
 *
 * One slave, unit id {@link STEEL_LADLE_UNIT_ID}, holding registers 0–8 (zero-based PDU addresses),
 * big-endian words (ABCD), the same numbers as the OPC UA `BOF1.*` variables:
 *
 * | address | type   | meaning                                             |
 * |---------|--------|-----------------------------------------------------|
 * | 0–1     | uint32 | heat number (炉号) of the last ladle ticket         |
 * | 2–3     | uint32 | net crude steel of that ladle, kg                   |
 * | 4–7     | uint64 | cumulative net weight of every ladle, kg            |
 * | 8       | uint16 | status word: bit 0 weighing in operation            |
 *
 * Faults per unit id through {@link SteelModbusSimulator.faults} (time out, exception, restart), as the
 * cement and aluminium simulators (simulators/shared/modbus-server.ts).
 */
import { type Clock, systemClock } from '../../core/time.ts';
import {
  EXCEPTION,
  FaultControl,
  listenModbusTcp,
  modbusError,
  type SimSlave,
  serviceVector,
} from '../shared/modbus-server.ts';
import type { SteelPlantModel, SteelSnapshot } from './model.ts';

/** Port of the ladle scale in the demo and `mrv sim steel` (`examples/steel-plant.site.yaml`). */
export const STEEL_MODBUS_DEMO_PORT = 15040;
/** Unit id of the ladle scale indicator. */
export const STEEL_LADLE_UNIT_ID = 1;
/** Holding registers of the ladle scale (addresses 0 .. count-1). */
export const STEEL_LADLE_REGISTER_COUNT = 9;

/** The ladle scale's register image for a snapshot (see the table in the file comment). */
export function ladleRegisters(s: SteelSnapshot): number[] {
  const u32 = (v: number) => [Math.floor(v / 0x10000) & 0xffff, v & 0xffff];
  const big = BigInt(s.bof.crudeSteelTotalKg);
  const u64 = [48n, 32n, 16n, 0n].map((shift) => Number((big >> shift) & 0xffffn));
  return [...u32(s.bof.heatNo), ...u32(s.bof.netKg), ...u64, 1];
}

/** Options of {@link startSteelModbusSimulator}. */
export interface SteelModbusOptions {
  /** The model the OPC UA front shows too (one plant). */
  model: SteelPlantModel;
  clock?: Clock;
  host?: string;
  /** 0 or absent picks a free port. */
  port?: number;
}

/** A running ladle scale. */
export interface SteelModbusSimulator {
  host: string;
  port: number;
  /** Per unit id: time out, answer exceptions, be down for a while; `clear` ends a fault. */
  faults: FaultControl;
  /** Closes the listener and its sockets. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the ladle scale's Modbus TCP server on the model of a running steel simulator.
 * @throws the bind error (e.g. EADDRINUSE)
 * @example
 * const ua = await startSteelSimulator({ seed: 3 });
 * const scale = await startSteelModbusSimulator({ model: ua.model, port: 0 });
 * // mbpoll -m tcp -p ${scale.port} -a 1 -0 -r 2 -c 2 -t 4 -1 127.0.0.1   → net kg, two words
 */
export async function startSteelModbusSimulator(options: SteelModbusOptions): Promise<SteelModbusSimulator> {
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? systemClock;
  const { model } = options;
  const faults = new FaultControl(clock);
  const slave: SimSlave = {
    read: (table, address, length) => {
      if (table !== 'holding' || address + length > STEEL_LADLE_REGISTER_COUNT || length < 1)
        throw modbusError(
          EXCEPTION.ILLEGAL_DATA_ADDRESS,
          `ladle scale: ${table} ${address}+${length} outside holding 0+${STEEL_LADLE_REGISTER_COUNT}`,
        );
      model.advanceTo(clock.now());
      return ladleRegisters(model.snapshot()).slice(address, address + length);
    },
  };
  const listener = await listenModbusTcp(
    serviceVector((u) => (u === STEEL_LADLE_UNIT_ID ? slave : undefined), faults),
    host,
    options.port ?? 0,
  );
  return { host, port: listener.port, faults, stop: () => listener.close() };
}
