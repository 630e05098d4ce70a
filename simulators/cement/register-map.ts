/**
 * Register map of the simulated cement line's scales, as data. Every feeder is one weigh-feeder
 * controller on the scale bus with the same map (as one vendor's controllers would have), addressed by
 * its unit id (model.ts `FEEDERS`). The same table drives the Modbus slaves and the example site file
 * (`examples/cement-plant.site.yaml`, kept equal by test/unit/simulators/cement.test.ts).
 *
 * Addresses are zero-based PDU addresses. Holding registers 0–15 hold the process values in one
 * block (one request of 16 registers), with a uint32 totalizer in raw kg (× 0.001 = t, exact), a
 * float32 rate, a status word whose bits are points of their own, and the material name as text.
 */

import type { ModbusPoint } from '../../drivers/modbus/config.ts';
import { bytesToRegisters, encodeRaw, encodeString } from '../../drivers/modbus/decode.ts';
import { EXCEPTION, modbusError, type SimTable } from '../shared/modbus-server.ts';
import { FEEDERS, type FeederId, type FeederState } from './model.ts';

/** Holding-register layout of a feeder controller. */
export const HOLDING = {
  /** float32 ABCD, t/h. */
  rate: 0,
  /** uint32 CDAB (low word first), kg; scale 0.001 → t. */
  total: 2,
  /** uint16 status word: bit 0 running, bit 1 low-material alarm, bit 2 power failure since last acknowledgement. */
  status: 4,
  /** uint16 substitute raw material type code (model.ts `FeederInfo.substituteType`). */
  substituteType: 5,
  /** uint16 totalizer resets since commissioning. */
  resets: 6,
  /** 7: reserved, 0. 8–15: material name, ASCII, 16 characters, NUL padded. */
  material: 8,
  /** Registers in the block. */
  count: 16,
} as const;

/** Coil 0: run command (reads back the running state). Discrete inputs 0 running, 1 low-material alarm. */
export const BITS = { running: 0, lowMaterial: 1, count: 2 } as const;

/** Meter ids of the scales (declared under `meters[]` in the example site file). */
export const CEMENT_METERS: Readonly<Record<FeederId, string>> = {
  clinker: 'belt-scale-clinker-1',
  rawmeal: 'feeder-rawmeal-1',
  coal: 'feeder-coal-1',
  carbideSlag: 'feeder-carbide-slag-1',
  steelSlag: 'feeder-steel-slag-1',
  flyAsh: 'feeder-fly-ash-1',
};

/**
 * Key parameter ids (core/domain/catalogue.ts, docs/domain.md §2.2). Substitute materials and fuels
 * are qualified by their kind (`cement.substitute.<material>`, `cement.fuel_consumption.<fuel>`): the
 * kind picks the deduction factor or the fuel factors in the factor pack, so an unqualified id would
 * deduct nothing and compute no fuel CO2 (issue 18).
 */
export const CEMENT_PARAMETER_IDS = {
  clinkerOutput: 'cement.clinker_output',
  substituteMaterial: 'cement.substitute',
  fuel: 'cement.fuel_consumption',
  /** The kiln coal's kind: pulverised bituminous coal (窑用煤粉). */
  coalKind: 'bituminous_coal',
} as const;

/** Register values of a feeder's holding block from its state. */
export function encodeHolding(id: FeederId, s: FeederState): number[] {
  const status = (s.running ? 1 : 0) | (s.running && s.rateTph === 0 ? 2 : 0) | (s.restarted ? 4 : 0);
  return [
    ...bytesToRegisters(encodeRaw(s.rateTph, 'float32', 'ABCD')),
    ...bytesToRegisters(encodeRaw(s.totalKg, 'uint32', 'CDAB')),
    status,
    FEEDERS[id].substituteType,
    s.resets & 0xffff,
    0,
    ...bytesToRegisters(encodeString(FEEDERS[id].material, 8, 'AB')),
  ];
}

/**
 * Reads `length` values of `table` from a feeder's state.
 * @throws modbusError 02 (illegal data address) outside the maps above, as the controller does
 */
export function readFeeder(
  id: FeederId,
  s: FeederState,
  table: SimTable,
  address: number,
  length: number,
): number[] {
  const block =
    table === 'holding'
      ? encodeHolding(id, s)
      : table === 'coil'
        ? [s.running ? 1 : 0, 0]
        : table === 'discrete'
          ? [s.running ? 1 : 0, s.running && s.rateTph === 0 ? 1 : 0]
          : [];
  if (length < 1 || address + length > block.length)
    throw modbusError(EXCEPTION.ILLEGAL_DATA_ADDRESS, `${id}: ${table} ${address}+${length} outside the map`);
  return block.slice(address, address + length);
}

/** A point of the example site file (`ModbusPoint` before defaults). */
export type SitePoint = Omit<ModbusPoint, 'order'> & { order?: ModbusPoint['order'] };

/**
 * Each feeder's declared maximum rate (its scale's capacity), t/h: the site file's `maxRate` of its
 * totalizer, about 1.4 × the model's nominal feed (CEMENT_PARAMETERS), so a roll-over or reset is told
 * from a guess by physics (core/domain/aggregate.ts `classifyCounterStep`).
 */
export const FEEDER_MAX_TPH: Readonly<Record<FeederId, string>> = {
  clinker: '300',
  rawmeal: '450',
  coal: '40',
  carbideSlag: '30',
  steelSlag: '12',
  flyAsh: '18',
};

/** Largest backwards step of a feeder totalizer taken as a zero correction, t (50 kg). */
export const FEEDER_CORRECTION_T = '0.05';

/**
 * The site-file points of one feeder: rate, totalizer (t) and the running bit; the clinker totalizer
 * feeds clinker output, the substitute materials' totalizers feed their consumption, the coal
 * totalizer fuel consumption. The rate is polled every second, the rest every 5 s (two poll groups).
 */
export function feederPoints(id: FeederId, meter: string): SitePoint[] {
  const name = `${FEEDERS[id].material.toLowerCase()} / ${FEEDERS[id].materialZh}`;
  // The point prefix is also the material's kind in the factor pack (cement.deduction.<kind>).
  const p =
    id === 'carbideSlag'
      ? 'carbide_slag'
      : id === 'steelSlag'
        ? 'steel_slag'
        : id === 'flyAsh'
          ? 'fly_ash'
          : id;
  const parameter =
    id === 'clinker'
      ? CEMENT_PARAMETER_IDS.clinkerOutput
      : FEEDERS[id].substituteType > 0
        ? `${CEMENT_PARAMETER_IDS.substituteMaterial}.${p}`
        : id === 'coal'
          ? `${CEMENT_PARAMETER_IDS.fuel}.${CEMENT_PARAMETER_IDS.coalKind}`
          : undefined;
  return [
    {
      id: `${p}.rate`,
      meter,
      unit: 't/h',
      description: `${name}: feed rate`,
      aggregation: 'rate',
      table: 'holding',
      address: HOLDING.rate,
      type: 'float32',
      order: 'ABCD',
    },
    {
      id: `${p}.total`,
      meter,
      unit: 't',
      description: `${name}: totalizer`,
      ...(parameter ? { parameter } : {}),
      aggregation: 'totalizer',
      maxRate: FEEDER_MAX_TPH[id],
      correctionTolerance: FEEDER_CORRECTION_T,
      table: 'holding',
      address: HOLDING.total,
      type: 'uint32',
      order: 'CDAB',
      scale: '0.001',
      pollIntervalMs: 5000,
    },
    {
      id: `${p}.running`,
      meter,
      unit: '',
      description: `${name}: running (status word bit 0)`,
      aggregation: 'gauge',
      table: 'holding',
      address: HOLDING.status,
      type: 'bool',
      bit: 0,
      pollIntervalMs: 5000,
    },
    {
      id: `${p}.low_material`,
      meter,
      unit: '',
      description: `${name}: low-material alarm (discrete input 1)`,
      aggregation: 'gauge',
      table: 'discrete',
      address: BITS.lowMaterial,
      type: 'bool',
      pollIntervalMs: 5000,
    },
  ];
}
