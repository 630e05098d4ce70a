// The driver contract suite (driver-contract.ts) for `opcua`, against simulators/opcua-host.ts behind
// a TCP proxy. One OPC UA server serves every test of the file (it takes ~1 s to start); `stop()` of
// a contract device only resets it. The Modbus notions map as: a silent device = the proxy drops
// every connection (MRV_E_DEVICE_UNREACHABLE); an exception answer = every variable reports the
// StatusCode BadDeviceFailure (MRV_E_OPCUA_STATUS), whatever the Modbus exception code asked for.
import { afterAll } from 'vitest';
import { opcuaDriver } from '../../drivers/opcua/kind.ts';
import { type OpcuaSimulator, startOpcuaSimulator } from '../../simulators/opcua-host.ts';
import { tempDir } from '../helpers/opcua.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { type ContractDevice, driverContract } from './driver-contract.ts';

const tmp = tempDir('mrv-opcua-contract-');
const VARIABLES = [
  { id: 'Steel.CrudeSteelT', dataType: 'Double', value: 182.45, expected: '182.45' },
  { id: 'Steel.CokeGasNm3', dataType: 'UInt64', value: 9_007_199_254_740_993n, expected: '9007199254740993' },
  { id: 'Steel.LadleKg', dataType: 'Int32', value: 152_340, expected: '152.34', scale: '0.001' },
  { id: 'Steel.O2Purity', dataType: 'Float', value: 99.6, expected: '99.6' },
] as const;

let shared: Promise<{ sim: OpcuaSimulator; proxy: TcpProxy }> | undefined;

function server() {
  shared ??= (async () => {
    const sim = await startOpcuaSimulator({
      pkiDir: `${tmp.dir}/server`,
      variables: VARIABLES.map((v) => ({ id: v.id, dataType: v.dataType, read: () => v.value })),
    });
    const proxy = await startTcpProxy(() => ({ host: '127.0.0.1', port: sim.port }));
    return { sim, proxy };
  })();
  return shared;
}

afterAll(async () => {
  const s = await shared;
  await s?.proxy.close();
  await s?.sim.stop();
  tmp.remove();
});

driverContract(opcuaDriver, async (): Promise<ContractDevice> => {
  const { sim, proxy } = await server();
  const reset = () => {
    proxy.unblock();
    for (const v of VARIABLES) sim.setStatus(v.id, undefined);
  };
  reset();
  return {
    config: {
      id: 'bof-1',
      driver: 'opcua',
      endpointUrl: `opc.tcp://127.0.0.1:${proxy.port}`,
      pkiDir: `${tmp.dir}/client`,
      publishingIntervalMs: 100,
      reconnectDelayMs: 200,
      reconnectMaxDelayMs: 1000,
      points: VARIABLES.map((v, i) => ({
        id: `p${i}`,
        nodeId: sim.nodeId(v.id),
        unit: 't',
        ...('scale' in v ? { scale: v.scale } : {}),
      })),
    },
    expected: Object.fromEntries(VARIABLES.map((v, i) => [`p${i}`, v.expected])),
    timeout: () => proxy.block(),
    exception: () => {
      for (const v of VARIABLES) sim.setStatus(v.id, 'BadDeviceFailure');
    },
    clear: reset,
    reasons: { timeout: 'MRV_E_DEVICE_UNREACHABLE', exception: /^MRV_E_OPCUA_STATUS: BadDeviceFailure$/ },
    stop: async () => reset(),
  };
});
