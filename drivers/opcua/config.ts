/**
 * Configuration schema of the `opcua` driver: one OPC UA server (endpoint, security, identity, PKI)
 * and the variables (NodeIds) read from it by subscription or by polling. See drivers/opcua/README.md
 * for every field. Secrets never live in the YAML: passwords come from `passwordEnv` or
 * `passwordFile`, private keys from files.
 */
import { z } from 'zod';
import { PointCommon } from '../../core/schema/site.ts';

const DecimalLike = z
  .union([z.number(), z.string().regex(/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/, 'expected a decimal number')])
  .describe('number or decimal string; strings keep every digit');

/**
 * A NodeId in the OPC UA string notation (OPC 10000-6 §5.3.1.10): `ns=2;s=Line1.Current`,
 * `ns=3;i=1001`, `ns=1;g=<guid>`, `ns=1;b=<base64>`, or with a namespace URI `nsu=urn:x;s=Tag`.
 * `i=2258` (namespace 0) is allowed too.
 */
export const NodeIdString = z
  .string()
  .regex(
    /^((ns=\d+|nsu=[^;]+);)?[isgb]=.+$/,
    'expected a NodeId such as "ns=2;s=Line1.Current" or "ns=3;i=1001" (OPC 10000-6 §5.3.1.10)',
  );

/**
 * Deadband of a DataChangeFilter (OPC 10000-4 §7.22.2): the server reports a new value only when it
 * differs from the last reported one by more than `value` — in engineering units (`absolute`), or in
 * percent of the variable's EURange (`percent`, only for AnalogItem variables that have an EURange,
 * OPC 10000-8 §5.3.2).
 */
export const Deadband = z
  .object({
    type: z.enum(['absolute', 'percent']),
    value: z.number().min(0).describe('absolute: engineering units; percent: 0–100 of EURange'),
  })
  .strict()
  .refine((d) => d.type !== 'percent' || d.value <= 100, {
    message: 'a percent deadband is 0–100',
    path: ['value'],
  });
export type Deadband = z.infer<typeof Deadband>;

/** Monitoring settings of a subscription; per point they override the device's. */
const Monitoring = {
  samplingIntervalMs: z
    .number()
    .min(0)
    .max(86_400_000)
    .optional()
    .describe(
      'how often the server samples the value; 0 = as fast as the server can (OPC 10000-4 §5.12.1.2)',
    ),
  queueSize: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe('values the server queues between publishes; the oldest is discarded when full'),
  deadband: Deadband.optional(),
};

/** One OPC UA variable read by the gateway. */
export const OpcuaPoint = PointCommon.extend({
  nodeId: NodeIdString.describe('NodeId of the variable (find it with `mrv browse`)'),
  scale: DecimalLike.optional().describe('value = raw × scale + offset'),
  offset: DecimalLike.optional(),
  decimals: z.number().int().min(0).max(20).optional().describe('round to this many places (half-even)'),
  ...Monitoring,
}).strict();
export type OpcuaPoint = z.infer<typeof OpcuaPoint>;

/** The user identity the session is activated with (OPC 10000-4 §7.41 UserIdentityToken). */
export const OpcuaIdentity = z.discriminatedUnion('type', [
  z.object({ type: z.literal('anonymous') }).strict(),
  z
    .object({
      type: z.literal('username'),
      username: z.string().min(1),
      passwordEnv: z.string().min(1).optional().describe('environment variable holding the password'),
      passwordFile: z
        .string()
        .min(1)
        .optional()
        .describe('file holding the password (trailing newline ignored)'),
    })
    .strict()
    .refine((i) => (i.passwordEnv === undefined) !== (i.passwordFile === undefined), {
      message: 'give exactly one of passwordEnv or passwordFile (the password never goes in the YAML)',
      path: ['passwordEnv'],
    }),
  z
    .object({
      type: z.literal('certificate'),
      certFile: z.string().min(1).describe('user certificate, PEM or DER'),
      keyFile: z.string().min(1).describe('its private key, PEM'),
    })
    .strict(),
]);
export type OpcuaIdentity = z.infer<typeof OpcuaIdentity>;

/** Security modes of OPC 10000-4 §7.20 (MessageSecurityMode). */
export const SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
/** Security policies supported (OPC 10000-7 profiles); Basic256Sha256 is the current minimum for signing. */
export const SECURITY_POLICIES = ['None', 'Basic256Sha256'] as const;

/** An OPC UA server (`driver: opcua`). */
export const OpcuaDeviceShape = z
  .object({
    id: z.string(),
    driver: z.literal('opcua'),
    endpointUrl: z
      .string()
      .regex(/^opc\.tcp:\/\/[^/:]+(:\d+)?(\/.*)?$/, 'expected an endpoint such as opc.tcp://10.0.0.5:4840')
      .describe('endpoint URL of the server'),
    securityMode: z.enum(SECURITY_MODES).default('None'),
    securityPolicy: z
      .enum(SECURITY_POLICIES)
      .optional()
      .describe('default: Basic256Sha256 when securityMode is Sign or SignAndEncrypt, else None'),
    identity: OpcuaIdentity.default({ type: 'anonymous' }),
    pkiDir: z
      .string()
      .min(1)
      .optional()
      .describe(
        "the gateway's own PKI folder (own/, trusted/, rejected/); default .data/opcua-pki, managed with `mrv pki`",
      ),
    applicationName: z.string().min(1).default('carbon-mrv-gateway').describe('our ApplicationName'),
    mode: z
      .enum(['subscription', 'polling'])
      .default('subscription')
      .describe('subscription: the server reports changes; polling: Read every pollIntervalMs'),
    publishingIntervalMs: z
      .number()
      .int()
      .min(10)
      .max(3_600_000)
      .default(1000)
      .describe('how often the server sends queued changes (OPC 10000-4 §5.13.2)'),
    samplingIntervalMs: Monitoring.samplingIntervalMs.default(1000),
    queueSize: Monitoring.queueSize.default(10),
    deadband: Deadband.optional().describe('default deadband of every point'),
    pollIntervalMs: z
      .number()
      .int()
      .min(10)
      .max(86_400_000)
      .default(1000)
      .describe('interval of polling mode, and of the points the server would not monitor'),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    sessionTimeoutMs: z
      .number()
      .int()
      .min(1000)
      .max(3_600_000)
      .default(60_000)
      .describe('session lifetime without traffic before the server closes it'),
    reconnectDelayMs: z
      .number()
      .int()
      .min(10)
      .max(600_000)
      .default(1000)
      .describe('first backoff after a failed connect; doubles up to reconnectMaxDelayMs'),
    reconnectMaxDelayMs: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(10_000)
      .describe('longest backoff; also bounds how long data takes to resume after a server restart'),
    points: z.array(OpcuaPoint).min(1),
  })
  .strict();

/** {@link OpcuaDeviceShape} with the cross-field checks. */
export const OpcuaDevice = OpcuaDeviceShape.superRefine((d, ctx) => {
  const policy = d.securityPolicy ?? (d.securityMode === 'None' ? 'None' : 'Basic256Sha256');
  if ((d.securityMode === 'None') !== (policy === 'None'))
    ctx.addIssue({
      code: 'custom',
      path: ['securityPolicy'],
      message: `securityMode ${d.securityMode} needs ${d.securityMode === 'None' ? 'securityPolicy None' : 'a securityPolicy other than None (Basic256Sha256)'}`,
    });
  const seen = new Set<string>();
  d.points.forEach((p, i) => {
    if (seen.has(p.nodeId))
      ctx.addIssue({
        code: 'custom',
        path: ['points', i, 'nodeId'],
        message: `NodeId ${p.nodeId} is already read by another point of this device`,
      });
    seen.add(p.nodeId);
  });
});
export type OpcuaDevice = z.infer<typeof OpcuaDeviceShape>;

/** The security policy in effect for a device (the default filled in). */
export function effectivePolicy(
  d: Pick<OpcuaDevice, 'securityMode' | 'securityPolicy'>,
): 'None' | 'Basic256Sha256' {
  return d.securityPolicy ?? (d.securityMode === 'None' ? 'None' : 'Basic256Sha256');
}

/** Default PKI folder, relative to the working directory (the repository's `.data/` convention). */
export const DEFAULT_PKI_DIR = '.data/opcua-pki';
