/**
 * The HJ 212 uplink file (YAML, version 1): which unit's data goes to which platform, as which
 * devices (MN + password), with which pollutant/parameter code per point. Validated by zod; every
 * problem is reported as `file:line:col path: message`, like the site file (gateway/config.ts).
 *
 * Secrets never live in the YAML: each device names `passwordEnv` or `passwordFile`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { MrvError } from '../../core/errors.ts';
import { DATA_FLAGS, type DataFlag } from '../../core/hj212/flags.ts';
import { CODE_PATTERN, DEFAULT_MAX_SEGMENT, HJ212_VERSIONS } from '../../core/hj212/protocol.ts';
import { DecimalString, Identifier } from '../../core/schema/wire.ts';
import { formatPath } from '../../gateway/config.ts';

/** One point sent to the platform under a pollutant/parameter code. */
export const UplinkPoint = z
  .object({
    point: Identifier.describe("point id in the store (the site file's points[].id)"),
    code: z
      .string()
      .regex(CODE_PATTERN, 'letters, digits and "_" only (it becomes "code-Avg=..." in the CP)')
      .describe('HJ 212 pollutant/parameter code, e.g. a05001 (CO2); others as agreed with the platform'),
    cou: z
      .enum(['none', 'delta'])
      .default('none')
      .describe(
        'Cou (累计值) of interval data: none, or delta = max of this interval − max of the previous one (for totalizers)',
      ),
    upperLimit: DecimalString.optional().describe(
      'values (interval: the max) above it are flagged T (超测上限)',
    ),
    decimals: z
      .number()
      .int()
      .min(0)
      .max(10)
      .optional()
      .describe('round values half-even to this many decimals'),
  })
  .strict();
export type UplinkPoint = z.infer<typeof UplinkPoint>;

/** One data logger identity (数采仪) on the platform: its MN, password and points. */
export const UplinkDevice = z
  .object({
    mn: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,27}$/, 'letters, digits, "_" and "-", at most 27 characters')
      .describe('device unique identifier (MN) assigned by the platform'),
    passwordEnv: z
      .string()
      .min(1)
      .optional()
      .describe('environment variable holding the access password (PW)'),
    passwordFile: z
      .string()
      .min(1)
      .optional()
      .describe('file holding the access password (PW); relative to the uplink file'),
    points: z.array(UplinkPoint).min(1, 'a device needs at least one point'),
  })
  .strict()
  .refine((d) => (d.passwordEnv === undefined) !== (d.passwordFile === undefined), {
    message: 'give exactly one of passwordEnv or passwordFile (never the password itself)',
    path: ['passwordEnv'],
  });
export type UplinkDevice = z.infer<typeof UplinkDevice>;

/** A configured plant state over a period, turned into the data flags F, M, C or S. */
export const PlantWindow = z
  .object({
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
    kind: z.enum(['stopped', 'maintenance', 'calibration', 'manual']),
    points: z.array(Identifier).optional().describe('points it applies to; absent: every point'),
    note: z.string().optional(),
  })
  .strict();
export type PlantWindow = z.infer<typeof PlantWindow>;

const enabled = (def: boolean) => z.boolean().default(def);

/** The uplink file, version 1. */
export const UplinkConfig = z
  .object({
    version: z.literal(1, { error: 'version must be 1' }),
    unit: Identifier.describe('unit id whose data is read from the store'),
    site: z
      .string()
      .optional()
      .describe('site file (relative to this file) whose meters give calibration states'),
    protocol: z.enum(['hj212-2017', 'hj212-2025']).default('hj212-2017'),
    flagVersionBits: z
      .number()
      .int()
      .min(0)
      .max(63)
      .optional()
      .describe('override the version bits of the protocol table (core/hj212/protocol.ts)'),
    platform: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535),
      })
      .strict(),
    st: z
      .string()
      .regex(/^\d{2}$/, 'two digits')
      .default('31')
      .describe('system code ST (31: air pollution source)'),
    ackTimeoutMs: z.number().int().min(50).max(600_000).default(10_000).describe('wait for a 9014 this long'),
    retries: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(3)
      .describe('retransmissions of one packet before reconnecting'),
    reconnectDelayMs: z
      .number()
      .int()
      .min(10)
      .max(600_000)
      .default(1000)
      .describe('first reconnect delay, doubling'),
    maxReconnectDelayMs: z.number().int().min(10).max(3_600_000).default(60_000),
    maxSegment: z
      .number()
      .int()
      .min(200)
      .max(9999)
      .default(DEFAULT_MAX_SEGMENT)
      .describe('split longer messages'),
    settleMs: z
      .number()
      .int()
      .min(0)
      .max(86_400_000)
      .default(30_000)
      .describe('wait this long after an interval ends before sending it (late readings)'),
    cursorFile: z
      .string()
      .min(1)
      .describe('where the uplink keeps what the platform acknowledged (relative to this file)'),
    startFrom: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('first interval to send when there is no cursor yet; default: the current interval'),
    calibrationLapsedFlag: z
      .enum(DATA_FLAGS as [DataFlag, ...DataFlag[]])
      .default('C')
      .describe('data flag for values of a meter whose certificate lapsed (core/hj212/flags.ts rule 7)'),
    windows: z.array(PlantWindow).default([]),
    commands: z
      .object({
        realtime: z
          .object({ enabled: enabled(false), intervalS: z.number().int().min(1).max(3600).default(30) })
          .strict()
          .default({ enabled: false, intervalS: 30 }),
        minute: z
          .object({
            enabled: enabled(true),
            intervalMin: z
              .number()
              .int()
              .refine((n) => n >= 1 && 60 % n === 0, 'a divisor of 60 (1, 2, 5, 10, 15, 30, 60)')
              .default(1),
          })
          .strict()
          .default({ enabled: true, intervalMin: 1 }),
        hour: z
          .object({ enabled: enabled(true) })
          .strict()
          .default({ enabled: true }),
        day: z
          .object({ enabled: enabled(true) })
          .strict()
          .default({ enabled: true }),
      })
      .strict()
      .default({
        realtime: { enabled: false, intervalS: 30 },
        minute: { enabled: true, intervalMin: 1 },
        hour: { enabled: true },
        day: { enabled: true },
      }),
    devices: z.array(UplinkDevice).min(1, 'at least one device'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const mns = new Set<string>();
    c.devices.forEach((d, i) => {
      if (mns.has(d.mn))
        ctx.addIssue({ code: 'custom', path: ['devices', i, 'mn'], message: `duplicate MN "${d.mn}"` });
      mns.add(d.mn);
      const codes = new Set<string>();
      d.points.forEach((p, j) => {
        if (codes.has(p.code))
          ctx.addIssue({
            code: 'custom',
            path: ['devices', i, 'points', j, 'code'],
            message: `code "${p.code}" used twice for MN ${d.mn}`,
          });
        codes.add(p.code);
      });
    });
  });
export type UplinkConfig = z.infer<typeof UplinkConfig>;

/** A validated uplink file with paths resolved against its folder. */
export interface LoadedUplink {
  file: string;
  config: UplinkConfig;
  /** Version bits in use: `flagVersionBits` or the protocol table's. */
  versionBits: number;
  cursorFile: string;
  siteFile: string | undefined;
}

function locate(
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  path: readonly PropertyKey[],
): string {
  let node: unknown = doc.contents;
  for (const key of path) {
    const next = isMap(node)
      ? node.get(String(key), true)
      : isSeq(node) && typeof key === 'number'
        ? node.get(key, true)
        : undefined;
    if (next === undefined) break;
    node = next;
  }
  const range = (node as YamlNode | null)?.range;
  if (!range) return '';
  const { line, col } = lc.linePos(range[0]);
  return `:${line}:${col}`;
}

/**
 * Parses and validates uplink-file text.
 * @param file the file name used in messages and to resolve relative paths
 * @throws MrvError MRV_E_CONFIG listing every problem as `file:line:col path: message`
 */
export function parseUplinkConfig(text: string, file: string): LoadedUplink {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true });
  if (doc.errors.length > 0) {
    const msgs = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return `${file}${pos ? `:${pos.line}:${pos.col}` : ''} ${e.message.split('\n')[0]}`;
    });
    throw new MrvError('MRV_E_CONFIG', `${file} is not valid YAML:\n  ${msgs.join('\n  ')}`, { file });
  }
  const parsed = UplinkConfig.safeParse(doc.toJS());
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `${file}${locate(doc, lc, i.path)} ${formatPath(i.path)}: ${i.message}`,
    );
    throw new MrvError(
      'MRV_E_CONFIG',
      `${file} does not match the HJ 212 uplink schema (version 1, see README "HJ 212 uplink"):\n  ${lines.join('\n  ')}`,
      { file },
    );
  }
  const config = parsed.data;
  const dir = dirname(resolve(file));
  return {
    file,
    config,
    versionBits: config.flagVersionBits ?? HJ212_VERSIONS[config.protocol].versionBits,
    cursorFile: resolve(dir, config.cursorFile),
    siteFile: config.site === undefined ? undefined : resolve(dir, config.site),
  };
}

/**
 * Reads and validates an uplink file.
 * @throws MrvError MRV_E_CONFIG when it cannot be read or is invalid
 */
export function loadUplinkConfig(file: string): LoadedUplink {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MrvError(
      'MRV_E_CONFIG',
      `cannot read uplink file ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
  return parseUplinkConfig(text, file);
}

/**
 * The password of each device, from its environment variable or file (trailing newline dropped).
 * The values are secrets: callers never log them.
 * @throws MrvError MRV_E_CONFIG naming the device and the missing variable or unreadable file (never the value)
 */
export function resolvePasswords(
  loaded: LoadedUplink,
  env: NodeJS.ProcessEnv = process.env,
): Map<string, string> {
  const out = new Map<string, string>();
  const dir = dirname(resolve(loaded.file));
  for (const d of loaded.config.devices) {
    let pw: string | undefined;
    if (d.passwordEnv !== undefined) {
      pw = env[d.passwordEnv];
      if (pw === undefined || pw === '')
        throw new MrvError('MRV_E_CONFIG', `MN ${d.mn}: environment variable ${d.passwordEnv} is not set`, {
          mn: d.mn,
        });
    } else if (d.passwordFile !== undefined) {
      const path = resolve(dir, d.passwordFile);
      try {
        pw = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new MrvError(
          'MRV_E_CONFIG',
          `MN ${d.mn}: cannot read password file ${path}: ${(err as Error).message}`,
          {
            mn: d.mn,
          },
        );
      }
    }
    if (pw === undefined || !/^[^;=&\r\n]{1,9}$/.test(pw))
      throw new MrvError(
        'MRV_E_CONFIG',
        `MN ${d.mn}: the password must be 1–9 characters without ; = & or newlines`,
        {
          mn: d.mn,
        },
      );
    out.set(d.mn, pw);
  }
  return out;
}
