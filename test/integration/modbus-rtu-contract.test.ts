// The driver contract suite for `modbus-rtu`, against the cement simulator on one end of a socat pty
// pair (the driver opens the other end).
import { modbusRtuDriver } from '../../drivers/modbus/rtu.ts';
import { cementDevice } from '../helpers/cement-device.ts';
import { startPtyPair } from '../helpers/socat.ts';
import { driverContract } from './driver-contract.ts';

driverContract(modbusRtuDriver, async () => {
  const pty = await startPtyPair();
  const device = await cementDevice('carbideSlag', { tcpPort: false, rtuPath: pty.a }, () => ({
    driver: 'modbus-rtu',
    path: pty.b,
    baudRate: 9600,
    parity: 'even',
  }));
  return {
    ...device,
    stop: async () => {
      await device.stop();
      await pty.stop();
    },
  };
});
