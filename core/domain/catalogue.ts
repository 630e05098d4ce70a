/**
 * The key-parameter catalogue (关键参数) of the four industries of the national ETS (docs/domain.md §2).
 * A site's points feed these parameters through `parameter` on the point (site file, docs/architecture.md §3);
 * `sign` on the point says whether it adds or subtracts.
 *
 * Qualified parameters (`qualifier`) come in kinds: a point feeds `cement.substitute.fly_ash`, and the
 * kind (`fly_ash`) picks the factor in the factor pack. Guideline clause numbers are not in docs/domain.md:
 * where we could not check the clause it says so (`clause: 'unconfirmed'`), it is never invented.
 */
import { z } from 'zod';
import type { Industry } from '../schema/wire.ts';

/** Where a parameter is defined: guideline id, clause, and how sure we are (docs/domain.md standing). */
export const ParameterSource = z
  .object({
    guideline: z.string().describe('e.g. CETS-AG-04.01-V01-2024'),
    clause: z.string().describe("clause or section; 'unconfirmed' when not checked against the text"),
    standing: z.enum(['official', 'practice', 'unconfirmed']),
  })
  .strict();
export type ParameterSource = z.infer<typeof ParameterSource>;

/** One catalogue entry. */
export interface KeyParameter {
  /** `industry.name`, e.g. `aluminium.liquid_output`; qualified entries take a `.kind` suffix on points. */
  id: string;
  industry: Industry;
  nameZh: string;
  nameEn: string;
  /**
   * Unit of the period value when its points say nothing else: t, MWh, GJ, cell·s, count, t C/t,
   * GJ/t. A parameter keeps its points' own unit in the evidence (a gas metered in Nm³ stays in Nm³,
   * core/domain/units.ts); points of different dimensions are never summed.
   */
  unit: string;
  /** `key`: reported in the monthly evidence as a key parameter; `supporting`: feeds a calculation only. */
  role: 'key' | 'supporting';
  /** How the plant measures it (zh / en). */
  measurement: { zh: string; en: string };
  /** Usual aggregation of the points that feed it. */
  aggregation: 'totalizer' | 'events' | 'rate' | 'gauge';
  /** Gases the parameter feeds. */
  gases: ('CO2' | 'CF4' | 'C2F6')[];
  /** Points name the kind after the id: `cement.substitute.<material>`, `power.fuel_consumption.<fuel>`. */
  qualifier?: 'material' | 'fuel' | 'product';
  /**
   * An alternative input of a calculation (the clinker's CaO/MgO instead of the default clinker
   * factor): listed in the evidence only when a point feeds it.
   */
  optional?: true;
  source: ParameterSource;
}

const AL = 'CETS-AG-04.01-V01-2024';
const CE = 'CETS-AG-02.01-V01-2024';
const ST = 'CETS-AG-03.01-V01-2024 (id probable, docs/domain.md §2)';
const PW = 'MEE power-generation accounting guideline (version for 2025 unconfirmed)';
const UNCONFIRMED = 'unconfirmed';

/** Every catalogue entry, by industry (docs/domain.md §2). */
export const KEY_PARAMETERS: readonly KeyParameter[] = [
  {
    id: 'aluminium.liquid_output',
    industry: 'aluminium',
    nameZh: '铝液产量',
    nameEn: 'Liquid aluminium output',
    unit: 't',
    role: 'key',
    measurement: {
      zh: '真空抬包出铝逐包称重 (毛重 − 皮重), 按称量单号每单计一次',
      en: 'each vacuum ladle weighed (gross − tare), counted once per ticket number',
    },
    aggregation: 'events',
    gases: ['CF4', 'C2F6'],
    source: { guideline: AL, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'aluminium.anode_consumption',
    industry: 'aluminium',
    nameZh: '阳极消耗量',
    nameEn: 'Anode consumption',
    unit: 't',
    role: 'key',
    measurement: {
      zh: '新阳极块更换重量 − 返回残极重量',
      en: 'weight of new anode blocks set − weight of butts (残极) returned',
    },
    aggregation: 'totalizer',
    gases: ['CO2'],
    source: { guideline: AL, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'aluminium.anode_effect_duration',
    industry: 'aluminium',
    nameZh: '阳极效应持续时间 (槽·秒)',
    nameEn: 'Anode-effect duration (cell-seconds)',
    unit: 'cell·s',
    role: 'supporting',
    measurement: { zh: '槽控机阳极效应记录累计', en: 'pot controllers’ anode-effect records, cumulative' },
    aggregation: 'totalizer',
    gases: ['CF4', 'C2F6'],
    source: { guideline: AL, clause: UNCONFIRMED, standing: 'practice' },
  },
  {
    id: 'aluminium.cells_in_operation',
    industry: 'aluminium',
    nameZh: '运行槽数',
    nameEn: 'Cells in operation',
    unit: 'count',
    role: 'supporting',
    measurement: {
      zh: '系列运行槽数 (时间加权平均)',
      en: 'cells in operation in the line (time-weighted mean)',
    },
    aggregation: 'gauge',
    gases: ['CF4', 'C2F6'],
    source: { guideline: AL, clause: UNCONFIRMED, standing: 'practice' },
  },
  {
    id: 'cement.clinker_output',
    industry: 'cement',
    nameZh: '熟料产量',
    nameEn: 'Clinker output',
    unit: 't',
    role: 'key',
    measurement: { zh: '熟料皮带秤累计或盘库', en: 'clinker belt-scale totalizer or stock-take' },
    aggregation: 'totalizer',
    gases: ['CO2'],
    source: { guideline: CE, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'cement.substitute',
    industry: 'cement',
    nameZh: '非碳酸盐替代原料消耗量',
    nameEn: 'Non-carbonate substitute raw material consumption',
    unit: 't',
    role: 'key',
    qualifier: 'material',
    measurement: { zh: '按原料种类的皮带秤或汽车衡', en: 'belt scale or weighbridge per material type' },
    aggregation: 'totalizer',
    gases: ['CO2'],
    source: { guideline: CE, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'cement.clinker_cao',
    industry: 'cement',
    optional: true,
    nameZh: '熟料CaO含量',
    nameEn: 'CaO content of clinker',
    unit: 't/t',
    role: 'supporting',
    measurement: { zh: '熟料化学分析 (质量分数)', en: 'clinker chemical analysis (mass fraction)' },
    aggregation: 'gauge',
    gases: ['CO2'],
    source: { guideline: CE, clause: UNCONFIRMED, standing: 'practice' },
  },
  {
    id: 'cement.clinker_mgo',
    industry: 'cement',
    optional: true,
    nameZh: '熟料MgO含量',
    nameEn: 'MgO content of clinker',
    unit: 't/t',
    role: 'supporting',
    measurement: { zh: '熟料化学分析 (质量分数)', en: 'clinker chemical analysis (mass fraction)' },
    aggregation: 'gauge',
    gases: ['CO2'],
    source: { guideline: CE, clause: UNCONFIRMED, standing: 'practice' },
  },
  {
    id: 'cement.clinker_cao_noncarbonate',
    industry: 'cement',
    optional: true,
    nameZh: '熟料中非碳酸盐来源CaO含量',
    nameEn: 'Non-carbonate CaO content of clinker',
    unit: 't/t',
    role: 'supporting',
    measurement: { zh: '生料配料与化学分析', en: 'raw-meal proportioning and chemical analysis' },
    aggregation: 'gauge',
    gases: ['CO2'],
    source: { guideline: CE, clause: UNCONFIRMED, standing: 'practice' },
  },
  {
    id: 'cement.clinker_mgo_noncarbonate',
    industry: 'cement',
    optional: true,
    nameZh: '熟料中非碳酸盐来源MgO含量',
    nameEn: 'Non-carbonate MgO content of clinker',
    unit: 't/t',
    role: 'supporting',
    measurement: { zh: '生料配料与化学分析', en: 'raw-meal proportioning and chemical analysis' },
    aggregation: 'gauge',
    gases: ['CO2'],
    source: { guideline: CE, clause: UNCONFIRMED, standing: 'practice' },
  },
  {
    id: 'cement.fuel_consumption',
    industry: 'cement',
    nameZh: '燃料消耗量',
    nameEn: 'Fuel consumption',
    unit: 't',
    role: 'supporting',
    qualifier: 'fuel',
    measurement: { zh: '煤粉秤/皮带秤累计', en: 'coal-powder or belt-scale totalizer' },
    aggregation: 'totalizer',
    gases: ['CO2'],
    source: { guideline: CE, clause: UNCONFIRMED, standing: 'practice' },
  },
  {
    id: 'steel.crude_steel_output',
    industry: 'steel',
    nameZh: '粗钢产量',
    nameEn: 'Crude steel output',
    unit: 't',
    role: 'key',
    measurement: { zh: '钢坯/钢水称重累计', en: 'weighed billets or liquid steel, cumulative' },
    aggregation: 'events',
    gases: ['CO2'],
    source: { guideline: ST, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'steel.carbon_product_output',
    industry: 'steel',
    nameZh: '含碳产品输出量',
    nameEn: 'Carbon-bearing product output',
    unit: 't',
    role: 'key',
    qualifier: 'product',
    measurement: {
      zh: '外销含碳产品汽车衡/轨道衡',
      en: 'weighbridge or rail scale of carbon-bearing products sold',
    },
    aggregation: 'events',
    gases: ['CO2'],
    source: { guideline: ST, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'steel.carbon_input',
    industry: 'steel',
    nameZh: '含碳原料/熔剂/电极消耗量',
    nameEn: 'Carbon-bearing inputs (fluxes, electrodes, purchased materials)',
    unit: 't',
    role: 'key',
    qualifier: 'material',
    measurement: { zh: '皮带秤或汽车衡', en: 'belt scale or weighbridge' },
    aggregation: 'totalizer',
    gases: ['CO2'],
    source: { guideline: ST, clause: UNCONFIRMED, standing: 'practice' },
  },
  {
    id: 'steel.fuel_consumption',
    industry: 'steel',
    nameZh: '化石燃料消耗量',
    nameEn: 'Fossil fuel consumption',
    unit: 't',
    role: 'key',
    qualifier: 'fuel',
    measurement: { zh: '燃料计量 (皮带秤/流量计)', en: 'fuel metering (belt scale, flowmeter)' },
    aggregation: 'totalizer',
    gases: ['CO2'],
    source: { guideline: ST, clause: UNCONFIRMED, standing: 'practice' },
  },
  {
    id: 'power.fuel_consumption',
    industry: 'power',
    nameZh: '燃料消耗量',
    nameEn: 'Fuel consumption',
    unit: 't',
    role: 'key',
    qualifier: 'fuel',
    measurement: { zh: '入炉煤皮带秤', en: 'as-fired coal belt scale' },
    aggregation: 'totalizer',
    gases: ['CO2'],
    source: { guideline: PW, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'power.carbon_content',
    industry: 'power',
    nameZh: '元素碳含量',
    nameEn: 'Elemental carbon content',
    unit: 't C/t',
    role: 'key',
    qualifier: 'fuel',
    measurement: {
      zh: '每月由CMA/CNAS实验室对与低位发热量同一样品检测',
      en: 'measured monthly by a CMA/CNAS lab on the same sample as the NCV',
    },
    aggregation: 'gauge',
    gases: ['CO2'],
    source: { guideline: PW, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'power.ncv',
    industry: 'power',
    nameZh: '低位发热量',
    nameEn: 'Net calorific value',
    unit: 'GJ/t',
    role: 'key',
    qualifier: 'fuel',
    measurement: { zh: '入炉煤化验', en: 'as-fired coal lab analysis' },
    aggregation: 'gauge',
    gases: ['CO2'],
    source: { guideline: PW, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'power.generation',
    industry: 'power',
    nameZh: '发电量',
    nameEn: 'Electricity generated',
    unit: 'MWh',
    role: 'key',
    measurement: { zh: '发电机出口电能表', en: 'generator-terminal energy meter' },
    aggregation: 'totalizer',
    gases: [],
    source: { guideline: PW, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'power.heat_supplied',
    industry: 'power',
    nameZh: '供热量',
    nameEn: 'Heat supplied',
    unit: 'GJ',
    role: 'key',
    measurement: { zh: '供热热量表', en: 'heat meter on the supply' },
    aggregation: 'totalizer',
    gases: [],
    source: { guideline: PW, clause: UNCONFIRMED, standing: 'official' },
  },
  {
    id: 'power.purchased_electricity',
    industry: 'power',
    nameZh: '购入电量',
    nameEn: 'Purchased electricity',
    unit: 'MWh',
    role: 'supporting',
    measurement: { zh: '关口电能表', en: 'tariff (gateway) energy meter' },
    aggregation: 'totalizer',
    gases: ['CO2'],
    source: { guideline: PW, clause: UNCONFIRMED, standing: 'official' },
  },
];

/** The catalogue entries of one industry, in catalogue order. */
export function parametersOf(industry: Industry): KeyParameter[] {
  return KEY_PARAMETERS.filter((p) => p.industry === industry);
}

/**
 * The entry of a parameter id as written on a point: exact id, or a qualified id
 * `<entry id>.<kind>` of an entry with a qualifier.
 * @returns the entry and the kind (for qualified ids), or undefined for an unknown id
 */
export function lookupParameter(id: string): { entry: KeyParameter; kind?: string } | undefined {
  const exact = KEY_PARAMETERS.find((p) => p.id === id);
  if (exact) return { entry: exact };
  const dot = id.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const entry = KEY_PARAMETERS.find((p) => p.id === id.slice(0, dot) && p.qualifier !== undefined);
  return entry ? { entry, kind: id.slice(dot + 1) } : undefined;
}
