/**
 * The `modbus-tcp` driver: Modbus TCP (MBAP framing, MODBUS Messaging on TCP/IP V1.0b), one
 * connection per device. The poller is shared with the RTU drivers (driver.ts).
 */
import type { DriverContext, DriverKind } from '../types.ts';
import { ModbusTcpDevice } from './config.ts';
import { ModbusDriver } from './driver.ts';

export { classifyModbusError } from './link.ts';

/** A Modbus TCP device poller. Create with {@link modbusTcpDriver}`.create`. */
export class ModbusTcpDriver extends ModbusDriver {
  constructor(config: ModbusTcpDevice, ctx: DriverContext) {
    super(config, ctx);
  }
}

/** The `modbus-tcp` driver kind for the registry. */
export const modbusTcpDriver: DriverKind<ModbusTcpDevice> = {
  name: 'modbus-tcp',
  schema: ModbusTcpDevice,
  create: (config, context) => new ModbusTcpDriver(config, context),
};
