// evidence/sha256-state.ts: the resumable SHA-256 gives node:crypto's digests, fed in any pieces and
// saved and taken up again (through JSON, as the day aggregates keep it) at any point.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256State } from '../../../evidence/sha256-state.ts';

const native = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('Sha256State', () => {
  it('equals node:crypto on empty, block-edge and multi-byte text', () => {
    for (const text of [
      '',
      'abc',
      'a'.repeat(55),
      'a'.repeat(56),
      'a'.repeat(64),
      'a'.repeat(119),
      '读数\t1\n'.repeat(50),
    ])
      expect(new Sha256State().update(text).digest(), `length ${text.length}`).toBe(native(text));
  });

  it('equals node:crypto when fed in random pieces and resumed from a JSON save after each', () => {
    for (let round = 0; round < 30; round++) {
      const pieces: string[] = [];
      for (let i = 0; i < 1 + (round % 7); i++)
        pieces.push(randomBytes(Math.floor(Math.random() * 300)).toString('base64'));
      let h = new Sha256State();
      for (const p of pieces) {
        h.update(p);
        h = Sha256State.from(JSON.parse(JSON.stringify(h.save())));
      }
      // digest() leaves the state as it was: digesting twice gives the same.
      expect(h.digest()).toBe(native(pieces.join('')));
      expect(h.digest()).toBe(native(pieces.join('')));
    }
  });

  it('rejects a malformed state', () => {
    expect(() => Sha256State.from({ h: [1, 2], tail: '', length: 0 })).toThrow(RangeError);
  });
});
