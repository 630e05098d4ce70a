// HJ 212 pure encoder/decoder: the standard's CRC test vector, round trips, packet splitting, flags.
import { describe, expect, it } from 'vitest';
import type { MrvError } from '../../../core/errors.ts';
import {
  CN,
  crcHex,
  dataTime,
  decodeDataCp,
  decodeFrame,
  decodePacket,
  deriveDataFlag,
  encodeDataAck,
  encodeDataMessage,
  encodeFrame,
  encodeSegment,
  flagOf,
  HJ212_VERSIONS,
  hj212Crc,
  parseCp,
  parseDataAck,
  parseFlag,
  parseStamp,
  qnOf,
  splitFrames,
} from '../../../core/hj212/index.ts';

const VECTOR =
  'QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&';

describe('HJ 212 CRC and frame', () => {
  it('matches the test vector of docs/domain.md §4: length 0101, CRC 1C80', () => {
    expect(hj212Crc(VECTOR)).toBe(0x1c80);
    expect(crcHex(VECTOR)).toBe('1C80');
    expect(encodeFrame(VECTOR)).toBe(`##0101${VECTOR}1C80\r\n`);
  });

  it('is not CRC-16/MODBUS', () => {
    // CRC-16/MODBUS of "123456789" is 0x4B37; the HJ 212 variant gives something else.
    expect(hj212Crc('123456789')).not.toBe(0x4b37);
  });

  it('decodes the vector and refuses a wrong CRC or length', () => {
    const p = decodePacket(`##0101${VECTOR}1C80\r\n`);
    expect(p).toMatchObject({ qn: '20160801085857223', st: '32', cn: '1062', pw: '100000', flag: 5 });
    expect(p.mn).toBe('010000A8900016F000169DC0');
    expect(parseCp(p.cp)).toEqual([{ RtdInterval: '30' }]);
    expect(() => decodeFrame(`##0101${VECTOR}1C81\r\n`)).toThrow(/CRC mismatch/);
    expect(() => decodeFrame(`##0100${VECTOR}1C80\r\n`)).toThrow(/length/);
    try {
      decodeFrame('garbage');
    } catch (err) {
      expect((err as MrvError).code).toBe('MRV_E_HJ212');
    }
  });

  it('splits a byte stream into frames, keeping partial frames and skipping noise', () => {
    const f = encodeFrame(VECTOR);
    const { frames, rest, skipped } = splitFrames(`xx${f}${f}${f.slice(0, 30)}`);
    expect(frames).toEqual([f, f]);
    expect(rest).toBe(f.slice(0, 30));
    expect(skipped).toBe(2);
    expect(splitFrames(`${rest}${f.slice(30)}`).frames).toEqual([f]);
  });
});

describe('stream and field defects found by peers (issue 15)', () => {
  it('keeps a valid frame preceded by a stray #', () => {
    const f = encodeFrame(VECTOR);
    expect(splitFrames(`#${f}`).frames).toEqual([f]);
    expect(splitFrames(`###${f}`).frames).toEqual([f]);
    const r = splitFrames(`#${f}`);
    expect(r.skipped).toBe(1);
  });

  it('does not take "##dddd" in noise for a header when no CR LF ends it', () => {
    const f = encodeFrame(VECTOR);
    expect(splitFrames(`##0003abcdefghijklmn${f}`).frames).toEqual([f]);
  });

  it('keeps a device running status SBn-RS, running time SBn-RT and every other field', () => {
    const cp = 'DataTime=20260115103000;SB7-RS=2,SB7-RT=12.5;a21026-ZsRtd=31.2,a21026-Rtd=30.1,a21026-Flag=N';
    const d = decodeDataCp(cp);
    expect(d.values).toEqual([
      { code: 'SB7', rs: '2', rt: '12.5' },
      { code: 'a21026', rtd: '30.1', flag: 'N', other: { ZsRtd: '31.2' } },
    ]);
    const header = { qn: '20260115103000123', st: '31', pw: '123456', mn: 'MN0001', flag: 5 };
    const [f] = encodeDataMessage(header, { cn: CN.realtime, dataTime: d.dataTime, values: d.values });
    expect(decodeDataCp(decodePacket(f!).cp).values).toEqual(d.values);
  });
});

describe('Flag bits', () => {
  it('gives 4/5 for 2017 and keeps version bits in one table', () => {
    const v17 = HJ212_VERSIONS['hj212-2017'].versionBits;
    expect(flagOf(v17)).toBe(4);
    expect(flagOf(v17, { ack: true })).toBe(5);
    expect(flagOf(v17, { ack: true, packetised: true })).toBe(7);
    expect(HJ212_VERSIONS['hj212-2025'].confirmed).toBe(false);
    expect(flagOf(HJ212_VERSIONS['hj212-2025'].versionBits, { ack: true })).toBe(9);
    expect(parseFlag(7)).toEqual({ versionBits: 1, packetised: true, ack: true });
  });
});

describe('data messages', () => {
  const header = { qn: '20260115103000123', st: '31', pw: '123456', mn: 'MN0001', flag: 5 };
  const t = Date.parse('2026-01-15T02:30:00Z'); // 10:30 in UTC+8

  it('formats times in UTC+8 and parses them back', () => {
    expect(dataTime(t)).toBe('20260115103000');
    expect(qnOf(t + 123)).toBe('20260115103000123');
    expect(parseStamp('20260115103000')).toBe(t);
    expect(parseStamp('20260115103000123')).toBe(t + 123);
  });

  it('round-trips a minute message with Cou/Min/Avg/Max/Flag', () => {
    const frames = encodeDataMessage(header, {
      cn: CN.minute,
      dataTime: t,
      values: [
        { code: 'a05001', cou: '1.5', min: '10.1', avg: '10.25', max: '10.4', flag: 'N' },
        { code: 'e30001', avg: '412.5', min: '410', max: '415', flag: 'C' },
        { code: 'e30002', flag: 'B' },
      ],
    });
    expect(frames).toHaveLength(1);
    const f = frames[0]!;
    expect(f).toContain(
      'CP=&&DataTime=20260115103000;a05001-Cou=1.5,a05001-Min=10.1,a05001-Avg=10.25,a05001-Max=10.4,a05001-Flag=N;',
    );
    const p = decodePacket(f);
    expect(p.cn).toBe('2051');
    const d = decodeDataCp(p.cp);
    expect(d.dataTime).toBe(t);
    expect(d.values).toEqual([
      { code: 'a05001', cou: '1.5', min: '10.1', avg: '10.25', max: '10.4', flag: 'N' },
      { code: 'e30001', min: '410', avg: '412.5', max: '415', flag: 'C' },
      { code: 'e30002', flag: 'B' },
    ]);
  });

  it('round-trips a real-time message with Rtd and Flag', () => {
    const [f] = encodeDataMessage(header, {
      cn: CN.realtime,
      dataTime: t,
      values: [{ code: 'a05001', rtd: '3.25', flag: 'N' }],
    });
    expect(f).toContain('CP=&&DataTime=20260115103000;a05001-Rtd=3.25,a05001-Flag=N&&');
    expect(decodeDataCp(decodePacket(f!).cp).values).toEqual([{ code: 'a05001', rtd: '3.25', flag: 'N' }]);
  });

  it('splits a long message into packets with PNUM/PNO and the D bit, each within the limit', () => {
    const values = Array.from({ length: 40 }, (_, i) => ({
      code: `e${String(30000 + i)}`,
      min: '123.456',
      avg: '124.5',
      max: '125.875',
      flag: 'N' as const,
    }));
    const frames = encodeDataMessage(header, { cn: CN.hour, dataTime: t, values }, 400);
    expect(frames.length).toBeGreaterThan(1);
    const packets = frames.map(decodePacket);
    const decoded = packets.flatMap((p, i) => {
      expect(p.pnum).toBe(frames.length);
      expect(p.pno).toBe(i + 1);
      expect(parseFlag(p.flag)).toEqual({ versionBits: 1, packetised: true, ack: true });
      expect(p.qn).toBe(header.qn);
      expect(decodeFrame(frames[i]!).length).toBeLessThanOrEqual(400);
      const d = decodeDataCp(p.cp);
      expect(d.dataTime).toBe(t);
      return d.values;
    });
    expect(decoded).toEqual(values);
    // A message that fits is one packet without PNUM/PNO and without D.
    const one = decodePacket(
      encodeDataMessage(header, { cn: CN.hour, dataTime: t, values: values.slice(0, 1) })[0]!,
    );
    expect(one.pnum).toBeUndefined();
    expect(parseFlag(one.flag).packetised).toBe(false);
  });

  it('refuses a group that cannot fit in one packet, and malformed headers', () => {
    expect(() =>
      encodeDataMessage(
        header,
        { cn: CN.hour, dataTime: t, values: [{ code: 'a05001', avg: '1'.repeat(500) }] },
        200,
      ),
    ).toThrow(/does not fit/);
    expect(() => encodeSegment({ ...header, cn: '2051', flag: 7, cp: '' })).toThrow(/PNUM/);
    expect(() => encodeSegment({ ...header, cn: '20511', cp: '' })).toThrow(/CN/);
  });

  it('builds and recognises the 9014 acknowledgement (ST 91, same QN, Flag without A)', () => {
    const p = decodePacket(
      encodeDataMessage(header, { cn: CN.minute, dataTime: t, values: [{ code: 'a05001', avg: '1' }] })[0]!,
    );
    const ack = encodeDataAck(p, 1);
    expect(ack).toMatch(
      /^##\d{4}QN=20260115103000123;ST=91;CN=9014;PW=123456;MN=MN0001;Flag=4;CP=&&&&[0-9A-F]{4}\r\n$/,
    );
    expect(parseDataAck(ack)).toEqual({ qn: header.qn, mn: 'MN0001' });
    expect(parseDataAck(encodeFrame(VECTOR))).toBeUndefined();
  });
});

describe('data flags from quality and calibration', () => {
  it('follows the documented order', () => {
    expect(deriveDataFlag({ quality: 'none' })).toBe('B');
    expect(deriveDataFlag({ quality: 'bad', reason: 'MRV_E_DEVICE_UNREACHABLE: connect ECONNREFUSED' })).toBe(
      'B',
    );
    expect(deriveDataFlag({ quality: 'bad', reason: 'MRV_E_MODBUS_TIMEOUT: no answer' })).toBe('B');
    expect(deriveDataFlag({ quality: 'bad', reason: 'MRV_E_OPCUA_STATUS: BadCommunicationError' })).toBe('B');
    expect(deriveDataFlag({ quality: 'bad', reason: 'MRV_E_OPCUA_STATUS: BadOutOfService' })).toBe('F');
    expect(deriveDataFlag({ quality: 'bad', reason: 'MRV_E_MODBUS_EXCEPTION: 02' })).toBe('D');
    expect(deriveDataFlag({ quality: 'bad', reason: 'MRV_E_OPCUA_STATUS: BadSensorFailure' })).toBe('D');
    expect(deriveDataFlag({ quality: 'good', window: 'stopped' })).toBe('F');
    expect(deriveDataFlag({ quality: 'good', window: 'maintenance' })).toBe('M');
    expect(deriveDataFlag({ quality: 'good', window: 'calibration' })).toBe('C');
    expect(deriveDataFlag({ quality: 'good', window: 'manual' })).toBe('S');
    expect(deriveDataFlag({ quality: 'good', reason: 'MRV_E_OPCUA_STATUS: GoodLocalOverride' })).toBe('S');
    expect(
      deriveDataFlag({
        quality: 'uncertain',
        reason: 'MRV_E_OPCUA_STATUS: UncertainEngineeringUnitsExceeded',
      }),
    ).toBe('T');
    expect(deriveDataFlag({ quality: 'good', overLimit: true, calibration: 'expired' })).toBe('T');
    expect(deriveDataFlag({ quality: 'good', calibration: 'expired' })).toBe('C');
    expect(deriveDataFlag({ quality: 'good', calibration: 'missing', calibrationLapsedFlag: 'N' })).toBe('N');
    expect(deriveDataFlag({ quality: 'good', calibration: 'due_soon' })).toBe('N');
    expect(deriveDataFlag({ quality: 'good', calibration: 'none' })).toBe('N');
    expect(deriveDataFlag({ quality: 'uncertain' })).toBe('N');
  });
});
