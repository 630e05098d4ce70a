/**
 * The OPC UA commissioning commands:
 * - `mrv read opc.tcp://HOST:PORT --node NODEID ...` reads one variable once (Read service, OPC
 *   10000-4 §5.10.2) and prints it exactly as the `opcua` driver would publish it;
 * - `mrv browse opc.tcp://HOST:PORT [--node NODEID] [--depth N]` walks the address space (Browse,
 *   §5.8.2) to find the NodeIds for a site file.
 * Both use the gateway's PKI folder (`--pki`), so a server certificate refused here is the one
 * `mrv pki trust` accepts for the gateway too. node-opcua is loaded quietly on first use (load.ts),
 * so `--json` output on stdout stays clean.
 *
 * Exit codes as `mrv read`: 0 good value (or browse done), 1 bad reading or failed connection
 * (the reason on stderr or in the JSON), 2 usage error.
 */
import { parseArgs } from 'node:util';
import type { ClientSession, OPCUAClient, ReferenceDescription } from 'node-opcua';
import pino from 'pino';
import { MrvError } from '../core/errors.ts';
import type { Reading } from '../core/schema/wire.ts';
import { NodeIdString, OpcuaDevice, type OpcuaIdentity } from '../drivers/opcua/config.ts';
import { badReading, dataValueToReading } from '../drivers/opcua/decode.ts';
import { quietImport } from '../drivers/opcua/load.ts';

/** Usage of the OPC UA commands. */
export const OPCUA_USAGE = `  mrv read opc.tcp://HOST:PORT --node "ns=2;s=Tag" [--security None|Sign|SignAndEncrypt]
           [--policy Basic256Sha256] [--user NAME --password-env VAR|--password-file F]
           [--cert FILE --key FILE] [--pki DIR] [--scale S] [--offset O] [--timeout MS] [--json]
      read one OPC UA variable once, printed as an exact decimal (JSON: with both timestamps)
  mrv browse opc.tcp://HOST:PORT [--node NODEID] [--depth 3] [--security ...] [--json]
      list the address space below a node (default Objects) to find NodeIds
`;

const connectionFlags = {
  security: { type: 'string', default: 'None' },
  policy: { type: 'string' },
  user: { type: 'string' },
  'password-env': { type: 'string' },
  'password-file': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  pki: { type: 'string' },
  timeout: { type: 'string', default: '10000' },
  json: { type: 'boolean', default: false },
  node: { type: 'string' },
} as const;

type ConnectionValues = {
  security: string;
  policy?: string | undefined;
  user?: string | undefined;
  'password-env'?: string | undefined;
  'password-file'?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  pki?: string | undefined;
  timeout: string;
};

function identityOf(v: ConnectionValues): OpcuaIdentity {
  if (v.user)
    return {
      type: 'username',
      username: v.user,
      ...(v['password-env'] ? { passwordEnv: v['password-env'] } : {}),
      ...(v['password-file'] ? { passwordFile: v['password-file'] } : {}),
    } as OpcuaIdentity;
  if (v.cert || v.key) return { type: 'certificate', certFile: v.cert ?? '', keyFile: v.key ?? '' };
  return { type: 'anonymous' };
}

/**
 * Validates the flags as a one-point `opcua` device, so the CLI accepts exactly what a site file does.
 * @throws MrvError MRV_E_BAD_REQUEST listing what is wrong
 */
function deviceOf(url: URL, v: ConnectionValues, point: Record<string, unknown>): OpcuaDevice {
  const r = OpcuaDevice.safeParse({
    id: 'cli',
    driver: 'opcua',
    endpointUrl: url.href.replace(/\/$/, ''),
    securityMode: v.security,
    ...(v.policy ? { securityPolicy: v.policy } : {}),
    identity: identityOf(v),
    ...(v.pki ? { pkiDir: v.pki } : {}),
    requestTimeoutMs: Number(v.timeout),
    reconnectDelayMs: 200,
    reconnectMaxDelayMs: 1000,
    mode: 'polling',
    points: [{ id: 'value', unit: '', ...point }],
  });
  if (!r.success)
    throw new MrvError(
      'MRV_E_BAD_REQUEST',
      r.error.issues.map((i) => `${i.path.join('.') || 'flags'}: ${i.message}`).join('; '),
    );
  return r.data;
}

/** Connects and activates a session for a one-off command; the caller must call `close`. */
async function openSession(d: OpcuaDevice): Promise<{
  session: ClientSession;
  client: OPCUAClient;
  close: () => Promise<void>;
}> {
  const c = await quietImport(() => import('../drivers/opcua/client.ts'));
  c.routeOpcuaLogs(pino({ level: process.env.MRV_LOG_LEVEL ?? 'warn' }, pino.destination(2)));
  const root = c.pkiRoot(d.pkiDir);
  const cm = await c.openCertificateManager(root);
  const client = c.createClient({ ...d, pkiDir: root }, cm);
  const close = async () => {
    await client.disconnect().catch(() => {});
    await cm.dispose().catch(() => {});
  };
  try {
    await client.connect(d.endpointUrl);
    const session = await client.createSession(c.userIdentity(d.identity));
    return {
      session,
      client,
      close: async () => {
        await session.close(true).catch(() => {});
        await close();
      },
    };
  } catch (err) {
    await close();
    const f = c.classifyOpcuaError(err, root);
    throw Object.assign(new Error(`${f.code}: ${f.message}`), { failure: f });
  }
}

/**
 * `mrv read opc.tcp://...`: the `opc.tcp:` reader of cli/read.ts.
 * @returns exit code: 0 good, 1 bad or uncertain reading / failed connection, 2 usage error
 */
export async function readOpcUa(url: URL, args: string[]): Promise<number> {
  let v: ReturnType<typeof parseRead>;
  let d: OpcuaDevice;
  try {
    v = parseRead(args);
    if (!v.node) throw new MrvError('MRV_E_BAD_REQUEST', 'missing --node NODEID (find it with mrv browse)');
    d = deviceOf(url, v, {
      nodeId: v.node,
      ...(v.scale ? { scale: v.scale } : {}),
      ...(v.offset ? { offset: v.offset } : {}),
    });
  } catch (err) {
    return usage((err as Error).message);
  }
  const point = d.points[0];
  if (!point) return usage('no point');
  let reading: Reading;
  try {
    const s = await openSession(d);
    try {
      const dv = await s.session.read({ nodeId: point.nodeId, attributeId: 13 /* AttributeIds.Value */ }, 0);
      reading = dataValueToReading(point, dv, Date.now());
    } finally {
      await s.close();
    }
  } catch (err) {
    reading = badReading(point, (err as Error).message, Date.now());
  }
  if (v.json) process.stdout.write(`${JSON.stringify({ ...reading, nodeId: point.nodeId })}\n`);
  else if (reading.quality !== 'bad') process.stdout.write(`${reading.value}\n`);
  if (reading.quality !== 'good') process.stderr.write(`mrv read: ${reading.reason ?? reading.quality}\n`);
  return reading.quality === 'good' ? 0 : 1;
}

function parseRead(args: string[]) {
  return parseArgs({
    args,
    options: { ...connectionFlags, scale: { type: 'string' }, offset: { type: 'string' } },
  }).values;
}

function usage(message: string): number {
  process.stderr.write(`mrv: ${message}\n\n${OPCUA_USAGE}`);
  return 2;
}

/** One node found by {@link browse}. */
export interface BrowsedNode {
  nodeId: string;
  browseName: string;
  displayName: string;
  nodeClass: string;
  /** For variables: the DataType's name (built-in types) or NodeId. */
  dataType?: string;
  depth: number;
}

/**
 * `mrv browse opc.tcp://HOST:PORT [--node N] [--depth D]`: hierarchical references below a node.
 * Standard nodes of namespace 0 (the Server object and its diagnostics) are listed but not descended
 * into unless asked for with `--node`.
 * @returns exit code
 */
export async function browse(args: string[]): Promise<number> {
  const [target, ...rest] = args;
  if (!target || target === '--help' || target === '-h') {
    process.stdout.write(OPCUA_USAGE);
    return target ? 0 : 2;
  }
  let url: URL;
  let v: ReturnType<typeof parseBrowse>;
  let d: OpcuaDevice;
  try {
    url = new URL(target);
    if (url.protocol !== 'opc.tcp:') throw new Error(`expected opc.tcp://HOST:PORT, got ${target}`);
    v = parseBrowse(rest);
    const start = v.node ?? 'i=85';
    if (!NodeIdString.safeParse(start).success) throw new Error(`--node: "${start}" is not a NodeId`);
    d = deviceOf(url, v, { nodeId: start });
  } catch (err) {
    return usage((err as Error).message);
  }
  const depthMax = Number(v.depth);
  const startNode = d.points[0]?.nodeId ?? 'i=85';
  const ua = await quietImport(() => import('node-opcua'));
  let s: Awaited<ReturnType<typeof openSession>>;
  try {
    s = await openSession(d);
  } catch (err) {
    process.stderr.write(`mrv browse: ${(err as Error).message}\n`);
    return 1;
  }
  const found: BrowsedNode[] = [];
  try {
    const walk = async (nodeId: string, depth: number): Promise<void> => {
      if (depth > depthMax) return;
      const result = await s.session.browse({
        nodeId,
        referenceTypeId: 'HierarchicalReferences',
        includeSubtypes: true,
        browseDirection: ua.BrowseDirection.Forward,
        resultMask: 0x3f,
      });
      const refs: ReferenceDescription[] = result.references ?? [];
      for (const ref of refs) {
        const id = ref.nodeId.toString();
        const node: BrowsedNode = {
          nodeId: id,
          browseName: ref.browseName.toString(),
          displayName: ref.displayName.text ?? '',
          nodeClass: ua.NodeClass[ref.nodeClass] ?? String(ref.nodeClass),
          depth,
        };
        if (ref.nodeClass === ua.NodeClass.Variable) {
          const dt = await s.session.read({ nodeId: id, attributeId: ua.AttributeIds.DataType });
          const dtId = dt.value.value as { namespace: number; value: unknown } | null;
          if (dtId)
            node.dataType =
              dtId.namespace === 0 && typeof dtId.value === 'number'
                ? (ua.DataType[dtId.value] ?? String(dtId))
                : String(dtId);
        }
        found.push(node);
        if (!v.json)
          process.stdout.write(
            `${'  '.repeat(depth)}${node.browseName}  ${node.nodeId}  ${node.nodeClass}${node.dataType ? ` ${node.dataType}` : ''}\n`,
          );
        const standard = ref.nodeId.namespace === 0;
        if (ref.nodeClass === ua.NodeClass.Object && !(standard && v.node === undefined))
          await walk(id, depth + 1);
      }
    };
    await walk(startNode, 0);
  } catch (err) {
    process.stderr.write(`mrv browse: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await s.close();
  }
  if (v.json) process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
  return 0;
}

function parseBrowse(args: string[]) {
  return parseArgs({ args, options: { ...connectionFlags, depth: { type: 'string', default: '3' } } }).values;
}
