/**
 * OPC UA front of the steel plant model: one node-opcua server (simulators/opcua-host.ts) with the
 * variables of opcua-map.ts under `Objects/SteelPlant`. Every sample first moves the model to the
 * clock's time; the SourceTimestamp is the clock's time (plant time under a ScaledClock).
 * Controllable through the returned host: `stop()`/`restart()`, `setStatus(id, 'BadSensorFailure')`,
 * `refuseSubscriptions(true)`.
 */
import { type Clock, systemClock } from '../../core/time.ts';
import { type OpcuaSimulator, startOpcuaSimulator } from '../opcua-host.ts';
import { type SteelParams, SteelPlantModel } from './model.ts';
import { STEEL_VARIABLES } from './opcua-map.ts';

/** Options of {@link startSteelSimulator}. */
export interface SteelSimulatorOptions {
  host?: string;
  /** TCP port; 0 or absent picks a free one. `mrv sim steel` uses STEEL_DEMO_PORT (4841). */
  port?: number;
  seed?: number;
  clock?: Clock;
  /** Virtual time of the model's tick 0; default `clock.now()`. */
  start?: number;
  params?: Partial<SteelParams>;
  /** The server's PKI folder (its certificate); default a temp folder. */
  pkiDir?: string;
  /** User name → password; anonymous access stays allowed. */
  users?: Readonly<Record<string, string>>;
}

/** A running steel simulator: the OPC UA host controls plus the model. */
export interface SteelSimulator extends OpcuaSimulator {
  model: SteelPlantModel;
}

/**
 * Starts the steel plant's OPC UA server.
 * @example
 * const sim = await startSteelSimulator({ seed: 3 });
 * // mrv read ${sim.endpointUrl} --node "ns=1;s=BOF1.CrudeSteel.Total"
 */
export async function startSteelSimulator(options: SteelSimulatorOptions = {}): Promise<SteelSimulator> {
  const clock = options.clock ?? systemClock;
  const model = new SteelPlantModel({
    seed: options.seed ?? 1,
    start: options.start ?? clock.now(),
    ...(options.params ? { params: options.params } : {}),
  });
  const host = await startOpcuaSimulator({
    ...(options.host ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.pkiDir ? { pkiDir: options.pkiDir } : {}),
    ...(options.users ? { users: options.users } : {}),
    clock,
    rootName: 'SteelPlant',
    applicationName: 'carbon-mrv steel plant simulator',
    variables: STEEL_VARIABLES.map((v) => ({
      id: v.id,
      dataType: v.dataType,
      unit: v.unit,
      description: v.description,
      ...(v.euRange ? { euRange: v.euRange } : {}),
      read: () => {
        model.advanceTo(clock.now());
        return v.read(model.snapshot());
      },
      ...(v.changedAt
        ? {
            changedAt: () => {
              model.advanceTo(clock.now());
              return (v.changedAt as NonNullable<typeof v.changedAt>)(model.snapshot());
            },
          }
        : {}),
    })),
  });
  return Object.assign(host, { model });
}
