/**
 * What the collector makes of a gateway's retained catalogue (`{prefix}/{unit}/{gateway}/meta`, issue
 * 17 item 2). A catalogue informs — points, meters, config hash — and never decides scope: the unit's
 * name, province, industry and gateways come from the server-side unit registry
 * (core/schema/unit-registry.ts; docs/architecture.md §4).
 *
 * - With a key registry (collector/keys.ts) the catalogue must carry `sig` by a key of the topic's
 *   (unit, gateway), valid at its `sentAt` (as a batch, core/schema/wire.ts `GatewayMeta`). Anything
 *   else — unsigned, a bad signature, no key for the gateway, a key of another unit or gateway, a
 *   revoked or expired key, or a catalogue naming another unit or gateway than its topic — is
 *   **rejected**: dead-lettered, counted and reported as `MRV_F_META_REJECTED`, stored nowhere.
 * - Without a key registry (`--insecure-unsigned`) catalogues are taken unverified, like the batches.
 * - A taken catalogue whose `unit` claim differs from the unit registry gives `MRV_F_META_MISMATCH`
 *   (core/schema/finding.ts `MetaFindingCodes`); it is still taken, for its points only.
 *
 * Finding ids are chosen so that the same retained catalogue delivered again writes its finding once.
 */

import { canonicalMetaBytes } from '../core/schema/canonical.ts';
import { type Finding, type MetaFindingCode, MetaFindingCodes } from '../core/schema/finding.ts';
import type { RegistryMismatch, UnitRegistry } from '../core/schema/unit-registry.ts';
import { type GatewayMeta, isIdentifier, isIsoTimestamp } from '../core/schema/wire.ts';
import { sha256Hex } from '../core/signing.ts';
import { isoMs } from '../core/time.ts';
import type { KeyRegistry } from './keys.ts';

/** Why a catalogue was rejected (`detail.verdict` of `MRV_F_META_REJECTED`). */
export type MetaRejection = 'topic' | 'unsigned' | 'bad' | 'unknown' | 'mismatch' | 'revoked' | 'expired';

/** The outcome of {@link checkMeta}. */
export type MetaVerdict =
  /** Take the catalogue (its points inform); `findings` holds a `MRV_F_META_MISMATCH` when its claim differs from the registry. */
  | { kind: 'accepted'; verified: boolean; findings: Finding[] }
  /**
   * Refuse it: dead-letter with `reason`, count it, store `finding` (absent only when the topic's unit
   * or gateway is not an identifier, so no finding can name it).
   */
  | { kind: 'rejected'; reason: string; verdict: MetaRejection; finding: Finding | undefined };

/** What {@link checkMeta} needs besides the catalogue. */
export interface MetaCheckContext {
  /** Unit and gateway of the topic the catalogue came on. */
  unitId: string;
  gatewayId: string;
  /** The payload as received (its digest names the finding). */
  payload: Uint8Array;
  /** Gateway public keys; absent = catalogues are not verified (`--insecure-unsigned`). */
  keys: KeyRegistry | undefined;
  /** The unit registry; absent = no comparison (the collector warns at start). */
  units: UnitRegistry | undefined;
  /** Collector clock, ms epoch. */
  now: number;
}

function finding(
  code: MetaFindingCode,
  unitId: string,
  gatewayId: string,
  key: string,
  now: number,
  message: { zh: string; en: string },
  detail: Record<string, unknown>,
): Finding {
  const m = MetaFindingCodes[code];
  const ts = isoMs(now);
  return {
    id: `integrity/${unitId}/${gatewayId}/${code}/${key}`,
    unitId,
    gatewayId,
    source: 'integrity',
    code,
    class: m.class,
    severity: m.severity,
    message,
    detail,
    ts,
    at: ts,
  };
}

const REJECTION_TEXT: Record<MetaRejection, { zh: string; en: string }> = {
  topic: { zh: '目录所称单位或网关与主题不符', en: 'it names another unit or gateway than its topic' },
  unsigned: { zh: '目录未签名', en: 'it is not signed' },
  bad: {
    zh: '签名无法用该网关登记的公钥验证',
    en: "its signature does not verify with the gateway's registered keys",
  },
  unknown: { zh: '该网关未登记公钥', en: 'the gateway has no registered key' },
  mismatch: {
    zh: '由其他单位或网关的密钥签名（疑似伪造）',
    en: 'it is signed by the key of another unit or gateway (forgery suspected)',
  },
  revoked: { zh: '签名密钥在签名时已吊销', en: 'its key was revoked before it was signed' },
  expired: { zh: '签名密钥在签名时不在有效期内', en: 'its key was outside its validity when it was signed' },
};

function mismatchText(ms: readonly RegistryMismatch[]): { zh: string; en: string } {
  const zh = ms.map((m) =>
    m.field === 'unit'
      ? '单位未在单位登记册中登记'
      : m.field === 'gateway'
        ? `网关 ${m.claimed} 未登记为该单位的网关（登记：${m.registered}）`
        : `${{ name: '名称', province: '省份', industry: '行业' }[m.field]}“${m.claimed}”与登记的“${m.registered}”不符`,
  );
  const en = ms.map((m) =>
    m.field === 'unit'
      ? 'the unit is not in the unit registry'
      : m.field === 'gateway'
        ? `gateway ${m.claimed} is not registered for the unit (registered: ${m.registered})`
        : `${m.field} "${m.claimed}" differs from the registered "${m.registered}"`,
  );
  return {
    zh: `网关目录与单位登记不符：${zh.join('；')}。以登记为准，查看范围不变`,
    en: `the gateway's catalogue differs from the unit registry: ${en.join('; ')}. The registry stands; no scope changes`,
  };
}

/**
 * Decides what a parsed catalogue is worth (see the file comment). Pure but for signature checks.
 * @returns `accepted` (store it for its points, store its findings) or `rejected` (dead-letter, count, store the finding)
 */
export function checkMeta(meta: GatewayMeta, ctx: MetaCheckContext): MetaVerdict {
  const { unitId, gatewayId, now } = ctx;
  const digest = sha256Hex(ctx.payload);
  const claimed = { unit: meta.unit, gatewayId: meta.gatewayId };
  const reject = (verdict: MetaRejection, extra: Record<string, unknown> = {}): MetaVerdict => {
    const text = REJECTION_TEXT[verdict];
    const reason = `MRV_F_META_REJECTED: ${text.en}`;
    const nameable = isIdentifier(unitId) && isIdentifier(gatewayId);
    return {
      kind: 'rejected',
      reason,
      verdict,
      finding: nameable
        ? finding(
            'MRV_F_META_REJECTED',
            unitId,
            gatewayId,
            digest.slice(0, 16),
            now,
            {
              zh: `网关 ${gatewayId} 的目录（meta）被拒收：${text.zh}。未存储，单位信息与查看范围不变`,
              en: `catalogue (meta) of gateway ${gatewayId} rejected: ${text.en}. Not stored; unit facts and scope unchanged`,
            },
            { verdict, claimed, payloadSha256: digest, signed: meta.sig !== undefined, ...extra },
          )
        : undefined,
    };
  };
  if (meta.unit.id !== unitId || meta.gatewayId !== gatewayId) return reject('topic');
  let verified = false;
  if (ctx.keys) {
    if (!meta.sig) return reject('unsigned');
    const at = meta.sentAt !== undefined && isIsoTimestamp(meta.sentAt) ? Date.parse(meta.sentAt) : now;
    const v = ctx.keys.identify(unitId, gatewayId, canonicalMetaBytes(meta), meta.sig, at);
    if (v.kind === 'mismatch')
      return reject('mismatch', {
        keyId: v.entry.keyId,
        keyUnitId: v.entry.unitId,
        keyGatewayId: v.entry.gatewayId,
      });
    if (v.kind === 'revoked' || v.kind === 'expired')
      return reject(v.kind, { keyId: v.entry.keyId, sentAt: meta.sentAt ?? null });
    if (v.kind !== 'valid') return reject(v.kind);
    verified = true;
  }
  const mismatches = ctx.units?.compare(meta.unit, gatewayId) ?? [];
  if (mismatches.length === 0) return { kind: 'accepted', verified, findings: [] };
  // One finding per distinct claim: the same claim delivered again writes it once.
  const key = sha256Hex(JSON.stringify(mismatches)).slice(0, 16);
  return {
    kind: 'accepted',
    verified,
    findings: [
      finding('MRV_F_META_MISMATCH', unitId, gatewayId, key, now, mismatchText(mismatches), {
        mismatches,
        verified,
        configHash: meta.configHash,
      }),
    ],
  };
}

/**
 * The open `MRV_F_META_MISMATCH` findings of a gateway that a newly taken catalogue settles: every one
 * but the finding it raised itself (`current`, absent when it agrees with the registry), rewritten as
 * resolved (`by: meta-agrees` when it agrees, `meta-superseded` when it differs in another way), under
 * the same id and `ts` (core/schema/finding.ts, lifecycle).
 */
export function settledMismatches(
  open: readonly Finding[],
  current: readonly Finding[],
  now: number,
  configHash: string,
): Finding[] {
  const keep = new Set(current.map((f) => f.id));
  const agrees = current.length === 0;
  return open
    .filter((f) => f.code === 'MRV_F_META_MISMATCH' && f.state !== 'resolved' && !keep.has(f.id))
    .map((f) => ({
      ...f,
      state: 'resolved' as const,
      resolvedAt: isoMs(now),
      resolution: {
        by: agrees ? 'meta-agrees' : 'meta-superseded',
        seqs: [],
        message: agrees
          ? {
              zh: '网关的新目录与单位登记一致',
              en: "the gateway's new catalogue agrees with the unit registry",
            }
          : {
              zh: '网关的新目录以另一种方式与登记不符（见新的问题）',
              en: "the gateway's new catalogue differs in another way (see the new finding)",
            },
        detail: { configHash },
      },
    }));
}
