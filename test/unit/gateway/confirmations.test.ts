// gateway/confirmations.ts: which batches the broker took and no collector confirmed, and when each is
// due to be sent again (time-out, doubling up to 8x).
import { describe, expect, it } from 'vitest';
import { Confirmations } from '../../../gateway/confirmations.ts';

describe('Confirmations', () => {
  it('makes a batch due after the time-out, doubling per try up to 8 times it', () => {
    const c = new Confirmations({ timeoutMs: 1000 });
    c.published(7, 0);
    expect(c.size).toBe(1);
    expect(c.takeDue(999)).toEqual([]);
    expect(c.takeDue(1000)).toEqual([7]);
    expect(c.size).toBe(0);
    // Each re-send waits twice as long: 2 s, 4 s, 8 s, then 8 s again.
    const waits: number[] = [];
    let now = 1000;
    for (let i = 0; i < 5; i++) {
      c.published(7, now);
      let t = now;
      while (c.takeDue(t).length === 0) t += 100;
      waits.push(t - now);
      now = t;
    }
    expect(waits).toEqual([2000, 4000, 8000, 8000, 8000]);
    expect(c.resent).toBe(6);
  });

  it('forgets confirmed batches and their tries; takes all on a sync, oldest PUBACK first', () => {
    const c = new Confirmations({ timeoutMs: 1000 });
    c.published(3, 10);
    c.published(1, 20);
    c.published(2, 30);
    expect(c.oldestAt).toBe(10);
    c.confirmed(3);
    expect(c.has(3)).toBe(false);
    expect(c.oldestAt).toBe(20);
    expect(c.takeAll()).toEqual([1, 2]);
    expect(c.size).toBe(0);
    // Tries are remembered until confirmed: the next wait for 1 is doubled, for 3 it starts over.
    c.published(1, 0);
    c.published(3, 0);
    expect(c.takeDue(1000)).toEqual([3]);
    expect(c.takeDue(2000)).toEqual([1]);
  });

  it('forgets everything below the log start', () => {
    const c = new Confirmations({ timeoutMs: 1000 });
    for (const s of [1, 2, 3, 4]) c.published(s, 0);
    c.forgetBelow(3);
    expect(c.takeAll()).toEqual([3, 4]);
  });

  it('makes an older batch of the same topic due soon when a newer one is confirmed (a hole), not one of another topic', () => {
    const c = new Confirmations({ timeoutMs: 30_000, holeGraceMs: 2000 });
    c.published(1, 0, 'data');
    c.published(2, 10, 'backlog');
    c.published(3, 20, 'data');
    c.published(4, 30, 'data');
    c.confirmed(3, 1000); // 1 went out before 3 on data and is not confirmed: lost on the way
    expect(c.takeDue(2999)).toEqual([]);
    expect(c.takeDue(3000)).toEqual([1]);
    // 2 (another topic, no order with data) and 4 (after 3) wait for the time-out.
    expect(c.takeDue(29_999)).toEqual([]);
    expect(c.takeDue(30_030)).toEqual([2, 4]);
  });
});
