/**
 * The one explicit registry of driver kinds (docs/architecture.md §10 rule 2). Adding a driver means adding it here.
 */
import { MrvError } from '../core/errors.ts';
import { modbusRtuDriver, modbusRtuOverTcpDriver } from './modbus/rtu.ts';
import { modbusTcpDriver } from './modbus/tcp.ts';
import { opcuaDriver } from './opcua/kind.ts';
import type { DriverKind } from './types.ts';

// The registry holds kinds with different config types; `unknown` would not accept them as
// DriverKind<Config> is invariant in Config, hence the `any` here and only here.
// biome-ignore lint/suspicious/noExplicitAny: heterogeneous registry, see comment above
export const drivers: Readonly<Record<string, DriverKind<any>>> = {
  [modbusTcpDriver.name]: modbusTcpDriver,
  [modbusRtuDriver.name]: modbusRtuDriver,
  [modbusRtuOverTcpDriver.name]: modbusRtuOverTcpDriver,
  [opcuaDriver.name]: opcuaDriver,
};

/**
 * Looks up a driver kind by name.
 * @throws MrvError MRV_E_UNKNOWN_DRIVER naming the valid drivers
 */
// biome-ignore lint/suspicious/noExplicitAny: see `drivers`
export function driverKind(name: string): DriverKind<any> {
  const kind = drivers[name];
  if (!kind)
    throw new MrvError(
      'MRV_E_UNKNOWN_DRIVER',
      `unknown driver "${name}"; valid drivers: ${Object.keys(drivers).join(', ')}`,
    );
  return kind;
}
