// `POST /api/v1/evidence/verify` trusts only the server's own evidence key and the configured trusted
// keys, never the key a package carries (issue 17 item 6): a package re-signed by an unknown key is
// 422 MRV_E_UNTRUSTED_KEY, a malformed one 400 MRV_E_BAD_PACKAGE (never a 500), a server without any
// trusted key 503 MRV_E_NO_TRUSTED_KEYS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LiveHub } from '../../collector/live.ts';
import { SqliteStore } from '../../collector/sqlite-store.ts';
import type { EvidenceBody } from '../../core/domain/index.ts';
import { loadEvidenceKey, loadFactorPack, signEvidence, trustFileOf } from '../../evidence/service.ts';
import { buildServer } from '../../server/app.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'mrv-verify-route-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A package body: what is signed does not matter to the signature check, only that it is all covered. */
const body = {
  kind: 'monthly-evidence',
  month: '2026-02',
  unit: { id: 'U1' },
  inputs: { factorPack: loadFactorPack() },
} as unknown as EvidenceBody;

describe('POST /api/v1/evidence/verify', () => {
  let app: FastifyInstance | undefined;
  let store: SqliteStore | undefined;
  afterEach(async () => {
    await app?.close();
    await store?.stop();
  });
  async function server(domain: { keyFile: string; trustedKeys?: string }) {
    store = new SqliteStore({ path: ':memory:' });
    await store.start();
    app = buildServer({ store, live: new LiveHub(), logger: false, version: 'test', domain });
    await app.ready();
    return app;
  }
  const post = (a: FastifyInstance, payload: unknown) =>
    a.inject({ method: 'POST', url: '/api/v1/evidence/verify', payload: payload as object });

  it('accepts the server’s own package, naming key and owner; rejects an altered or foreign-signed one', async () => {
    const keyFile = path.join(dir, 'server', 'evidence-ed25519.pem');
    const key = loadEvidenceKey(keyFile, true);
    const a = await server({ keyFile });
    const pkg = signEvidence(body, key);
    const ok = await post(a, pkg);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ ok: true, keyId: key.keyId, owner: expect.stringContaining(keyFile) });

    const altered = JSON.parse(JSON.stringify(pkg).replace('"0.143"', '"0.043"'));
    const bad = await post(a, altered);
    expect(bad.statusCode).toBe(200);
    expect(bad.json()).toMatchObject({ ok: false, keyId: key.keyId, code: 'MRV_E_VERIFY' });

    // Re-signed by the trusted key with its own factor pack inside: signature good, pack unknown.
    const { signature: _a, ...own } = altered;
    const ownPack = await post(a, signEvidence(own, key));
    expect(ownPack.statusCode).toBe(200);
    expect(ownPack.json()).toMatchObject({ ok: false, keyId: key.keyId, code: 'MRV_E_FACTOR_PACK_UNKNOWN' });

    // Re-signed with the attacker's own key, which the package now carries: refused.
    const { signature: _s, ...changed } = altered;
    const attacker = loadEvidenceKey(path.join(dir, 'attacker', 'evil.pem'), true);
    const forged = await post(a, signEvidence(changed, attacker));
    expect(forged.statusCode).toBe(422);
    expect(forged.json().error.code).toBe('MRV_E_UNTRUSTED_KEY');
    expect(forged.json().error.message).toContain(attacker.keyId);

    for (const malformed of [
      { ...pkg, signature: { ...pkg.signature, keyId: undefined } },
      { ...pkg, signature: { alg: 'Ed25519', keyId: key.keyId } },
      { ...pkg, signature: undefined },
      { ...pkg, signature: 'x' },
    ]) {
      const r = await post(a, malformed);
      expect(r.statusCode, JSON.stringify(malformed.signature)).toBe(400);
      expect(r.json().error.code).toMatch(/^MRV_E_BAD_(PACKAGE|REQUEST)$/);
    }
  });

  it('trusts the keys of domain.trustedKeys too, and refuses with 503 when it has no trusted key', async () => {
    const other = loadEvidenceKey(path.join(dir, 'province', 'evidence-ed25519.pem'), true);
    const a = await server({
      keyFile: path.join(dir, 'none', 'missing.pem'),
      trustedKeys: trustFileOf(path.join(dir, 'province', 'evidence-ed25519.pem')),
    });
    const r = await post(a, signEvidence(body, other));
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      ok: true,
      keyId: other.keyId,
      owner: expect.stringMatching(/evidence key/),
    });
    await app?.close();
    await store?.stop();
    const empty = await server({ keyFile: path.join(dir, 'none', 'missing.pem') });
    const refused = await post(empty, signEvidence(body, other));
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error.code).toBe('MRV_E_NO_TRUSTED_KEYS');
  });
});
