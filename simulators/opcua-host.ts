/**
 * A small OPC UA server (node-opcua) that exposes simulator variables, for the plant simulators'
 * OPC UA fronts and the driver tests. Each variable is read from a callback at the sampling
 * instant and carries the simulator clock's time as its SourceTimestamp (OPC 10000-4 §7.11), so a
 * time-accelerated simulator shows plant time as source time and wall time as server time.
 *
 * Controllable like a real device that misbehaves: `stop()` / `restart()` (same port, same
 * certificate: a server restart that loses every session and subscription), `setStatus()` (a
 * variable reports a Bad or Uncertain StatusCode, e.g. BadSensorFailure, with no value), and
 * `refuseSubscriptions()` (CreateSubscription answers BadTooManySubscriptions, as a server without
 * subscription support or out of resources does).
 *
 * Security: endpoints for None and for Sign / SignAndEncrypt with Basic256Sha256; the server accepts
 * any client certificate (it is a simulator; the gateway's side is the one under test) unless
 * `trustClients: false`. Users: anonymous (unless `allowAnonymous: false`) and the `users` table.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataType,
  DataValue,
  MessageSecurityMode,
  type Namespace,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  type UAObject,
  Variant,
  VariantArrayType,
} from 'node-opcua';
import { type Clock, systemClock } from '../core/time.ts';

/** OPC UA built-in types a simulator variable can have (OPC 10000-6 §5.1.2). */
export type SimDataType = 'Boolean' | 'Int32' | 'UInt32' | 'Int64' | 'UInt64' | 'Float' | 'Double' | 'String';

/**
 * One variable of a simulated device. Its NodeId is `ns=1;s=<id>`; the part of `id` before the last
 * dot names its folder object (NodeId `ns=1;s=<folder>`), under the root object `ns=1;s=<rootName>`.
 */
export interface SimVariable {
  /** String identifier of the NodeId, e.g. `Potline1.LineCurrent`; the part before the last dot is its folder. */
  id: string;
  dataType: SimDataType;
  /** Engineering unit, shown in the description (e.g. kA, V, t). */
  unit?: string;
  description?: string;
  /** When given, the variable is an AnalogItem with this EURange (percent deadbands need it, OPC 10000-8 §5.3.2). */
  euRange?: { low: number; high: number };
  /**
   * The value now. Integers of 64 bits may be given as bigint or a decimal string to stay exact;
   * other types as number, boolean or string.
   */
  read: () => number | bigint | boolean | string;
  /**
   * When the value last changed at its source, ms since the epoch: its SourceTimestamp (OPC 10000-4
   * §7.11 — the time of the last change at the source, not of the sampling), so that values changed
   * together (a ladle's heat number and net weight) carry one time. Absent or 0: the sampling time.
   */
  changedAt?: () => number;
}

/** Options of {@link startOpcuaSimulator}. */
export interface OpcuaSimulatorOptions {
  /** Bind address and endpoint host; default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 or absent picks a free one (kept across `restart()`). */
  port?: number;
  /** Server's own PKI folder (its certificate, the client certificates it saw); default a new temp folder. */
  pkiDir?: string;
  /** Clock giving the SourceTimestamp; default the system clock. */
  clock?: Clock;
  /** Variables to expose. */
  variables: readonly SimVariable[];
  /** Name of the object folder under Objects; default `Simulator`. */
  rootName?: string;
  /** User name → password accepted by the server. */
  users?: Readonly<Record<string, string>>;
  /** Allow anonymous sessions; default true. */
  allowAnonymous?: boolean;
  /** Accept unknown client certificates; default true. */
  trustClients?: boolean;
  /** Fastest sampling the variables allow, ms; default 50. */
  minimumSamplingIntervalMs?: number;
  /** ApplicationName / product name of the server; default `carbon-mrv simulator`. */
  applicationName?: string;
}

/** A running OPC UA simulator. */
export interface OpcuaSimulator {
  /** `opc.tcp://host:port` */
  readonly endpointUrl: string;
  readonly port: number;
  /** The server's PKI folder (`own/certs/` holds the certificate a client must trust). */
  readonly pkiDir: string;
  /** NodeId string of a variable, e.g. `ns=1;s=Potline1.LineCurrent`. */
  nodeId(id: string): string;
  /** Forces a StatusCode (by name, e.g. `BadSensorFailure`) on a variable; `undefined` restores Good. */
  setStatus(id: string, status: string | undefined): void;
  /** When on, CreateSubscription fails with BadTooManySubscriptions (clients must poll). */
  refuseSubscriptions(on: boolean): void;
  /** True while the server is listening. */
  readonly running: boolean;
  /** Shuts the server down (sessions and subscriptions are lost); the port is released. Idempotent. */
  stop(): Promise<void>;
  /** Starts the server again on the same port with the same certificate, after `stop()`. */
  restart(): Promise<void>;
}

/** Status-code names accepted by {@link OpcuaSimulator.setStatus}. */
function statusByName(name: string) {
  const code = (StatusCodes as unknown as Record<string, unknown>)[name];
  if (!code) throw new RangeError(`unknown StatusCode name ${name}`);
  return code as (typeof StatusCodes)['Good'];
}

function variant(dataType: SimDataType, v: number | bigint | boolean | string): Variant {
  switch (dataType) {
    case 'Int64':
    case 'UInt64': {
      // node-opcua carries 64-bit integers as [high, low] uint32 words (two's complement for Int64).
      const big = BigInt.asUintN(64, BigInt(typeof v === 'boolean' ? Number(v) : v));
      return new Variant({
        dataType: DataType[dataType],
        arrayType: VariantArrayType.Scalar,
        value: [Number(big >> 32n), Number(big & 0xffffffffn)],
      });
    }
    case 'Boolean':
      return new Variant({ dataType: DataType.Boolean, value: Boolean(v) });
    case 'String':
      return new Variant({ dataType: DataType.String, value: String(v) });
    default:
      return new Variant({ dataType: DataType[dataType], value: Number(v) });
  }
}

/**
 * Starts an OPC UA server exposing `variables` under `Objects/<rootName>/<folder>/<name>`.
 * Initialisation takes about a second (longer the first time a PKI folder is used: the server makes
 * its certificate).
 * @throws Error when the port cannot be bound
 * @example
 * const sim = await startOpcuaSimulator({ variables: [{ id: 'Line.Current', dataType: 'Double', read: () => 400 }] });
 * // mrv read sim.endpointUrl --node ns=1;s=Line.Current
 */
export async function startOpcuaSimulator(options: OpcuaSimulatorOptions): Promise<OpcuaSimulator> {
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? systemClock;
  const pkiDir = options.pkiDir ?? mkdtempSync(join(tmpdir(), 'mrv-sim-opcua-'));
  const statuses = new Map<string, ReturnType<typeof statusByName>>();
  let refuse = false;
  let server: OPCUAServer | undefined;
  let managers: OPCUACertificateManager[] = [];
  let port = options.port ?? 0;

  const build = async (): Promise<OPCUAServer> => {
    const cm = new OPCUACertificateManager({
      rootFolder: join(pkiDir, 'server'),
      automaticallyAcceptUnknownCertificate: options.trustClients ?? true,
    });
    const userCm = new OPCUACertificateManager({
      rootFolder: join(pkiDir, 'users'),
      automaticallyAcceptUnknownCertificate: options.trustClients ?? true,
    });
    managers = [cm, userCm];
    const users = options.users ?? {};
    const s = new OPCUAServer({
      host,
      hostname: host,
      port,
      serverCertificateManager: cm,
      userCertificateManager: userCm,
      allowAnonymous: options.allowAnonymous ?? true,
      securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
      securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
      userManager: { isValidUser: (u: string, p: string) => Object.hasOwn(users, u) && users[u] === p },
      disableDiscovery: true,
      buildInfo: { productName: options.applicationName ?? 'carbon-mrv simulator' },
      serverInfo: { applicationName: { text: options.applicationName ?? 'carbon-mrv simulator' } },
    });
    await s.initialize();
    const addressSpace = s.engine.addressSpace;
    if (!addressSpace) throw new Error('OPC UA simulator: no address space after initialize()');
    const ns = addressSpace.getOwnNamespace();
    const rootName = options.rootName ?? 'Simulator';
    const root = ns.addObject({
      browseName: rootName,
      nodeId: `s=${rootName}`,
      organizedBy: addressSpace.rootFolder.objects,
    });
    const folders = new Map<string, UAObject>();
    for (const v of options.variables) addVariable(ns, root, folders, v);
    if (refuse) s.engine.serverCapabilities.maxSubscriptions = 0;
    return s;
  };

  const addVariable = (ns: Namespace, root: UAObject, folders: Map<string, UAObject>, v: SimVariable) => {
    const dot = v.id.lastIndexOf('.');
    const folderName = dot > 0 ? v.id.slice(0, dot) : '';
    let parent = root;
    if (folderName) {
      let f = folders.get(folderName);
      if (!f) {
        f = ns.addObject({ browseName: folderName, nodeId: `s=${folderName}`, componentOf: root });
        folders.set(folderName, f);
      }
      parent = f;
    }
    const timestamped_get = () => {
      const status = statuses.get(v.id);
      const now = new Date(clock.now());
      const changed = v.changedAt?.() || undefined;
      if (status && status.value >>> 30 >= 2)
        return new DataValue({ statusCode: status, sourceTimestamp: now, serverTimestamp: new Date() });
      return new DataValue({
        value: variant(v.dataType, v.read()),
        statusCode: status ?? StatusCodes.Good,
        sourceTimestamp: changed === undefined ? now : new Date(changed),
        serverTimestamp: new Date(),
      });
    };
    const common = {
      componentOf: parent,
      browseName: dot > 0 ? v.id.slice(dot + 1) : v.id,
      nodeId: `s=${v.id}`,
      description: [v.description, v.unit ? `[${v.unit}]` : ''].filter(Boolean).join(' '),
      minimumSamplingInterval: options.minimumSamplingIntervalMs ?? 50,
      value: { timestamped_get },
    };
    if (v.euRange)
      ns.addAnalogDataItem({
        ...common,
        dataType: v.dataType,
        engineeringUnitsRange: v.euRange,
      });
    else ns.addVariable({ ...common, dataType: v.dataType });
  };

  const listen = async () => {
    const s = await build();
    await s.start();
    server = s;
    // With port 0 node-opcua picks a free port; keep it so that restart() comes back on the same one.
    const url = s.getEndpointUrl();
    port = Number(new URL(url.replace(/^opc\.tcp:/, 'http:')).port);
  };
  await listen();

  let stopping: Promise<void> | undefined;
  const sim: OpcuaSimulator = {
    get endpointUrl() {
      return `opc.tcp://${host}:${port}`;
    },
    get port() {
      return port;
    },
    pkiDir,
    nodeId: (id) => `ns=1;s=${id}`,
    setStatus(id, status) {
      if (!options.variables.some((v) => v.id === id)) throw new RangeError(`no simulator variable ${id}`);
      if (status === undefined || status === 'Good') statuses.delete(id);
      else statuses.set(id, statusByName(status));
    },
    refuseSubscriptions(on) {
      refuse = on;
      // 0 subscriptions allowed: CreateSubscription answers BadTooManySubscriptions (opcua_server.js).
      if (server) server.engine.serverCapabilities.maxSubscriptions = on ? 0 : 100;
    },
    get running() {
      return server !== undefined;
    },
    stop() {
      const s = server;
      if (!s) return stopping ?? Promise.resolve();
      server = undefined;
      const cms = managers;
      stopping = s.shutdown(0).then(async () => {
        await Promise.all(cms.map((m) => m.dispose().catch(() => {})));
      });
      return stopping;
    },
    async restart() {
      await stopping;
      if (server) return;
      await listen();
    },
  };
  return sim;
}
