/**
 * HJ 212 framing, pure (no I/O): CRC, frame, data segment, CP and packet splitting (docs/domain.md §4,
 * HJ 212-2017 §6.3 and Annex A).
 *
 * A frame is `##` + 4-digit decimal length of the data segment + data segment (ASCII) + 4 uppercase
 * hex CRC of the data segment + CRLF. The data segment is
 * `QN=yyyyMMddHHmmssSSS;ST=..;CN=....;PW=......;MN=...;Flag=.;[PNUM=..;PNO=..;]CP=&&...&&`.
 * Lengths count bytes of the ASCII segment; non-ASCII text is refused (the standard is ASCII).
 */
import { MrvError } from '../errors.ts';
import { DEFAULT_MAX_SEGMENT, FLAG_D, parseFlag } from './protocol.ts';

/**
 * The HJ 212 CRC of a data segment (HJ 212-2017 Annex A): register 0xFFFF; per byte
 * `crc = (crc >> 8) ^ byte`, then 8 times shift right, XOR 0xA001 when the bit shifted out was 1.
 * Not CRC-16/MODBUS (which XORs the byte into the low half).
 * @example hj212Crc('QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&') → 0x1C80
 */
export function hj212Crc(segment: string | Uint8Array): number {
  const bytes = typeof segment === 'string' ? asciiBytes(segment) : segment;
  let crc = 0xffff;
  for (const b of bytes) {
    crc = (crc >> 8) ^ b;
    for (let i = 0; i < 8; i++) {
      const lsb = crc & 1;
      crc >>= 1;
      if (lsb) crc ^= 0xa001;
    }
  }
  return crc;
}

/** The CRC as it appears in a frame: 4 uppercase hex digits. */
export function crcHex(segment: string): string {
  return hj212Crc(segment).toString(16).toUpperCase().padStart(4, '0');
}

function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) throw new MrvError('MRV_E_HJ212', `HJ 212 data segments are ASCII; character ${i} is not`);
    out[i] = c;
  }
  return out;
}

/**
 * Wraps a data segment into a frame.
 * @throws MrvError `MRV_E_HJ212` when the segment is not ASCII or longer than 9999 bytes
 */
export function encodeFrame(segment: string): string {
  asciiBytes(segment);
  if (segment.length > 9999)
    throw new MrvError(
      'MRV_E_HJ212',
      `HJ 212 data segment of ${segment.length} bytes exceeds the 4-digit length`,
    );
  return `##${String(segment.length).padStart(4, '0')}${segment}${crcHex(segment)}\r\n`;
}

/**
 * Unwraps one frame (with or without its CRLF) and checks its length and CRC.
 * @returns the data segment
 * @throws MrvError `MRV_E_HJ212` naming what is wrong (header, length, CRC)
 */
export function decodeFrame(frame: string): string {
  const f = frame.endsWith('\r\n') ? frame.slice(0, -2) : frame;
  const m = /^##(\d{4})([\s\S]*)([0-9A-Fa-f]{4})$/.exec(f);
  if (!m)
    throw new MrvError('MRV_E_HJ212', 'not an HJ 212 frame: expected ##, 4-digit length, segment, 4 hex CRC');
  const [, lenText, segment, crc] = m as unknown as [string, string, string, string];
  if (segment.length !== Number(lenText))
    throw new MrvError(
      'MRV_E_HJ212',
      `HJ 212 length field says ${lenText} bytes, segment has ${segment.length}`,
      {
        expected: Number(lenText),
        actual: segment.length,
      },
    );
  const want = crcHex(segment);
  if (crc.toUpperCase() !== want)
    throw new MrvError('MRV_E_HJ212', `HJ 212 CRC mismatch: frame says ${crc}, segment gives ${want}`, {
      crc,
      expected: want,
    });
  return segment;
}

/**
 * Cuts complete frames off the front of a receive buffer (TCP delivers a byte stream). Bytes before
 * a `##` are skipped as noise; an incomplete frame stays in `rest`. A frame whose length field is not
 * four digits is dropped up to the next `##`.
 */
export function splitFrames(buffer: string): { frames: string[]; rest: string; skipped: number } {
  const frames: string[] = [];
  let skipped = 0;
  let rest = buffer;
  for (;;) {
    const start = rest.indexOf('##');
    if (start < 0) {
      // Keep a trailing '#' that may start the next header.
      const keep = rest.endsWith('#') ? 1 : 0;
      skipped += rest.length - keep;
      return { frames, rest: rest.slice(rest.length - keep), skipped };
    }
    skipped += start;
    rest = rest.slice(start);
    if (rest.length < 6) return { frames, rest, skipped };
    const lenText = rest.slice(2, 6);
    // Not a header here: drop one character only, so a stray '#' before "##0101..." keeps the frame.
    if (!/^\d{4}$/.test(lenText)) {
      skipped += 1;
      rest = rest.slice(1);
      continue;
    }
    const total = 6 + Number(lenText) + 4 + 2;
    if (rest.length < total) return { frames, rest, skipped };
    // A frame ends in CR LF (§6.3.1); "##dddd" inside noise that does not is no header.
    if (rest.slice(total - 2, total) !== '\r\n') {
      skipped += 1;
      rest = rest.slice(1);
      continue;
    }
    frames.push(rest.slice(0, total));
    rest = rest.slice(total);
  }
}

/** The header fields of a data segment (HJ 212-2017 §6.3.2 table 3). */
export interface Hj212Header {
  /** Request code 请求编码, `yyyyMMddHHmmssSSS` in UTC+8; absent when the sender gives none. */
  qn?: string;
  /** System code (ST), 2 digits. */
  st: string;
  /** Command code (CN), 4 digits. */
  cn: string;
  /** Access password (PW), 6 characters by the standard; never logged. */
  pw: string;
  /** Device unique identifier (MN), up to 24 characters. */
  mn: string;
  /** Flag byte: version bits, D, A ({@link flagOf}). */
  flag: number;
  /** Total packets (PNUM), only when the D bit is set. */
  pnum?: number;
  /** This packet's number (PNO), 1-based, only when the D bit is set. */
  pno?: number;
}

/** A decoded data segment: header and the raw CP content between `&&` and `&&`. */
export interface Hj212Packet extends Hj212Header {
  cp: string;
}

const FIELD_VALUE = /^[^;=&]*$/;

function checkHeader(h: Hj212Header): void {
  const bad = (what: string) => new MrvError('MRV_E_HJ212', `HJ 212 header: ${what}`);
  if (h.qn !== undefined && !/^\d{17}$/.test(h.qn))
    throw bad(`QN must be 17 digits (yyyyMMddHHmmssSSS), got "${h.qn}"`);
  if (!/^\d{2}$/.test(h.st)) throw bad(`ST must be 2 digits, got "${h.st}"`);
  if (!/^\d{4}$/.test(h.cn)) throw bad(`CN must be 4 digits, got "${h.cn}"`);
  if (!FIELD_VALUE.test(h.pw) || h.pw.length > 9) throw bad('PW must be at most 9 characters without ;=&');
  if (!FIELD_VALUE.test(h.mn) || h.mn.length < 1 || h.mn.length > 27)
    throw bad('MN must be 1–27 characters without ;=&');
  if (!Number.isInteger(h.flag) || h.flag < 0 || h.flag > 255)
    throw bad(`Flag must be 0..255, got ${h.flag}`);
  const d = (h.flag & FLAG_D) !== 0;
  if (d !== (h.pnum !== undefined && h.pno !== undefined))
    throw bad('PNUM and PNO are present exactly when the Flag D bit is set');
  if (d && !(Number.isInteger(h.pnum) && Number.isInteger(h.pno) && h.pno! >= 1 && h.pno! <= h.pnum!))
    throw bad(`PNO must be 1..PNUM, got PNO=${h.pno} PNUM=${h.pnum}`);
}

/**
 * Builds a data segment from header and CP content.
 * @throws MrvError `MRV_E_HJ212` for a malformed header or a CP containing `&&`
 */
export function encodeSegment(p: Hj212Packet): string {
  checkHeader(p);
  if (p.cp.includes('&&')) throw new MrvError('MRV_E_HJ212', 'CP content must not contain "&&"');
  const parts = [
    ...(p.qn !== undefined ? [`QN=${p.qn}`] : []),
    `ST=${p.st}`,
    `CN=${p.cn}`,
    `PW=${p.pw}`,
    `MN=${p.mn}`,
    `Flag=${p.flag}`,
    ...(p.pnum !== undefined ? [`PNUM=${p.pnum}`, `PNO=${p.pno}`] : []),
  ];
  return `${parts.join(';')};CP=&&${p.cp}&&`;
}

/**
 * Parses a data segment. Header fields may come in any order; unknown header fields are refused.
 * @throws MrvError `MRV_E_HJ212` naming the missing or malformed field
 */
export function decodeSegment(segment: string): Hj212Packet {
  const cpAt = segment.indexOf('CP=&&');
  if (cpAt < 0 || !segment.endsWith('&&') || segment.length < cpAt + 7)
    throw new MrvError('MRV_E_HJ212', 'HJ 212 data segment has no CP=&&...&&');
  const cp = segment.slice(cpAt + 5, -2);
  const head = segment.slice(0, cpAt);
  const fields = new Map<string, string>();
  for (const part of head.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new MrvError('MRV_E_HJ212', `HJ 212 header field "${part}" has no "="`);
    const key = part.slice(0, eq);
    if (fields.has(key)) throw new MrvError('MRV_E_HJ212', `HJ 212 header field ${key} appears twice`);
    fields.set(key, part.slice(eq + 1));
  }
  const req = (k: string): string => {
    const v = fields.get(k);
    if (v === undefined) throw new MrvError('MRV_E_HJ212', `HJ 212 header misses ${k}`);
    return v;
  };
  for (const k of fields.keys())
    if (!['QN', 'ST', 'CN', 'PW', 'MN', 'Flag', 'PNUM', 'PNO'].includes(k))
      throw new MrvError('MRV_E_HJ212', `HJ 212 header has an unknown field ${k}`);
  const flagText = req('Flag');
  if (!/^\d{1,3}$/.test(flagText))
    throw new MrvError('MRV_E_HJ212', `HJ 212 Flag "${flagText}" is not a number`);
  const p: Hj212Packet = {
    st: req('ST'),
    cn: req('CN'),
    pw: req('PW'),
    mn: req('MN'),
    flag: Number(flagText),
    cp,
  };
  const qn = fields.get('QN');
  if (qn !== undefined) p.qn = qn;
  const pnum = fields.get('PNUM');
  const pno = fields.get('PNO');
  if (pnum !== undefined) p.pnum = Number(pnum);
  if (pno !== undefined) p.pno = Number(pno);
  checkHeader(p);
  return p;
}

/** Decodes a whole frame: length, CRC, then the data segment. @throws MrvError `MRV_E_HJ212` */
export function decodePacket(frame: string): Hj212Packet {
  return decodeSegment(decodeFrame(frame));
}

/**
 * CP content as groups of `key=value` items: groups are separated by `;`, items by `,`
 * (HJ 212-2017 §6.3.3), e.g. `DataTime=20260101000000;a05001-Avg=1.2,a05001-Flag=N`.
 * @throws MrvError `MRV_E_HJ212` for an item without `=`
 */
export function parseCp(cp: string): Array<Record<string, string>> {
  if (cp === '') return [];
  return cp.split(';').map((group) => {
    const out: Record<string, string> = {};
    for (const item of group.split(',')) {
      const eq = item.indexOf('=');
      if (eq < 0) throw new MrvError('MRV_E_HJ212', `HJ 212 CP item "${item}" has no "="`);
      out[item.slice(0, eq)] = item.slice(eq + 1);
    }
    return out;
  });
}

/** Inverse of {@link parseCp}. */
export function formatCp(groups: Array<Record<string, string>>): string {
  return groups
    .map((g) =>
      Object.entries(g)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    )
    .join(';');
}

/**
 * Encodes one message as one or more frames. The CP is given as groups (each a string such as
 * `a05001-Avg=1.2,a05001-Flag=N`) plus `prefix` groups (e.g. `DataTime=...`) repeated at the head of
 * every packet so each is self-describing. When the whole segment would exceed `maxSegment` bytes the
 * groups are split over packets in order (HJ 212-2017 §6.3.2: Flag D set, PNUM = total, PNO = 1..PNUM,
 * one QN for all packets of the message). A group is never split.
 * @throws MrvError `MRV_E_HJ212` when one group alone does not fit in a packet
 */
export function encodeMessage(
  header: Omit<Hj212Header, 'pnum' | 'pno'>,
  groups: string[],
  opts: { prefix?: string[]; maxSegment?: number } = {},
): string[] {
  const max = opts.maxSegment ?? DEFAULT_MAX_SEGMENT;
  const prefix = opts.prefix ?? [];
  const cpOf = (gs: string[]) => [...prefix, ...gs].join(';');
  const single = encodeSegment({ ...header, flag: header.flag & ~FLAG_D, cp: cpOf(groups) });
  if (single.length <= max) return [encodeFrame(single)];
  // Reserve room for the widest PNUM/PNO the 4-digit length allows, then fill packets greedily.
  const base = encodeSegment({
    ...header,
    flag: header.flag | FLAG_D,
    pnum: 9999,
    pno: 9999,
    cp: cpOf([]),
  }).length;
  const chunks: string[][] = [];
  let cur: string[] = [];
  let curLen = base;
  for (const g of groups) {
    const add = g.length + (prefix.length + cur.length > 0 ? 1 : 0);
    if (base + g.length + (prefix.length > 0 ? 1 : 0) > max)
      throw new MrvError(
        'MRV_E_HJ212',
        `HJ 212 CP group of ${g.length} bytes does not fit in a ${max}-byte packet`,
      );
    if (curLen + add > max) {
      chunks.push(cur);
      cur = [];
      curLen = base;
    }
    curLen += g.length + (prefix.length + cur.length > 0 ? 1 : 0);
    cur.push(g);
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks.map((c, i) =>
    encodeFrame(
      encodeSegment({ ...header, flag: header.flag | FLAG_D, pnum: chunks.length, pno: i + 1, cp: cpOf(c) }),
    ),
  );
}

/** Whether a decoded packet asks for an acknowledgement (Flag A bit). */
export function wantsAck(p: Hj212Header): boolean {
  return parseFlag(p.flag).ack;
}
