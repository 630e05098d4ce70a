/**
 * SHA-256 (FIPS 180-4) whose running state can be kept and taken up again: the day aggregates
 * (evidence/day-aggregates.ts) keep the readings digest's open day segments after each ended hour of
 * the day not yet over, and node:crypto's Hash cannot be exported. Slower than node:crypto, so it is
 * used only for the segments of that one day (evidence/service.ts `digestingSource`); its digests are
 * node:crypto's (test/unit/evidence/sha256-state.test.ts).
 */

/** The kept state of a {@link Sha256State}: 8 words of the chain, the bytes not yet in a block (hex), total bytes. */
export interface Sha256Saved {
  h: number[];
  tail: string;
  length: number;
}

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const W = new Int32Array(64);

/** A SHA-256 over UTF-8 text fed in pieces, whose state {@link save} keeps and {@link Sha256State.from} restores. */
export class Sha256State {
  readonly #h = new Int32Array(8);
  #tail: Uint8Array = new Uint8Array(0);
  #length = 0;

  constructor() {
    this.#h.set(IV);
  }

  /** A hash taken up again from a {@link save}d state. @throws RangeError for a malformed state */
  static from(s: Sha256Saved): Sha256State {
    const x = new Sha256State();
    if (!Array.isArray(s.h) || s.h.length !== 8 || typeof s.tail !== 'string' || s.tail.length >= 128)
      throw new RangeError('malformed SHA-256 state');
    x.#h.set(s.h);
    x.#tail = Uint8Array.from(Buffer.from(s.tail, 'hex'));
    x.#length = s.length;
    return x;
  }

  /** Feeds UTF-8 text (or bytes). */
  update(data: string | Uint8Array): this {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.#length += bytes.length;
    let buf = bytes;
    if (this.#tail.length > 0) {
      const joined = new Uint8Array(this.#tail.length + bytes.length);
      joined.set(this.#tail);
      joined.set(bytes, this.#tail.length);
      buf = joined;
    }
    const whole = buf.length - (buf.length % 64);
    if (whole > 0) blocks(this.#h, buf, whole);
    this.#tail = buf.slice(whole);
    return this;
  }

  /** The running state (JSON). */
  save(): Sha256Saved {
    return { h: [...this.#h], tail: Buffer.from(this.#tail).toString('hex'), length: this.#length };
  }

  /** The lower-case hex digest of everything fed (the state is left as it was). */
  digest(): string {
    const bits = this.#length * 8;
    const padLen = (this.#tail.length < 56 ? 56 : 120) - this.#tail.length;
    const last = new Uint8Array(this.#tail.length + padLen + 8);
    last.set(this.#tail);
    last[this.#tail.length] = 0x80;
    const view = new DataView(last.buffer);
    view.setUint32(last.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(last.length - 4, bits >>> 0);
    const saved = Int32Array.from(this.#h);
    blocks(this.#h, last, last.length);
    const out = Buffer.alloc(32);
    for (let i = 0; i < 8; i++) out.writeInt32BE(this.#h[i] as number, i * 4);
    this.#h.set(saved);
    return out.toString('hex');
  }
}

function blocks(h: Int32Array, buf: Uint8Array, end: number): void {
  let h0 = h[0] as number;
  let h1 = h[1] as number;
  let h2 = h[2] as number;
  let h3 = h[3] as number;
  let h4 = h[4] as number;
  let h5 = h[5] as number;
  let h6 = h[6] as number;
  let h7 = h[7] as number;
  for (let off = 0; off < end; off += 64) {
    for (let i = 0; i < 16; i++) {
      const j = off + i * 4;
      W[i] =
        ((buf[j] as number) << 24) |
        ((buf[j + 1] as number) << 16) |
        ((buf[j + 2] as number) << 8) |
        (buf[j + 3] as number);
    }
    for (let i = 16; i < 64; i++) {
      const w15 = W[i - 15] as number;
      const w2 = W[i - 2] as number;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[i] = ((W[i - 16] as number) + s0 + (W[i - 7] as number) + s1) | 0;
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let hh = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + (K[i] as number) + (W[i] as number)) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + hh) | 0;
  }
  h[0] = h0;
  h[1] = h1;
  h[2] = h2;
  h[3] = h3;
  h[4] = h4;
  h[5] = h5;
  h[6] = h6;
  h[7] = h7;
}
