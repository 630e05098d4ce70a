/**
 * OPC UA front of the aluminium smelter's pot-line (simulators/aluminium/model.ts, unchanged): line
 * current and voltage, the monitored cell voltages, anode effects (count started and finished,
 * cumulative cell-seconds, running now) and the DC energy, as a pot-line control system's OPC UA
 * server shows them, beside the Modbus weighing and anode stations (server.ts).
 *
 * AEM (anode-effect minutes per cell-day, the activity data of the slope method for CF4/C2F6) is
 * derived from two readings of `Potline1.AnodeEffect.CellSeconds` over a period:
 * AEM = Δ cell-seconds / 60 / (cellsInLine × days).
 *
 * Every sample first moves the model to the clock's time; SourceTimestamp = the clock's time.
 */
import { type Clock, systemClock } from '../../core/time.ts';
import { type OpcuaSimulator, type SimVariable, startOpcuaSimulator } from '../opcua-host.ts';
import { type AluminiumParams, AluminiumSmelterModel } from './model.ts';

/** Port of `mrv sim aluminium --opcua` (OPC UA's 4840 + 2). */
export const ALUMINIUM_OPCUA_DEMO_PORT = 4842;

/** Options of {@link startAluminiumOpcuaSimulator}. */
export interface AluminiumOpcuaOptions {
  host?: string;
  port?: number;
  seed?: number;
  clock?: Clock;
  start?: number;
  params?: Partial<AluminiumParams>;
  pkiDir?: string;
  /**
   * The model to serve, to share one smelter with the Modbus stations (server.ts exposes its model);
   * when given, `seed`, `start` and `params` are ignored.
   */
  model?: AluminiumSmelterModel;
}

/** A running pot-line OPC UA server with its model. */
export interface AluminiumOpcuaSimulator extends OpcuaSimulator {
  model: AluminiumSmelterModel;
}

/** The pot-line variables (NodeId `ns=1;s=<id>`), for the server and for site files. */
export function potlineVariables(
  model: AluminiumSmelterModel,
  clock: Clock,
): (SimVariable & { point: string; aggregation: 'gauge' | 'totalizer' })[] {
  const snap = () => {
    model.advanceTo(clock.now());
    return model.snapshot();
  };
  const ledger = () => {
    model.advanceTo(clock.now());
    return model.ledger();
  };
  const cells = Array.from({ length: model.params.monitoredCells }, (_, i) => i + 1);
  return [
    {
      id: 'Potline1.LineCurrent',
      point: 'pl1.current',
      dataType: 'Double',
      unit: 'kA',
      description: 'pot-line current (系列电流)',
      euRange: { low: 0, high: 600 },
      aggregation: 'gauge',
      read: () => snap().potline.currentKA,
    },
    {
      id: 'Potline1.LineVoltage',
      point: 'pl1.voltage',
      dataType: 'Double',
      unit: 'V',
      description: 'pot-line voltage (系列电压)',
      euRange: { low: 0, high: 2000 },
      aggregation: 'gauge',
      read: () => snap().potline.lineVoltageV,
    },
    ...cells.map((c) => ({
      id: `Potline1.Cells.Cell${String(c).padStart(3, '0')}.Voltage`,
      point: `pl1.cell${String(c).padStart(3, '0')}.voltage`,
      dataType: 'Float' as const,
      unit: 'V',
      description: `cell ${c} voltage (槽电压); 30–50 V during an anode effect`,
      euRange: { low: 0, high: 60 },
      aggregation: 'gauge' as const,
      read: () => {
        model.advanceTo(clock.now());
        return model.cellVoltageV(c);
      },
    })),
    {
      id: 'Potline1.AnodeEffect.Count',
      point: 'pl1.ae_count',
      dataType: 'UInt32',
      unit: '1',
      description: 'anode effects started since start (阳极效应次数)',
      aggregation: 'totalizer',
      read: () => ledger().anodeEffectCount,
    },
    {
      id: 'Potline1.AnodeEffect.Completed',
      point: 'pl1.ae_completed',
      dataType: 'UInt32',
      unit: '1',
      description: 'anode effects finished since start',
      aggregation: 'totalizer',
      read: () => ledger().anodeEffectsCompleted,
    },
    {
      id: 'Potline1.AnodeEffect.CellSeconds',
      point: 'pl1.ae_cell_seconds',
      dataType: 'UInt64',
      unit: 's',
      description: 'cumulative cell-seconds in anode effect (阳极效应持续时间); AEM = Δ/60/(cells × days)',
      aggregation: 'totalizer',
      read: () => ledger().anodeEffectSeconds,
    },
    {
      id: 'Potline1.AnodeEffect.Active',
      point: 'pl1.ae_active',
      dataType: 'UInt32',
      unit: '1',
      description: 'cells in anode effect now',
      aggregation: 'gauge',
      read: () => snap().potline.activeAnodeEffects,
    },
    {
      id: 'Potline1.CellsInLine',
      point: 'pl1.cells_in_line',
      dataType: 'UInt32',
      unit: '1',
      description: 'cells in series (for AEM per cell-day)',
      aggregation: 'gauge',
      read: () => model.params.cellsInLine,
    },
    {
      id: 'Potline1.DcEnergy',
      point: 'pl1.dc_energy',
      dataType: 'UInt64',
      unit: 'Wh',
      description: 'DC energy since start (直流电量), exact Wh',
      aggregation: 'totalizer',
      read: () => ledger().energyWh,
    },
  ];
}

/**
 * Starts the pot-line OPC UA server.
 * @example
 * const sim = await startAluminiumOpcuaSimulator({ seed: 42, clock: new ScaledClock(Date.now(), 60) });
 */
export async function startAluminiumOpcuaSimulator(
  options: AluminiumOpcuaOptions = {},
): Promise<AluminiumOpcuaSimulator> {
  const clock = options.clock ?? systemClock;
  const model =
    options.model ??
    new AluminiumSmelterModel({
      seed: options.seed ?? 1,
      start: options.start ?? clock.now(),
      ...(options.params ? { params: options.params } : {}),
    });
  const host = await startOpcuaSimulator({
    ...(options.host ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.pkiDir ? { pkiDir: options.pkiDir } : {}),
    clock,
    rootName: 'Smelter',
    applicationName: 'carbon-mrv aluminium pot-line simulator',
    variables: potlineVariables(model, clock),
  });
  return Object.assign(host, { model });
}
