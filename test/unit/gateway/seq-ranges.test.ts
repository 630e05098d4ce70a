// SeqRanges against a plain Set as the model: random adds, range adds, deletes and cuts keep the same
// members, and a run of seqs stays one range.
import { describe, expect, it } from 'vitest';
import { SeqRanges } from '../../../gateway/seq-ranges.ts';

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('SeqRanges', () => {
  it('matches a Set under random adds, range adds, deletes and cuts', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = prng(seed);
      const r = new SeqRanges();
      const model = new Set<number>();
      for (let step = 0; step < 3000; step++) {
        const op = rnd();
        const seq = 1 + Math.floor(rnd() * 200);
        if (op < 0.4) {
          r.add(seq);
          model.add(seq);
        } else if (op < 0.55) {
          const to = seq + Math.floor(rnd() * 12) - 2; // sometimes empty (to < from)
          r.addRange(seq, to);
          for (let s = seq; s <= to; s++) model.add(s);
        } else if (op < 0.85) {
          r.delete(seq);
          model.delete(seq);
        } else if (op < 0.9) {
          const cut = Math.floor(rnd() * 60);
          r.deleteThrough(cut);
          for (const s of [...model]) if (s <= cut) model.delete(s);
        } else {
          const from = 1 + Math.floor(rnd() * 200);
          const to = from + Math.floor(rnd() * 50);
          let n = 0;
          for (const s of model) if (s >= from && s <= to) n++;
          expect(r.countIn(from, to)).toBe(n);
        }
        if (step % 97 === 0)
          for (let s = 0; s <= 215; s++)
            expect(r.has(s), `seed ${seed} step ${step} seq ${s}`).toBe(model.has(s));
      }
      // The ranges are sorted, disjoint and separated by at least one missing seq.
      let prevTo = Number.NEGATIVE_INFINITY;
      let members = 0;
      for (const [from, to] of r) {
        expect(from).toBeGreaterThan(prevTo + 1);
        expect(to).toBeGreaterThanOrEqual(from);
        for (let s = from; s <= to; s++) expect(model.has(s)).toBe(true);
        members += to - from + 1;
        prevTo = to;
      }
      expect(members).toBe(model.size);
    }
  });

  it('keeps a run of 100 000 seqs as one range, added one by one or out of order', () => {
    const r = new SeqRanges();
    for (let s = 1; s <= 100_000; s += 2) r.add(s);
    expect(r.ranges).toBe(50_000);
    for (let s = 2; s <= 100_000; s += 2) r.add(s);
    expect(r.ranges).toBe(1);
    expect(r.runFrom(1)).toBe(100_000);
    expect(r.runFrom(2)).toBeUndefined();
    expect(r.countIn(10, 20)).toBe(11);
    r.delete(500);
    expect(r.ranges).toBe(2);
    expect(r.has(500)).toBe(false);
    expect(r.runFrom(501)).toBe(100_000);
    r.deleteThrough(600);
    expect([...r]).toEqual([[601, 100_000]]);
    r.clear();
    expect(r.empty).toBe(true);
  });
});
