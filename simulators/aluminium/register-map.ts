/**
 * Register maps of the simulated aluminium smelter's stations, as data. The same table drives the
 * Modbus server (which registers answer what) and the example site file
 * (`examples/aluminium-smelter.site.yaml`, kept equal by `test/unit/simulators/example-site.test.ts`).
 *
 * Addresses are zero-based PDU addresses (add 1 for a 1-based "3xxxx/4xxxx" reference). Each station
 * is one meter with its own IP/port in a plant, and each station's points form one contiguous block of
 * one table, so a gateway reads a station with a single request (≤ 125 registers, Modbus §6.3/§6.4).
 * Integers carry masses and energy exactly (raw kg or kWh × a decimal scale); floats carry the analogue
 * signals (current, voltage, power), as real transducers and meters do.
 */
import { encodeRaw, registerCount } from '../../drivers/modbus/decode.ts';
import {
  type BlockPoint,
  encodePoints,
  pointsBlock,
  type RegisterBlock,
  type SitePoint,
  toSitePoints,
} from '../shared/register-block.ts';
import type { AluminiumSnapshot, LadleTicket } from './model.ts';

/** The four stations; each is a separate Modbus TCP server. */
export const STATION_IDS = ['potline', 'energy', 'ladle', 'anode'] as const;
/** A station of the simulated smelter. */
export type StationId = (typeof STATION_IDS)[number];

export type { AggregationKind, RegisterBlock, SitePoint } from '../shared/register-block.ts';

/**
 * One point of a station: where it lives, how it is encoded, what it means, and how its raw register
 * value is taken from a model snapshot (simulators/shared/register-block.ts `BlockPoint`).
 */
export type RegisterPoint = BlockPoint<AluminiumSnapshot>;

/** One station: a Modbus TCP server with its device id in the site file and its points. */
export interface StationMap {
  id: StationId;
  /** Device id in the site file. */
  deviceId: string;
  /** Human name, English. */
  name: string;
  /** Human name, Chinese. */
  nameZh: string;
  /** Points in address order, contiguous, all in one table. */
  points: readonly RegisterPoint[];
}

/** Ports of the demo (`mrv demo`, `examples/aluminium-smelter.site.yaml`): one per station. */
export const ALUMINIUM_DEMO_PORTS: Readonly<Record<StationId, number>> = Object.freeze({
  potline: 15020,
  energy: 15021,
  ladle: 15022,
  anode: 15023,
});

/** Meter ids used by the map (declared under `meters[]` in the example site file). */
export const ALUMINIUM_METERS = {
  lineCurrent: 'ct-potline-1',
  dcMeter: 'em-potline-dc-1',
  ladleScale: 'ladle-scale-1',
  anodeScale: 'anode-scale-1',
} as const;

/** Key parameter ids (the aluminium catalogue of core/domain, docs/domain.md §2). */
export const ALUMINIUM_PARAMETER_IDS = {
  liquidOutput: 'aluminium.liquid_output',
  anodeConsumption: 'aluminium.anode_consumption',
  /** Supporting parameters of the PFC slope method (AEM). */
  anodeEffectDuration: 'aluminium.anode_effect_duration',
  cellsInOperation: 'aluminium.cells_in_operation',
} as const;

/** Lays points out one after another from `base`, so a block can never have gaps or overlaps. */
function layout(
  table: 'holding' | 'input',
  base: number,
  points: readonly Omit<RegisterPoint, 'table' | 'address'>[],
): RegisterPoint[] {
  let address = base;
  return points.map((p) => {
    const placed: RegisterPoint = { ...p, table, address };
    address += registerCount(p.type);
    return placed;
  });
}

function cellPoints(count: number): Omit<RegisterPoint, 'table' | 'address'>[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(2, '0');
    return {
      id: `potline.cell${n}.voltage`,
      type: 'uint16',
      order: 'AB',
      scale: '0.001',
      unit: 'V',
      description: `Cell ${i + 1} voltage (raw mV)`,
      descriptionZh: `${i + 1}号电解槽槽电压 (原始值 mV)`,
      aggregation: 'gauge',
      raw: (s: AluminiumSnapshot) => s.potline.cellVoltagesMV[i] ?? 0,
    } as const;
  });
}

/**
 * Builds the register map for a model with `monitoredCells` exposed cell voltages (default 24, the
 * model default). The pot-line block is 10 + monitoredCells registers; at most 115 cells fit one request.
 */
export function aluminiumRegisterMap(monitoredCells = 24): Readonly<Record<StationId, StationMap>> {
  if (!Number.isInteger(monitoredCells) || monitoredCells < 0 || monitoredCells > 115)
    throw new RangeError(`aluminiumRegisterMap: monitoredCells must be 0…115, got ${monitoredCells}`);
  const M = ALUMINIUM_METERS;
  const P = ALUMINIUM_PARAMETER_IDS;
  return {
    potline: {
      id: 'potline',
      deviceId: 'potline',
      name: 'Pot-line control system: line current and cell voltages',
      nameZh: '电解系列槽控系统：系列电流与槽电压',
      points: layout('input', 0, [
        {
          id: 'potline.current',
          type: 'float32',
          order: 'ABCD',
          unit: 'kA',
          description: 'Line current (DC current transducer)',
          descriptionZh: '系列电流 (直流电流互感器)',
          meter: M.lineCurrent,
          aggregation: 'gauge',
          raw: (s) => s.potline.currentKA,
        },
        {
          id: 'potline.voltage',
          type: 'float32',
          order: 'ABCD',
          unit: 'V',
          description: 'Total line voltage',
          descriptionZh: '系列总电压',
          aggregation: 'gauge',
          raw: (s) => s.potline.lineVoltageV,
        },
        {
          id: 'potline.ae_count',
          type: 'uint32',
          order: 'ABCD',
          unit: 'count',
          description: 'Anode effects since counter reset, whole line (cumulative)',
          descriptionZh: '阳极效应次数累计 (全系列)',
          aggregation: 'totalizer',
          maxRate: '60',
          maxStep: '5',
          raw: (s) => s.potline.anodeEffectCount,
        },
        {
          id: 'potline.ae_seconds',
          type: 'uint32',
          order: 'ABCD',
          unit: 's',
          description: 'Anode-effect cell-seconds, whole line (cumulative; AEM = minutes / cell-days)',
          descriptionZh: '阳极效应持续时间累计 (槽·秒, 全系列)',
          parameter: P.anodeEffectDuration,
          aggregation: 'totalizer',
          maxRate: '36000',
          raw: (s) => s.potline.anodeEffectSeconds,
        },
        {
          id: 'potline.ae_active',
          type: 'uint16',
          order: 'AB',
          unit: 'count',
          description: 'Cells in anode effect now',
          descriptionZh: '当前发生阳极效应的槽数',
          aggregation: 'gauge',
          raw: (s) => s.potline.activeAnodeEffects,
        },
        {
          id: 'potline.cell_count',
          type: 'uint16',
          order: 'AB',
          unit: 'count',
          description: 'Cells in operation in the line',
          descriptionZh: '系列运行槽数',
          parameter: P.cellsInOperation,
          aggregation: 'gauge',
          raw: (s) => s.potline.cellsInLine,
        },
        ...cellPoints(monitoredCells),
      ]),
    },
    energy: {
      id: 'energy',
      deviceId: 'potline-dc-meter',
      name: 'Pot-line DC electricity meter',
      nameZh: '电解系列直流电能表',
      points: layout('holding', 0, [
        {
          id: 'energy.dc_import',
          type: 'uint32',
          order: 'CDAB',
          scale: '0.001',
          unit: 'MWh',
          description: 'DC energy into the pot-line, totalizer (raw kWh, rolls over at 2^32 kWh)',
          descriptionZh: '电解系列直流电量累计 (原始值 kWh, 2^32 kWh 翻转)',
          meter: M.dcMeter,
          aggregation: 'totalizer',
          maxRate: '700',
          raw: (s) => s.energy.totalizerKWh,
        },
        {
          id: 'energy.dc_power',
          type: 'float32',
          order: 'CDAB',
          unit: 'kW',
          description: 'DC power of the pot-line',
          descriptionZh: '电解系列直流功率',
          meter: M.dcMeter,
          aggregation: 'gauge',
          raw: (s) => s.energy.powerKW,
        },
      ]),
    },
    ladle: {
      id: 'ladle',
      deviceId: 'ladle-scale',
      name: 'Vacuum-ladle weighing station (last ticket)',
      nameZh: '真空抬包称量站 (最近一张称量单)',
      points: layout('holding', 0, [
        {
          id: 'ladle.ticket_no',
          type: 'uint32',
          order: 'ABCD',
          unit: 'id',
          description: 'Ticket number of the last weighing',
          descriptionZh: '最近称量单号',
          meter: M.ladleScale,
          raw: (s) => s.ladle.ticketNo,
        },
        {
          id: 'ladle.ticket_time',
          type: 'uint32',
          order: 'ABCD',
          unit: 's',
          description: 'Time of the last weighing, s since 1970-01-01 UTC',
          descriptionZh: '最近称量时间 (Unix 秒)',
          meter: M.ladleScale,
          raw: (s) => s.ladle.time,
        },
        {
          id: 'ladle.gross',
          type: 'uint32',
          order: 'ABCD',
          scale: '0.001',
          unit: 't',
          description: 'Gross weight of the last ladle (raw kg)',
          descriptionZh: '抬包毛重 (原始值 kg)',
          meter: M.ladleScale,
          raw: (s) => s.ladle.grossKg,
        },
        {
          id: 'ladle.tare',
          type: 'uint32',
          order: 'ABCD',
          scale: '0.001',
          unit: 't',
          description: 'Tare of the last ladle (raw kg)',
          descriptionZh: '抬包皮重 (原始值 kg)',
          meter: M.ladleScale,
          raw: (s) => s.ladle.tareKg,
        },
        {
          id: 'ladle.net',
          type: 'uint32',
          order: 'ABCD',
          scale: '0.001',
          unit: 't',
          description: 'Net liquid aluminium of the last ladle = gross − tare (raw kg); one event per ticket',
          descriptionZh: '抬包铝液净重 = 毛重 − 皮重 (原始值 kg), 每张称量单计一次',
          meter: M.ladleScale,
          parameter: P.liquidOutput,
          aggregation: 'events',
          ticketPoint: 'ladle.ticket_no',
          raw: (s) => s.ladle.netKg,
        },
        {
          id: 'ladle.ladle_no',
          type: 'uint16',
          order: 'AB',
          unit: 'id',
          description: 'Ladle number of the last weighing',
          descriptionZh: '抬包编号',
          meter: M.ladleScale,
          raw: (s) => s.ladle.ladleId,
        },
        {
          id: 'ladle.cell_no',
          type: 'uint16',
          order: 'AB',
          unit: 'id',
          description: 'Cell tapped into the last ladle',
          descriptionZh: '出铝槽号',
          meter: M.ladleScale,
          raw: (s) => s.ladle.cellNo,
        },
        {
          id: 'ladle.net_total',
          type: 'uint32',
          order: 'ABCD',
          scale: '0.001',
          unit: 't',
          description: 'Net weight of all tickets, cumulative (raw kg); cross-check of the ticket sum',
          descriptionZh: '铝液净重累计 (原始值 kg), 用于核对称量单之和',
          meter: M.ladleScale,
          aggregation: 'totalizer',
          maxRate: '60',
          maxStep: '4.5',
          raw: (s) => s.ladle.netTotalKg,
        },
      ]),
    },
    anode: {
      id: 'anode',
      deviceId: 'anode-scale',
      name: 'Anode-setting station: new blocks and butts',
      nameZh: '阳极更换称量站：新阳极与残极',
      points: layout('holding', 0, [
        {
          id: 'anode.blocks_set',
          type: 'uint32',
          order: 'ABCD',
          unit: 'count',
          description: 'New anode blocks set (cumulative)',
          descriptionZh: '新阳极块更换数累计',
          meter: M.anodeScale,
          aggregation: 'totalizer',
          maxRate: '40',
          maxStep: '1',
          raw: (s) => s.anode.blocksSet,
        },
        {
          id: 'anode.last_block',
          type: 'uint16',
          order: 'AB',
          unit: 'kg',
          description: 'Weight of the last new block set',
          descriptionZh: '最近一块新阳极重量',
          meter: M.anodeScale,
          raw: (s) => s.anode.lastBlockKg,
        },
        {
          id: 'anode.last_butt',
          type: 'uint16',
          order: 'AB',
          unit: 'kg',
          description: 'Weight of the last butt returned',
          descriptionZh: '最近一块残极重量',
          meter: M.anodeScale,
          raw: (s) => s.anode.lastButtKg,
        },
        {
          id: 'anode.set_total',
          type: 'uint32',
          order: 'ABCD',
          scale: '0.001',
          unit: 't',
          description:
            'Weight of new blocks set, cumulative (raw kg); anode consumption = this − butts returned',
          descriptionZh: '新阳极重量累计 (原始值 kg); 阳极消耗量 = 本值 − 残极重量累计',
          meter: M.anodeScale,
          parameter: P.anodeConsumption,
          aggregation: 'totalizer',
          maxRate: '40',
          maxStep: '1.2',
          raw: (s) => s.anode.setWeightTotalKg,
        },
        {
          id: 'anode.butts_returned',
          type: 'uint32',
          order: 'ABCD',
          unit: 'count',
          description: 'Butts returned (cumulative)',
          descriptionZh: '残极返回块数累计',
          meter: M.anodeScale,
          aggregation: 'totalizer',
          maxRate: '40',
          maxStep: '1',
          raw: (s) => s.anode.buttsReturned,
        },
        {
          id: 'anode.butt_total',
          type: 'uint32',
          order: 'ABCD',
          scale: '0.001',
          unit: 't',
          description: 'Weight of butts returned, cumulative (raw kg); subtracted from blocks set',
          descriptionZh: '残极重量累计 (原始值 kg); 从新阳极重量中扣除',
          meter: M.anodeScale,
          parameter: P.anodeConsumption,
          aggregation: 'totalizer',
          maxRate: '10',
          maxStep: '0.4',
          sign: '-',
          raw: (s) => s.anode.buttWeightTotalKg,
        },
      ]),
    },
  };
}

/** The register map of the default model (24 monitored cells). */
export const ALUMINIUM_REGISTER_MAP: Readonly<Record<StationId, StationMap>> = aluminiumRegisterMap();

/**
 * The block a station's points occupy. @throws Error when its points mix tables or leave gaps (a map bug).
 */
export function stationBlock(station: StationMap): RegisterBlock {
  return pointsBlock(`station ${station.id}`, station.points);
}

/**
 * Encodes a station's registers from a snapshot: 16-bit register values for `[start, start + count)`
 * of {@link stationBlock}, each point in its type and order. Unsigned counters wrap at their width.
 */
export function encodeStation(station: StationMap, snapshot: AluminiumSnapshot): number[] {
  return encodePoints(stationBlock(station), station.points, snapshot);
}

/**
 * A station's points in site-file form (the shape drivers/modbus/config.ts `ModbusPoint` accepts);
 * the description is "English / 中文". Used to write and to check `examples/aluminium-smelter.site.yaml`.
 */
export function sitePoints(station: StationMap): SitePoint[] {
  return toSitePoints(station.points);
}

/** One field of a ticket record: its register offset in the record, encoding and the point it feeds. */
export interface TicketLogField {
  point: string;
  register: number;
  type: 'uint16' | 'uint32';
  order: 'AB' | 'ABCD';
  scale?: string;
  /** Raw value from a ticket. */
  raw: (t: LadleTicket) => number;
}

/**
 * The ladle station's ticket memory (event log, drivers/modbus/event-log-config.ts), in holding
 * registers after a gap behind the last-ticket block: the latest ticket number (uint32) at 100, and a
 * ring of `records` records of 12 registers from 102; ticket n sits in slot n mod `records`. A record:
 * number uint32 @0, weighing time uint32 s since 1970 UTC @2, gross @4, tare @6, net @8 (uint32 kg),
 * ladle number uint16 @10, cell number uint16 @11. A slot never written reads as zeros.
 */
export const LADLE_TICKET_LOG = {
  id: 'ladle-tickets',
  table: 'holding' as const,
  indexAddress: 100,
  ringAddress: 102,
  stride: 12,
  number: { point: 'ladle.ticket_no', register: 0, type: 'uint32', order: 'ABCD' } as const,
  time: { register: 2, format: 'unix-s', order: 'ABCD' } as const,
  fields: [
    {
      point: 'ladle.gross',
      register: 4,
      type: 'uint32',
      order: 'ABCD',
      scale: '0.001',
      raw: (t) => t.grossKg,
    },
    { point: 'ladle.tare', register: 6, type: 'uint32', order: 'ABCD', scale: '0.001', raw: (t) => t.tareKg },
    { point: 'ladle.net', register: 8, type: 'uint32', order: 'ABCD', scale: '0.001', raw: (t) => t.netKg },
    { point: 'ladle.ladle_no', register: 10, type: 'uint16', order: 'AB', raw: (t) => t.ladleId },
    { point: 'ladle.cell_no', register: 11, type: 'uint16', order: 'AB', raw: (t) => t.cellNo },
  ] satisfies TicketLogField[] as readonly TicketLogField[],
};

/**
 * The ticket memory in site-file form (`devices[].eventLogs[]` of the ladle station), for a ring of
 * `records` records. Used to write and to check `examples/aluminium-smelter.site.yaml`.
 */
export function ticketLogSiteConfig(records: number): Record<string, unknown> {
  const L = LADLE_TICKET_LOG;
  return {
    id: L.id,
    description:
      'Ticket memory of the weighing terminal: latest ticket number and the last tickets / 称量终端称量单存储：最新单号与最近的称量单',
    table: L.table,
    index: { address: L.indexAddress, type: 'uint32', order: 'ABCD' },
    ring: { address: L.ringAddress, records, stride: L.stride },
    number: { ...L.number },
    time: { ...L.time },
    fields: L.fields.map(({ raw: _raw, ...f }) => f),
  };
}

/** Registers `[indexAddress, ringAddress + records × stride)` of the ticket memory from a snapshot. */
export function encodeTicketLog(snapshot: AluminiumSnapshot): number[] {
  const L = LADLE_TICKET_LOG;
  const records = snapshot.ladleLog.length;
  const regs = new Array<number>(L.ringAddress - L.indexAddress + records * L.stride).fill(0);
  const put = (at: number, value: number, type: 'uint16' | 'uint32', order: 'AB' | 'ABCD') => {
    const bytes = encodeRaw(value, type, order);
    for (let i = 0; i < bytes.length; i += 2)
      regs[at - L.indexAddress + i / 2] = ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  };
  put(L.indexAddress, snapshot.ladle.ticketNo >>> 0, 'uint32', 'ABCD');
  snapshot.ladleLog.forEach((t, slot) => {
    if (!t) return;
    const base = L.ringAddress + slot * L.stride;
    put(base + L.number.register, t.ticketNo >>> 0, 'uint32', 'ABCD');
    put(base + L.time.register, t.time >>> 0, 'uint32', 'ABCD');
    for (const f of L.fields) put(base + f.register, f.raw(t), f.type, f.order);
  });
  return regs;
}
