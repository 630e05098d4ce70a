/**
 * HJ 212 data messages (CN 2011, 2051, 2061, 2031) and the acknowledgement 9014, pure: from values to
 * frames and back (HJ 212-2017 §6.6.5, Annex C examples; docs/domain.md §4).
 *
 * CP of a data message: `DataTime=yyyyMMddHHmmss;` then one group per pollutant/parameter code:
 * - real-time (2011): `code-Rtd=value,code-Flag=N`;
 * - minute/hour/day (2051/2061/2031): `code-Cou=..,code-Min=..,code-Avg=..,code-Max=..,code-Flag=N`
 *   (each value field only when present). DataTime is the interval start (docs/domain.md §4).
 * Times are China Standard Time (UTC+8), whatever the machine's zone.
 */

import { MrvError } from '../errors.ts';
import { DATA_FLAGS, type DataFlag } from './flags.ts';
import {
  decodePacket,
  encodeFrame,
  encodeMessage,
  encodeSegment,
  type Hj212Header,
  type Hj212Packet,
  parseCp,
} from './frame.ts';
import { CN, type DataCn, ST } from './protocol.ts';

const CST_OFFSET_MS = 8 * 3_600_000;

/** `yyyyMMddHHmmss` in UTC+8 (DataTime). */
export function dataTime(ms: number): string {
  return new Date(ms + CST_OFFSET_MS)
    .toISOString()
    .replace(/[-:TZ]/g, '')
    .slice(0, 14);
}

/** `yyyyMMddHHmmssSSS` in UTC+8 (QN). */
export function qnOf(ms: number): string {
  return new Date(ms + CST_OFFSET_MS)
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 17);
}

/**
 * Inverse of {@link dataTime} / {@link qnOf}: ms epoch of a 14- or 17-digit UTC+8 stamp.
 * @throws MrvError `MRV_E_HJ212` for another form
 */
export function parseStamp(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})?$/.exec(s);
  if (!m) throw new MrvError('MRV_E_HJ212', `expected yyyyMMddHHmmss[SSS], got "${s}"`);
  const n = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number, number];
  return Date.UTC(n[0], n[1] - 1, n[2], n[3], n[4], n[5], n[6]) - CST_OFFSET_MS;
}

/** One code's values in a data message. Values are decimal strings as they go on the wire. */
export interface CodeValues {
  /** Pollutant/parameter code, e.g. `a05001` (CO2). */
  code: string;
  /** Real-time value (2011). */
  rtd?: string;
  /** Interval cumulative amount 累计值 (2051/2061/2031). */
  cou?: string;
  min?: string;
  avg?: string;
  max?: string;
  flag?: DataFlag;
  /** Running status of a device (`SBn-RS`, HJ 212-2017 table 5: 0 stopped, 1 running, 2 fault, ...). */
  rs?: string;
  /** Running time of a device, h (`SBn-RT`, HJ 212-2017 table 5). */
  rt?: string;
  /**
   * Every other field of the code as received (`ZsRtd`, `ZsAvg`, `EFlag`, `Ala`, `SampleTime`, ...), by
   * field name: kept, never dropped, for the fields this code does not interpret.
   */
  other?: Record<string, string>;
}

/** A data message before framing. */
export interface DataMessage {
  cn: DataCn;
  /** Interval start (2051/2061/2031) or sample time (2011), ms epoch. */
  dataTime: number;
  values: CodeValues[];
}

/** The CP group of one code, fields in the order of the standard's examples. */
export function codeGroup(cn: DataCn, v: CodeValues): string {
  const items: string[] = [];
  const add = (field: string, value: string | undefined) => {
    if (value !== undefined) items.push(`${v.code}-${field}=${value}`);
  };
  if (cn === CN.realtime) add('Rtd', v.rtd);
  else {
    add('Cou', v.cou);
    add('Min', v.min);
    add('Avg', v.avg);
    add('Max', v.max);
  }
  add('Flag', v.flag);
  add('RS', v.rs);
  add('RT', v.rt);
  for (const [field, value] of Object.entries(v.other ?? {})) add(field, value);
  if (items.length === 0) throw new MrvError('MRV_E_HJ212', `code ${v.code} has no value and no flag`);
  return items.join(',');
}

/**
 * Frames of one data message (split into packets when longer than `maxSegment`).
 * @param header everything but CN (taken from the message)
 */
export function encodeDataMessage(
  header: Omit<Hj212Header, 'cn' | 'pnum' | 'pno'>,
  msg: DataMessage,
  maxSegment?: number,
): string[] {
  return encodeMessage(
    { ...header, cn: msg.cn },
    msg.values.map((v) => codeGroup(msg.cn, v)),
    { prefix: [`DataTime=${dataTime(msg.dataTime)}`], ...(maxSegment !== undefined ? { maxSegment } : {}) },
  );
}

/**
 * The values of a data packet's CP: DataTime and each code's fields.
 * @throws MrvError `MRV_E_HJ212` for a CP without DataTime or with an unknown data flag
 */
export function decodeDataCp(cp: string): { dataTime: number; values: CodeValues[] } {
  const groups = parseCp(cp);
  let time: number | undefined;
  const byCode = new Map<string, CodeValues>();
  for (const g of groups)
    for (const [key, value] of Object.entries(g)) {
      if (key === 'DataTime') {
        time = parseStamp(value);
        continue;
      }
      const dash = key.lastIndexOf('-');
      if (dash <= 0) continue;
      const code = key.slice(0, dash);
      const field = key.slice(dash + 1);
      const v = byCode.get(code) ?? { code };
      byCode.set(code, v);
      if (field === 'Flag') {
        if (!DATA_FLAGS.includes(value as DataFlag))
          throw new MrvError('MRV_E_HJ212', `unknown data flag "${value}" for ${code}`);
        v.flag = value as DataFlag;
      } else if (field === 'Rtd') v.rtd = value;
      else if (field === 'Cou') v.cou = value;
      else if (field === 'Min') v.min = value;
      else if (field === 'Avg') v.avg = value;
      else if (field === 'Max') v.max = value;
      else if (field === 'RS') v.rs = value;
      else if (field === 'RT') v.rt = value;
      else v.other = { ...v.other, [field]: value };
    }
  if (time === undefined) throw new MrvError('MRV_E_HJ212', 'data CP has no DataTime');
  return { dataTime: time, values: [...byCode.values()] };
}

/**
 * The 9014 data acknowledgement of a received packet (HJ 212-2017 §6.6.5 table 9): ST 91, the
 * packet's QN, PW and MN, Flag = version bits without A, empty CP. Our platform simulator sends it;
 * the uplink matches it by QN.
 */
export function encodeDataAck(p: Hj212Packet, versionBits: number): string {
  return encodeFrame(
    encodeSegment({
      ...(p.qn !== undefined ? { qn: p.qn } : {}),
      st: ST.systemInteraction,
      cn: CN.dataAck,
      pw: p.pw,
      mn: p.mn,
      flag: versionBits << 2,
      cp: '',
    }),
  );
}

/** Whether a frame is a 9014 acknowledgement; returns its QN and MN, or undefined for anything else. */
export function parseDataAck(frame: string): { qn: string | undefined; mn: string } | undefined {
  const p = decodePacket(frame);
  if (p.cn !== CN.dataAck) return undefined;
  return { qn: p.qn, mn: p.mn };
}
