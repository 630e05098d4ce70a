// What the collector makes of a gateway's catalogue (collector/meta-check.ts, issue 17 item 2): with a
// key registry only a catalogue signed by a key of the topic's (unit, gateway) valid at its sentAt is
// taken; unsigned, forged, another unit's, revoked or topic-mismatched ones are rejected with a
// MRV_F_META_REJECTED finding; a taken one whose claim differs from the unit registry gives
// MRV_F_META_MISMATCH. Real Ed25519 keys.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyRegistry } from '../../../collector/keys.ts';
import { checkMeta, type MetaCheckContext, settledMismatches } from '../../../collector/meta-check.ts';
import { Finding } from '../../../core/schema/finding.ts';
import { UnitRegistry } from '../../../core/schema/unit-registry.ts';
import { GatewayMeta } from '../../../core/schema/wire.ts';
import { signMeta } from '../../../core/signing.ts';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const pair = () => generateKeyPairSync('ed25519');
const A = pair();
const B = pair();
const pem = (k: ReturnType<typeof pair>) => k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const keys = keyRegistry([
  { unitId: 'U-A', gatewayId: 'gw-a', publicKey: pem(A) },
  { unitId: 'U-B', gatewayId: 'gw-b', publicKey: pem(B), revokedAt: new Date(T0 + 60_000).toISOString() },
]);
const units = new UnitRegistry([
  { id: 'U-A', name: '甲厂', province: '内蒙古', industry: 'aluminium', gateways: ['gw-a'] },
  { id: 'U-B', name: '乙厂', province: '安徽', industry: 'cement', gateways: ['gw-b'] },
]);

function meta(
  unitId: string,
  gatewayId: string,
  province: string,
  name = unitId === 'U-A' ? '甲厂' : '乙厂',
): GatewayMeta {
  return GatewayMeta.parse({
    v: 1,
    gatewayId,
    unit: { id: unitId, name, industry: unitId === 'U-A' ? 'aluminium' : 'cement', province },
    points: [{ id: 'p1', device: 'd1', unit: 't' }],
    meters: [],
    configHash: 'c'.repeat(64),
  });
}

function ctx(
  unitId: string,
  gatewayId: string,
  m: GatewayMeta,
  o: Partial<MetaCheckContext> = {},
): MetaCheckContext {
  return {
    unitId,
    gatewayId,
    payload: Buffer.from(JSON.stringify(m)),
    keys,
    units,
    now: T0 + 1000,
    ...o,
  };
}

function check(unitId: string, gatewayId: string, m: GatewayMeta, o: Partial<MetaCheckContext> = {}) {
  // What travels is JSON: the signature must survive the round trip through the wire schema.
  const wire = GatewayMeta.parse(JSON.parse(JSON.stringify(m)));
  return checkMeta(wire, ctx(unitId, gatewayId, wire, o));
}

describe('catalogue verification', () => {
  it('takes a catalogue signed by its own gateway key, claiming the registered facts', () => {
    const v = check('U-A', 'gw-a', signMeta(meta('U-A', 'gw-a', '内蒙古'), A.privateKey, T0));
    expect(v).toEqual({ kind: 'accepted', verified: true, findings: [] });
  });

  it('rejects an unsigned catalogue (attack: anonymous meta claiming 北京) with a finding', () => {
    const v = check('U-B', 'gw-b', meta('U-B', 'gw-b', '北京'));
    expect(v.kind).toBe('rejected');
    if (v.kind !== 'rejected') return;
    expect(v.verdict).toBe('unsigned');
    expect(v.reason).toMatch(/^MRV_F_META_REJECTED: /);
    expect(Finding.parse(v.finding)).toMatchObject({
      code: 'MRV_F_META_REJECTED',
      unitId: 'U-B',
      gatewayId: 'gw-b',
      severity: 'critical',
      detail: { verdict: 'unsigned', claimed: { unit: { province: '北京' } } },
    });
  });

  it('rejects a catalogue for unit B signed with gateway A key (attack: cross-unit meta)', () => {
    const v = check('U-B', 'gw-b', signMeta(meta('U-B', 'gw-b', '北京'), A.privateKey, T0));
    expect(v).toMatchObject({
      kind: 'rejected',
      verdict: 'mismatch',
      finding: { detail: { keyUnitId: 'U-A', keyGatewayId: 'gw-a' } },
    });
  });

  it('rejects a tampered catalogue, a gateway without key, a revoked key and a topic mismatch', () => {
    const signed = signMeta(meta('U-B', 'gw-b', '安徽'), B.privateKey, T0);
    expect(check('U-B', 'gw-b', { ...signed, unit: { ...signed.unit, province: '北京' } })).toMatchObject({
      kind: 'rejected',
      verdict: 'bad',
    });
    expect(check('U-C', 'gw-c', signMeta(meta('U-C', 'gw-c', '北京'), A.privateKey, T0))).toMatchObject({
      kind: 'rejected',
      verdict: 'mismatch',
    });
    const stranger = pair();
    expect(
      check('U-C', 'gw-c', signMeta(meta('U-C', 'gw-c', '北京'), stranger.privateKey, T0)),
    ).toMatchObject({
      kind: 'rejected',
      verdict: 'unknown',
    });
    expect(
      check('U-B', 'gw-b', signMeta(meta('U-B', 'gw-b', '安徽'), B.privateKey, T0 + 120_000)),
    ).toMatchObject({
      kind: 'rejected',
      verdict: 'revoked',
    });
    // Genuine B catalogue replayed on another gateway's topic.
    expect(check('U-B', 'gw-b2', signed)).toMatchObject({ kind: 'rejected', verdict: 'topic' });
  });

  it('the same rejected payload names the same finding (written once), another payload another', () => {
    const m = meta('U-B', 'gw-b', '北京');
    const a = check('U-B', 'gw-b', m);
    const b = check('U-B', 'gw-b', m, { now: T0 + 99_000 });
    const c = check('U-B', 'gw-b', meta('U-B', 'gw-b', '上海'));
    const id = (v: typeof a) => (v.kind === 'rejected' ? v.finding?.id : undefined);
    expect(id(a)).toBe(id(b));
    expect(id(a)).not.toBe(id(c));
  });

  it('without a key registry (--insecure-unsigned) takes unsigned catalogues, still compared with the registry', () => {
    const v = check('U-A', 'gw-a', meta('U-A', 'gw-a', '北京'), { keys: undefined });
    expect(v).toMatchObject({
      kind: 'accepted',
      verified: false,
      findings: [{ code: 'MRV_F_META_MISMATCH' }],
    });
  });
});

describe('comparison with the unit registry', () => {
  it('a genuine catalogue claiming another province is taken with MRV_F_META_MISMATCH', () => {
    const v = check('U-A', 'gw-a', signMeta(meta('U-A', 'gw-a', '北京', '假名'), A.privateKey, T0));
    expect(v.kind).toBe('accepted');
    if (v.kind !== 'accepted') return;
    expect(v.verified).toBe(true);
    const f = Finding.parse(v.findings[0]);
    expect(f).toMatchObject({
      code: 'MRV_F_META_MISMATCH',
      severity: 'warning',
      detail: {
        mismatches: [
          { field: 'name', claimed: '假名', registered: '甲厂' },
          { field: 'province', claimed: '北京', registered: '内蒙古' },
        ],
      },
    });
    expect(f.message.en).toMatch(/no scope changes/);
  });

  it('without a unit registry nothing is compared', () => {
    const v = check('U-A', 'gw-a', signMeta(meta('U-A', 'gw-a', '北京'), A.privateKey, T0), {
      units: undefined,
    });
    expect(v).toEqual({ kind: 'accepted', verified: true, findings: [] });
  });
});

describe('settling earlier mismatches', () => {
  const mismatch = (province: string) => {
    const v = check('U-A', 'gw-a', signMeta(meta('U-A', 'gw-a', province), A.privateKey, T0));
    return v.kind === 'accepted' ? v.findings : [];
  };
  it('resolves the open mismatches when the catalogue agrees, keeping id and ts', () => {
    const open = mismatch('北京');
    const settled = settledMismatches(open, [], T0 + 5000, 'c'.repeat(64));
    expect(settled).toHaveLength(1);
    expect(Finding.parse(settled[0])).toMatchObject({
      id: open[0]?.id,
      ts: open[0]?.ts,
      state: 'resolved',
      resolvedAt: new Date(T0 + 5000).toISOString(),
      resolution: { by: 'meta-agrees' },
    });
  });
  it('supersedes another claim, never the one just raised, nor a resolved one', () => {
    const older = mismatch('北京');
    const current = mismatch('上海');
    expect(settledMismatches([...older, ...current], current, T0, 'c'.repeat(64))).toEqual([
      expect.objectContaining({
        id: older[0]?.id,
        resolution: expect.objectContaining({ by: 'meta-superseded' }),
      }),
    ]);
    const resolved = settledMismatches(older, [], T0, 'c'.repeat(64));
    expect(settledMismatches(resolved, [], T0, 'c'.repeat(64))).toEqual([]);
  });
});
