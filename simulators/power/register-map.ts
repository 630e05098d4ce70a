/**
 * Register map of the simulated coal-fired unit's meters, as data: the devices of
 * `examples/power-plant.site.yaml` (kept equal by test/unit/simulators/power.test.ts), each a block of
 * one table answered from a model snapshot (simulators/shared/register-block.ts).
 *
 * Four Modbus TCP servers ("ports"), as in a plant: the coal feeders' bus gateway (unit ids 1 and 2,
 * input registers), the conveyor belt scale, the generator-terminal energy meter and a converter in
 * front of the tariff meter (unit id 1) and the heat meter (unit id 2). Totalizers are uint32 integers
 * in raw units (kg, 0.1 t, kWh, 0.01 GJ) with a decimal scale, so the key parameters stay exact; rates
 * and power are float32.
 */
import type { BlockPoint } from '../shared/register-block.ts';
import type { PowerSnapshot } from './model.ts';

/** The Modbus TCP servers of the simulated unit. */
export const POWER_PORT_IDS = ['feeders', 'bunker', 'generator', 'grid'] as const;
/** One of {@link POWER_PORT_IDS}. */
export type PowerPortId = (typeof POWER_PORT_IDS)[number];

/**
 * Ports of `mrv sim power`, `mrv demo --units power` and `examples/power-plant.site.yaml`. Not
 * 15040–15043: the steel simulator's ladle scale listens on 15040 in the demo.
 */
export const POWER_DEMO_PORTS: Readonly<Record<PowerPortId, number>> = Object.freeze({
  feeders: 15050,
  bunker: 15051,
  generator: 15052,
  grid: 15053,
});

/** Meter ids (declared under `meters[]` in the example site file). */
export const POWER_METERS = {
  feederA: 'feeder-scale-a',
  feederB: 'feeder-scale-b',
  bunker: 'belt-scale-bunker',
  generator: 'em-generator-1',
  tariff: 'em-tariff-1',
  heat: 'heat-meter-supply-1',
} as const;

/**
 * Key parameter ids of a power unit (core/domain/catalogue.ts, docs/domain.md §2.4). Fuel parameters
 * are qualified by the fuel's kind: an unqualified `power.fuel_consumption` computes no fuel CO2.
 */
export const POWER_PARAMETER_IDS = {
  fuel: 'power.fuel_consumption.bituminous_coal',
  ncv: 'power.ncv.bituminous_coal',
  generation: 'power.generation',
  heat: 'power.heat_supplied',
  purchased: 'power.purchased_electricity',
} as const;

/** One point of a power-plant device. */
export type PowerPoint = BlockPoint<PowerSnapshot>;

/** One device of the site file: a Modbus unit id on one of the servers, and its points. */
export interface PowerDeviceMap {
  /** Device id in the site file. */
  deviceId: string;
  port: PowerPortId;
  unitId: number;
  pollIntervalMs: number;
  /** Points in address order, contiguous, all in one table. */
  points: readonly PowerPoint[];
}

function feeder(side: 'a' | 'b'): PowerDeviceMap {
  const S = side.toUpperCase();
  const meter = side === 'a' ? POWER_METERS.feederA : POWER_METERS.feederB;
  return {
    deviceId: `coal-feeder-${side}`,
    port: 'feeders',
    unitId: side === 'a' ? 1 : 2,
    pollIntervalMs: 1000,
    points: [
      {
        id: `feeder_${side}.rate`,
        meter,
        unit: 't/h',
        description: `Coal feed rate, feeder ${S}`,
        descriptionZh: `${S}给煤机瞬时给煤量`,
        aggregation: 'gauge',
        table: 'input',
        address: 0,
        type: 'float32',
        order: 'ABCD',
        raw: (s) => (side === 'a' ? s.feederATph : s.feederBTph),
      },
      {
        id: `feeder_${side}.total`,
        meter,
        unit: 't',
        description: `Coal fed, feeder ${S}, cumulative (raw kg, low word first)`,
        descriptionZh: `${S}给煤机累计给煤量 (原始值 kg)`,
        parameter: POWER_PARAMETER_IDS.fuel,
        aggregation: 'totalizer',
        maxRate: '90',
        table: 'input',
        address: 2,
        type: 'uint32',
        order: 'CDAB',
        scale: '0.001',
        raw: (s) => (side === 'a' ? s.counters.feederAKg : s.counters.feederBKg),
      },
    ],
  };
}

/** The devices of the example site file, in its order. */
export const POWER_REGISTER_MAP: readonly PowerDeviceMap[] = [
  feeder('a'),
  feeder('b'),
  {
    deviceId: 'bunker-belt-scale',
    port: 'bunker',
    unitId: 1,
    pollIntervalMs: 1000,
    points: [
      {
        id: 'bunker_belt.rate',
        meter: POWER_METERS.bunker,
        unit: 't/h',
        description: 'Conveyor flow',
        descriptionZh: '入炉煤皮带瞬时流量',
        aggregation: 'gauge',
        table: 'holding',
        address: 0,
        type: 'float32',
        order: 'ABCD',
        raw: (s) => s.conveyorTph,
      },
      {
        id: 'bunker_belt.total',
        meter: POWER_METERS.bunker,
        unit: 't',
        description: 'Coal conveyed to the bunkers, cumulative (raw 0.1 t)',
        descriptionZh: '入炉煤累计量 (原始值 0.1 t)',
        aggregation: 'totalizer',
        maxRate: '1000',
        table: 'holding',
        address: 2,
        type: 'uint32',
        order: 'ABCD',
        scale: '0.1',
        raw: (s) => s.counters.conveyor100Kg,
      },
    ],
  },
  {
    deviceId: 'generator-meter',
    port: 'generator',
    unitId: 1,
    pollIntervalMs: 1000,
    points: [
      {
        id: 'gen.active_energy_export',
        meter: POWER_METERS.generator,
        unit: 'MWh',
        description: 'Active energy exported at the generator terminals (raw kWh, uint32 CDAB)',
        descriptionZh: '发电机出口正向有功电量 (原始值 kWh)',
        parameter: POWER_PARAMETER_IDS.generation,
        aggregation: 'totalizer',
        maxRate: '300',
        table: 'holding',
        address: 0,
        type: 'uint32',
        order: 'CDAB',
        scale: '0.001',
        raw: (s) => s.counters.genKwh,
      },
      {
        id: 'gen.active_power',
        meter: POWER_METERS.generator,
        unit: 'MW',
        description: 'Active power',
        descriptionZh: '有功功率',
        aggregation: 'gauge',
        table: 'holding',
        address: 2,
        type: 'float32',
        order: 'CDAB',
        raw: (s) => s.grossMw,
      },
      {
        id: 'gen.aux_energy',
        unit: 'MWh',
        description: 'Auxiliary (station service) energy, cumulative (raw kWh)',
        descriptionZh: '厂用电量累计 (原始值 kWh)',
        aggregation: 'totalizer',
        maxRate: '30',
        table: 'holding',
        address: 4,
        type: 'uint32',
        order: 'CDAB',
        scale: '0.001',
        raw: (s) => s.counters.auxKwh,
      },
    ],
  },
  {
    deviceId: 'tariff-meter',
    port: 'grid',
    unitId: 1,
    pollIntervalMs: 5000,
    points: [
      {
        id: 'grid.import_energy',
        meter: POWER_METERS.tariff,
        unit: 'MWh',
        description: 'Energy imported from the grid (raw kWh)',
        descriptionZh: '关口下网电量 (购入电量, 原始值 kWh)',
        parameter: POWER_PARAMETER_IDS.purchased,
        aggregation: 'totalizer',
        maxRate: '30',
        table: 'holding',
        address: 0,
        type: 'uint32',
        order: 'CDAB',
        scale: '0.001',
        raw: (s) => s.counters.importKwh,
      },
      {
        id: 'grid.export_energy',
        meter: POWER_METERS.tariff,
        unit: 'MWh',
        description: 'Energy exported to the grid (raw kWh)',
        descriptionZh: '关口上网电量 (原始值 kWh)',
        aggregation: 'totalizer',
        maxRate: '300',
        table: 'holding',
        address: 2,
        type: 'uint32',
        order: 'CDAB',
        scale: '0.001',
        raw: (s) => s.counters.exportKwh,
      },
    ],
  },
  {
    deviceId: 'heat-meter',
    port: 'grid',
    unitId: 2,
    pollIntervalMs: 5000,
    points: [
      {
        id: 'heat.supplied_total',
        meter: POWER_METERS.heat,
        unit: 'GJ',
        description: 'Heat supplied in steam, cumulative (raw 0.01 GJ)',
        descriptionZh: '对外供热量累计 (原始值 0.01 GJ)',
        parameter: POWER_PARAMETER_IDS.heat,
        aggregation: 'totalizer',
        maxRate: '250',
        table: 'holding',
        address: 0,
        type: 'uint32',
        order: 'ABCD',
        scale: '0.01',
        raw: (s) => s.counters.heat10MJ,
      },
      {
        id: 'heat.steam_flow',
        meter: POWER_METERS.heat,
        unit: 't/h',
        description: 'Steam flow to customers',
        descriptionZh: '对外供汽流量',
        aggregation: 'gauge',
        table: 'holding',
        address: 2,
        type: 'float32',
        order: 'ABCD',
        raw: (s) => s.steamTph,
      },
    ],
  },
  // The coal lab's LIMS (实验室信息管理系统) publishes the as-fired NCV of the latest sample on the same
  // converter (unit id 3): a lab result, not a meter reading (no `meter`). No elemental carbon is
  // published, so the evidence uses the default carbon per unit heat and says so.
  {
    deviceId: 'coal-lab',
    port: 'grid',
    unitId: 3,
    pollIntervalMs: 60000,
    points: [
      {
        id: 'lab.ncv_as_fired',
        unit: 'GJ/t',
        description: 'As-fired coal NCV, latest lab result (raw 0.001 GJ/t)',
        descriptionZh: '入炉煤收到基低位发热量化验值 (原始值 0.001 GJ/t)',
        parameter: POWER_PARAMETER_IDS.ncv,
        aggregation: 'gauge',
        table: 'holding',
        address: 0,
        type: 'uint32',
        order: 'ABCD',
        scale: '0.001',
        raw: (s) => Math.round(s.asFiredNcvGjPerT * 1000),
      },
    ],
  },
];
