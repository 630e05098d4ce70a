/**
 * The steel plant's OPC UA address space as data: which variable shows what, with its type, unit
 * and meaning. The same table drives the OPC UA server (opcua-server.ts) and the example site file
 * (`examples/steel-plant.site.yaml`, kept equal by `test/unit/simulators/steel.test.ts`). Pure: no
 * node-opcua import. NodeIds are `ns=1;s=<id>`. Parameter ids follow core/domain/catalogue.ts
 * (`steel.crude_steel_output`, `steel.fuel_consumption.<fuel>`, `steel.carbon_input.<material>`,
 * `steel.carbon_product_output.<product>`). Gases are metered in Nm³ and stay in Nm³ up to the package:
 * their factors are per 10^4 Nm³ (core/domain/units.ts), never per tonne.
 *
 * Boundary (docs/domain.md §2.3, carbon balance): the carbon entering counts (coke, injection coal,
 * natural gas, limestone flux) and the carbon leaving is deducted (crude steel, tar, crude benzol,
 * converter gas recovered for sale). Blast-furnace and coke-oven gas burnt on site are made inside the
 * boundary from that coke and coal: they are metered (cross-checks) but feed no parameter, or their
 * carbon would count twice.
 */
import { FLOW_UNITS, STEEL_FLOWS, type SteelFlow, type SteelSnapshot } from './model.ts';

/** Port of the demo and of `mrv sim steel` (the IANA OPC UA port 4840 + 1). */
export const STEEL_DEMO_PORT = 4841;

/** Aggregation kinds of core/schema/wire.ts `PointMeta.aggregation`. */
export type Aggregation = 'totalizer' | 'events' | 'rate' | 'gauge';

/** One variable of the steel plant's OPC UA server. */
export interface SteelVariable {
  /** String NodeId identifier (`ns=1;s=<id>`); the part before the last dot is its folder. */
  id: string;
  /** Point id in the example site file. */
  point: string;
  dataType: 'Double' | 'UInt32' | 'UInt64';
  /** Engineering unit of the variable's value (the site file may scale it). */
  unit: string;
  description: string;
  /** Meter id (site `meters[]`). */
  meter: string;
  parameter?: string;
  aggregation: Aggregation;
  /** EURange for flow rates (AnalogItem, so percent deadbands work). */
  euRange?: { low: number; high: number };
  read: (s: SteelSnapshot) => number;
  /** When the value last changed, ms (its SourceTimestamp); absent: the sampling time. */
  changedAt?: (s: SteelSnapshot) => number;
}

const FLOW_NAMES: Record<
  SteelFlow,
  { folder: string; en: string; zh: string; parameter?: string; meter: string }
> = {
  cog: {
    folder: 'Gas.COG',
    en: 'coke-oven gas burnt (made on site: a cross-check, no parameter)',
    zh: '焦炉煤气',
    meter: 'fm-cog-1',
  },
  bfg: {
    folder: 'Gas.BFG',
    en: 'blast-furnace gas burnt (made on site: a cross-check, no parameter)',
    zh: '高炉煤气',
    meter: 'fm-bfg-1',
  },
  ng: {
    folder: 'Gas.NG',
    en: 'natural gas',
    zh: '天然气',
    parameter: 'steel.fuel_consumption.natural_gas',
    meter: 'fm-ng-1',
  },
  pci: {
    folder: 'BF1.PCI',
    en: 'pulverised coal injected',
    zh: '喷吹煤',
    parameter: 'steel.fuel_consumption.pulverized_coal',
    meter: 'scale-pci-1',
  },
  coke: {
    folder: 'BF1.Coke',
    en: 'coke charged',
    zh: '焦炭',
    parameter: 'steel.fuel_consumption.coke',
    meter: 'scale-coke-1',
  },
  tar: {
    folder: 'Products.Tar',
    en: 'tar output',
    zh: '焦油',
    parameter: 'steel.carbon_product_output.tar',
    meter: 'scale-tar-1',
  },
  benzol: {
    folder: 'Products.Benzol',
    en: 'crude benzol output',
    zh: '粗苯',
    parameter: 'steel.carbon_product_output.crude_benzol',
    meter: 'scale-benzol-1',
  },
  limestone: {
    folder: 'Flux.Limestone',
    en: 'limestone flux charged',
    zh: '石灰石熔剂',
    parameter: 'steel.carbon_input.limestone',
    meter: 'scale-flux-1',
  },
};

function flowVariables(f: SteelFlow): SteelVariable[] {
  const n = FLOW_NAMES[f];
  const u = FLOW_UNITS[f];
  const slug = n.folder.toLowerCase().replace(/\./g, '_');
  return [
    {
      id: `${n.folder}.Rate`,
      point: `${slug}.rate`,
      dataType: 'Double',
      unit: u.rate,
      description: `${n.en} (${n.zh}), rate`,
      meter: n.meter,
      aggregation: 'gauge',
      euRange: { low: 0, high: u.rate === 'Nm³/h' ? 500_000 : 200 },
      read: (s) => s.rates[f],
    },
    {
      id: `${n.folder}.Total`,
      point: `${slug}.total`,
      dataType: 'UInt64',
      unit: u.total,
      description: `${n.en} (${n.zh}), totalizer`,
      meter: n.meter,
      ...(n.parameter ? { parameter: n.parameter } : {}),
      aggregation: 'totalizer',
      read: (s) => s.totals[f],
    },
  ];
}

/** Every variable of the steel plant, in address-space order. */
export const STEEL_VARIABLES: readonly SteelVariable[] = [
  {
    id: 'BOF1.Ladle.HeatNo',
    point: 'bof1.heat_no',
    dataType: 'UInt32',
    unit: '1',
    description: 'heat number (炉号) of the last ladle weighed',
    meter: 'ladle-scale-bof1',
    aggregation: 'gauge',
    read: (s) => s.bof.heatNo,
    // Written by the scale with the weight, at the tap: one SourceTimestamp pairs the two.
    changedAt: (s) => s.bof.time,
  },
  {
    id: 'BOF1.Ladle.NetWeight',
    point: 'bof1.ladle_net',
    dataType: 'UInt32',
    unit: 'kg',
    description: 'net crude steel of the last ladle (粗钢); one event per heat, identified by HeatNo',
    meter: 'ladle-scale-bof1',
    parameter: 'steel.crude_steel_output',
    aggregation: 'events',
    read: (s) => s.bof.netKg,
    changedAt: (s) => s.bof.time,
  },
  {
    id: 'BOF1.CrudeSteel.Total',
    point: 'bof1.crude_steel_total',
    dataType: 'UInt64',
    unit: 'kg',
    description: 'cumulative ladle net weight (cross-check of the crude steel output)',
    meter: 'ladle-scale-bof1',
    aggregation: 'totalizer',
    read: (s) => s.bof.crudeSteelTotalKg,
  },
  {
    id: 'Products.LDG.Total',
    point: 'products_ldg.total',
    dataType: 'UInt64',
    unit: 'Nm³',
    description: 'converter gas recovered (转炉煤气回收), a carbon-bearing output',
    meter: 'fm-ldg-1',
    parameter: 'steel.carbon_product_output.converter_gas',
    aggregation: 'totalizer',
    read: (s) => s.bof.ldgTotalNm3,
  },
  ...STEEL_FLOWS.flatMap(flowVariables),
];

/** Meters the variables belong to. */
export const STEEL_METERS: readonly string[] = [...new Set(STEEL_VARIABLES.map((v) => v.meter))];
