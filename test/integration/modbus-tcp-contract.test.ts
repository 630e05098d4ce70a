// The driver contract suite for `modbus-tcp`, against the cement simulator's Modbus TCP listener.
import { modbusTcpDriver } from '../../drivers/modbus/tcp.ts';
import { cementDevice } from '../helpers/cement-device.ts';
import { driverContract } from './driver-contract.ts';

driverContract(modbusTcpDriver, () =>
  cementDevice('clinker', { tcpPort: 0 }, (ports) => ({
    driver: 'modbus-tcp',
    host: '127.0.0.1',
    port: ports.tcp,
  })),
);
