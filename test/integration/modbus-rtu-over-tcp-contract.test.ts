// The driver contract suite for `modbus-rtu-over-tcp`, against the cement simulator's RTU-over-TCP
// listener (RTU frames with CRC on a TCP socket, as a transparent serial converter carries them).
import { modbusRtuOverTcpDriver } from '../../drivers/modbus/rtu.ts';
import { cementDevice } from '../helpers/cement-device.ts';
import { driverContract } from './driver-contract.ts';

driverContract(modbusRtuOverTcpDriver, () =>
  cementDevice('steelSlag', { tcpPort: false, rtuOverTcpPort: 0 }, (ports) => ({
    driver: 'modbus-rtu-over-tcp',
    host: '127.0.0.1',
    port: ports.rtuOverTcp,
  })),
);
