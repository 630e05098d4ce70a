/**
 * Site configuration, version 1 (docs/architecture.md §3): one key emitting unit as seen from one gateway.
 * This file holds the driver-independent part. Each device's driver-specific fields (addresses,
 * data types, connection) are validated by that driver's own schema (`drivers/<name>/config.ts`),
 * composed by the gateway's loader so that every error still names the full YAML path.
 */
import { z } from 'zod';
import { RuleOverrides } from './rule-overrides.ts';
import { Identifier, MeterMeta, PointMeta, UnitMeta } from './wire.ts';

/** MQTT connection of the gateway. Secrets never live in the YAML: use `passwordEnv` or `passwordFile`. */
export const MqttConfig = z
  .object({
    url: z
      .string()
      .regex(/^(mqtts?|wss?|tcp|ssl):\/\//, 'expected a broker URL such as mqtt://127.0.0.1:1883')
      .describe('broker URL'),
    failoverUrls: z
      .array(
        z.string().regex(/^(mqtts?|wss?|tcp|ssl):\/\//, 'expected a broker URL such as mqtt://10.0.0.2:1883'),
      )
      .max(16)
      .optional()
      .describe(
        'further MQTT listeners of the same broker cluster (e.g. the other NATS nodes), tried in turn after `url` whenever the connection is lost',
      ),
    topicPrefix: z.string().min(1).default('mrv/v1'),
    clientId: z.string().optional().describe('defaults to mrv-gw-{gateway id}'),
    username: z.string().optional(),
    passwordEnv: z.string().optional().describe('name of the environment variable holding the password'),
    passwordFile: z.string().optional().describe('file holding the password'),
    keepaliveS: z.number().int().min(1).max(3600).default(30),
    caFile: z
      .string()
      .optional()
      .describe(
        'PEM CA certificate(s) the broker certificate must chain to (mqtts://); default: the system CAs',
      ),
    certFile: z
      .string()
      .optional()
      .describe('PEM client certificate, for brokers that require client certificates'),
    keyFile: z
      .string()
      .optional()
      .describe('PEM private key of the client certificate (a file: never in the YAML)'),
  })
  .strict();
export type MqttConfig = z.infer<typeof MqttConfig>;

/**
 * When the gateway may release a batch from its log (docs/delivery.md). `store` (default): only once a
 * collector acknowledged it is in the store (`{prefix}/{unit}/{gateway}/ack`); the broker's PUBACK only
 * paces sending. `broker`: on the broker's PUBACK, as before 0.2 — a broker that drops or forgets a
 * queued batch then loses it; only for consumers that do not send store acknowledgements.
 */
export const DeliveryConfig = z
  .object({
    release: z
      .enum(['store', 'broker'])
      .default('store')
      .describe('store: keep each batch until a collector confirms it is stored; broker: release on PUBACK'),
    maxUnconfirmed: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(256)
      .describe(
        "batches published and not yet confirmed by a collector; when reached, the rest wait in the log (keep the sum over a broker's gateways below its queue limit, Mosquitto max_queued_messages 1000)",
      ),
    confirmTimeoutS: z
      .number()
      .min(0.1)
      .max(3600)
      .default(30)
      .describe(
        'a batch the broker took but no collector confirmed within this many seconds is sent again (doubling up to 8 times this while still unconfirmed)',
      ),
  })
  .strict();
export type DeliveryConfig = z.infer<typeof DeliveryConfig>;

/** Gateway identity and its northbound connection. */
export const GatewayConfig = z
  .object({
    id: Identifier,
    mqtt: MqttConfig,
    delivery: DeliveryConfig.prefault({}),
    bufferDir: z
      .string()
      .optional()
      .describe('folder of the store-and-forward log (relative to the site file); absent: memory only'),
    bufferMaxBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(256 * 1024 * 1024)
      .describe('bound on the log; see bufferWhenFull'),
    bufferSegmentBytes: z
      .number()
      .int()
      .min(1024)
      .default(4 * 1024 * 1024)
      .describe('segment file size; at most half of bufferMaxBytes'),
    bufferWhenFull: z
      .enum(['block', 'drop-oldest'])
      .default('block')
      .describe(
        'when the log (or its disk) is full. block: keep the oldest batches; new ones get their seq, go out from memory if connected and are declared lost (buffer_full); drop-oldest: delete the oldest unsent batches (declared lost, dropped)',
      ),
    signingKeyFile: z
      .string()
      .optional()
      .describe(
        'Ed25519 private key, PEM (mrv keygen), relative to the site file; absent: batches are unsigned',
      ),
    dataDir: z
      .string()
      .optional()
      .describe(
        "the gateway's data folder, relative to the site file: drivers keep their state under it (the opcua driver its PKI in <dataDir>/opcua-pki); default: the parent of bufferDir, else each driver's default",
      ),
  })
  .strict();
export type GatewayConfig = z.infer<typeof GatewayConfig>;

/**
 * Fields every point has whatever its driver: its id, engineering unit, the meter it belongs to and,
 * optionally, the key parameter (关键参数) it feeds and how readings aggregate over a period.
 */
export const PointCommon = PointMeta.omit({ device: true }).extend({
  rules: RuleOverrides.optional().describe(
    "this point's own settings of rules of the unit's rule pack, by rule id (over the site's `rules`)",
  ),
});
export type PointCommon = z.infer<typeof PointCommon>;

/** Fields every device has whatever its driver. */
export const DeviceCommon = z.object({
  id: Identifier,
  driver: z.string().min(1).describe('driver name, e.g. modbus-tcp'),
  points: z.array(z.looseObject({ id: Identifier })).min(1, 'a device needs at least one point'),
});

/** The whole site file before driver-specific validation of `devices[]`. */
export const SiteConfig = z
  .object({
    version: z.literal(1, { error: 'version must be 1 (the only site-file version so far)' }),
    unit: UnitMeta,
    gateway: GatewayConfig,
    meters: z.array(MeterMeta).default([]),
    devices: z.array(DeviceCommon.loose()).min(1, 'a site needs at least one device'),
    rules: RuleOverrides.optional().describe(
      "the site's settings of rules of its industry's rule pack, by rule id: thresholds, debounce (core/schema/rule-overrides.ts)",
    ),
  })
  .strict()
  .superRefine((site, ctx) => {
    for (const issue of siteCrossReferenceIssues(site)) ctx.addIssue(issue);
  });
export type SiteConfig = z.infer<typeof SiteConfig>;

/**
 * The cross-references of a site file: unique meter, device and point ids, and every point's `meter`
 * declared under `meters[]`. Works on the raw parsed YAML too (anything not shaped as expected is
 * skipped: the schema reports it), so a file with other mistakes still gets these in the same run.
 * @returns zod-style issues with the path of each offending field
 */
export function siteCrossReferenceIssues(
  value: unknown,
): { code: 'custom'; path: (string | number)[]; message: string }[] {
  const issues: { code: 'custom'; path: (string | number)[]; message: string }[] = [];
  const site = (value ?? {}) as { meters?: unknown; devices?: unknown };
  const list = (v: unknown): Record<string, unknown>[] =>
    Array.isArray(v)
      ? v.map((x) => (typeof x === 'object' && x !== null ? (x as Record<string, unknown>) : {}))
      : [];
  const meterIds = new Set<string>();
  list(site.meters).forEach((m, i) => {
    if (typeof m.id !== 'string') return;
    if (meterIds.has(m.id))
      issues.push({ code: 'custom', path: ['meters', i, 'id'], message: `duplicate meter id "${m.id}"` });
    meterIds.add(m.id);
  });
  const deviceIds = new Set<string>();
  const pointIds = new Set<string>();
  list(site.devices).forEach((d, i) => {
    if (typeof d.id === 'string') {
      if (deviceIds.has(d.id))
        issues.push({ code: 'custom', path: ['devices', i, 'id'], message: `duplicate device id "${d.id}"` });
      deviceIds.add(d.id);
    }
    list(d.points).forEach((p, j) => {
      if (typeof p.id === 'string') {
        if (pointIds.has(p.id))
          issues.push({
            code: 'custom',
            path: ['devices', i, 'points', j, 'id'],
            message: `duplicate point id "${p.id}"`,
          });
        pointIds.add(p.id);
      }
      if (typeof p.meter === 'string' && !meterIds.has(p.meter))
        issues.push({
          code: 'custom',
          path: ['devices', i, 'points', j, 'meter'],
          message: `unknown meter "${p.meter}"; declare it under meters[] or remove the reference`,
        });
    });
  });
  return issues;
}
