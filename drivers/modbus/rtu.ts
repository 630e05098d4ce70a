/**
 * The RTU drivers: `modbus-rtu` on a serial line and `modbus-rtu-over-tcp` behind a transparent
 * serial-to-Ethernet converter. Devices on one serial port (or one converter) share one port object
 * and one lock (link.ts), so frames of different unit ids never interleave on the bus.
 */
import type { DriverKind } from '../types.ts';
import { ModbusRtuDevice, ModbusRtuOverTcpDevice } from './config.ts';
import { ModbusDriver } from './driver.ts';

/** The `modbus-rtu` driver kind (Modbus over Serial Line V1.02, RTU mode). */
export const modbusRtuDriver: DriverKind<ModbusRtuDevice> = {
  name: 'modbus-rtu',
  schema: ModbusRtuDevice,
  create: (config, context) => new ModbusDriver(config, context),
};

/** The `modbus-rtu-over-tcp` driver kind: RTU frames (with CRC) carried over TCP. */
export const modbusRtuOverTcpDriver: DriverKind<ModbusRtuOverTcpDevice> = {
  name: 'modbus-rtu-over-tcp',
  schema: ModbusRtuOverTcpDevice,
  create: (config, context) => new ModbusDriver(config, context),
};
