// Signatures and the hash chain (core/signing.ts), including the offline verifier behind `mrv verify`.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkChains } from '../../../cli/verify-batches.ts';
import { keyRegistry } from '../../../collector/keys.ts';
import { canonicalBytes } from '../../../core/schema/canonical.ts';
import { type Batch, GENESIS_HASH } from '../../../core/schema/wire.ts';
import {
  batchHash,
  parsePrivateKey,
  parsePublicKey,
  signBatch,
  verifyBatchSignature,
  verifyChain,
} from '../../../core/signing.ts';
import { signedChain } from '../../helpers/signed-chain.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

function chain(n: number): Batch[] {
  let prev = GENESIS_HASH;
  return Array.from({ length: n }, (_, i) => {
    const b = signBatch(
      {
        v: 1,
        unitId: 'U1',
        gatewayId: 'gw1',
        seq: i + 1,
        prevHash: prev,
        sentAt: '2026-01-01T00:00:00.000Z',
        readings: [
          {
            point: 'p',
            ts: '2026-01-01T00:00:00.000Z',
            rxTs: '2026-01-01T00:00:00.000Z',
            value: `${i}.5`,
            quality: 'good',
          },
        ],
      },
      privateKey,
    );
    prev = batchHash(b);
    return b;
  });
}
const exported = (bs: Batch[]) =>
  bs.map((b) => ({ canonical: Buffer.from(canonicalBytes(b)).toString('utf8'), sig: b.sig ?? null }));

describe('signing', () => {
  it('mrv verify: a gap the gateway declared is "gap declared by the gateway, cause X", never a broken chain', () => {
    // 3 lost on a full disk and declared in 4; 6 chains from 4 after 5's record went corrupt (declared).
    const c = signedChain(7, privateKey, {
      lost: { 4: [{ from: 3, to: 3, cause: 'buffer_full' }], 6: [{ from: 5, to: 5, cause: 'corrupt' }] },
      chainFrom: { 6: 4 },
    });
    const rows = exported(c).filter((_, i) => i !== 2);
    const r = verifyChain(rows, publicKey);
    expect(r.problems).toEqual([
      {
        index: 2,
        seq: 4,
        code: 'MRV_F_SEQ_GAP',
        message: 'batches 3..3 are missing: gap declared by the gateway (in batch 4), cause buffer_full',
        declared: { cause: 'buffer_full', in: 4 },
      },
    ]);
    const text = checkChains(
      rows.map((row, i) => ({ ...row, unitId: 'U1', gatewayId: 'gw1', seq: i })),
      keyRegistry([
        {
          unitId: 'U1',
          gatewayId: 'gw1',
          publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        },
      ]),
    ).text;
    expect(text).toMatch(/INCOMPLETE .*declared by the gateway/);
    expect(text).not.toMatch(/BROKEN|altered/);
    // Without the declarations the same link and gap read as they are: broken.
    const plain = exported(signedChain(7, privateKey, { chainFrom: { 6: 4 } })).filter((_, i) => i !== 2);
    expect(verifyChain(plain, publicKey).problems.map((p) => p.code)).toEqual([
      'MRV_F_SEQ_GAP',
      'MRV_F_CHAIN_BROKEN',
    ]);
  });

  it('signs the canonical bytes: any change to the batch breaks the signature, the sig itself is outside', () => {
    const [b] = chain(1) as [Batch];
    expect(verifyBatchSignature(b, publicKey)).toBe(true);
    expect(verifyBatchSignature({ ...b, seq: 2 }, publicKey)).toBe(false);
    expect(verifyBatchSignature({ ...b, sig: undefined }, publicKey)).toBe(false);
    expect(verifyBatchSignature({ ...b, sig: 'garbage' }, publicKey)).toBe(false);
    expect(batchHash(b)).toBe(batchHash({ ...b, sig: 'other' }));
  });

  it('parses PEM keys and refuses non-Ed25519 ones', () => {
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(parsePrivateKey(pem).asymmetricKeyType).toBe('ed25519');
    expect(parsePublicKey(pem).asymmetricKeyType).toBe('ed25519');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    expect(() => parsePrivateKey(rsa)).toThrow(/expected an Ed25519 private key, got rsa/);
  });

  it('verifies an exported chain offline and names the first broken link of a tampered one', () => {
    const ok = verifyChain(exported(chain(5)), publicKey);
    expect(ok).toMatchObject({ checked: 5, fromSeq: 1, toSeq: 5, first: undefined });
    const rows = exported(chain(5));
    rows[2] = { ...rows[2]!, canonical: rows[2]!.canonical.replace('"2.5"', '"2.6"') };
    const bad = verifyChain(rows, publicKey);
    expect(bad.first).toMatchObject({ seq: 3, code: 'MRV_F_BAD_SIGNATURE' });
    expect(bad.problems.map((p) => [p.seq, p.code])).toEqual([
      [3, 'MRV_F_BAD_SIGNATURE'],
      [4, 'MRV_F_CHAIN_BROKEN'],
    ]);
    const gap = verifyChain(
      exported(chain(5)).filter((_, i) => i !== 1),
      publicKey,
    );
    expect(gap.first).toMatchObject({ seq: 3, code: 'MRV_F_SEQ_GAP', message: 'batches 2..2 are missing' });
    expect(gap.first?.declared).toBeUndefined();
    expect(verifyChain(exported(chain(1)), undefined).first?.code).toBe('MRV_F_UNKNOWN_KEY');
    expect(verifyChain([{ canonical: 'nope', sig: null }], publicKey).first?.code).toBe('MRV_F_MALFORMED');
  });
});
