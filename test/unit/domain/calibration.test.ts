import { describe, expect, it } from 'vitest';
import {
  calibrationOverPeriod,
  calibrationStatus,
  withinCalibration,
} from '../../../core/domain/calibration.ts';
import type { MeterMeta } from '../../../core/schema/wire.ts';
import { cst } from './helpers.ts';

const cert = (certificate: string, date: string, validUntil: string, result = '合格 pass') => ({
  certificate,
  kind: 'verification' as const,
  date,
  validUntil,
  body: 'Demo Institute',
  result,
});
const scale: MeterMeta = {
  id: 'wb-1',
  name: 'weighbridge',
  kind: 'weighbridge',
  // The 2025 certificate ends on 2026-02-14; the next one starts on 2026-02-16: Feb 15 is uncovered.
  calibrations: [cert('C-2025', '2025-02-15', '2026-02-14'), cert('C-2026', '2026-02-16', '2027-02-15')],
};

describe('calibration status', () => {
  it('is valid, due soon, expired and valid again across a certificate that expires mid-month', () => {
    // Feb 1: C-2025 covers, 13 days left < 30: due soon.
    expect(calibrationStatus(scale, cst(2026, 2, 1))).toEqual({
      status: 'due_soon',
      certificate: 'C-2025',
      validUntil: '2026-02-14',
      daysLeft: 13,
    });
    // With a 10-day window the same instant is valid.
    expect(calibrationStatus(scale, cst(2026, 2, 1), 10).status).toBe('valid');
    // The last instant of Feb 14 (UTC+8) is still covered; Feb 15 00:00 is not.
    expect(calibrationStatus(scale, cst(2026, 2, 15) - 1).status).toBe('due_soon');
    expect(calibrationStatus(scale, cst(2026, 2, 15))).toEqual({
      status: 'expired',
      certificate: 'C-2025',
      validUntil: '2026-02-14',
      daysLeft: -1,
    });
    expect(calibrationStatus(scale, cst(2026, 2, 16)).certificate).toBe('C-2026');
    expect(calibrationStatus(scale, cst(2026, 2, 16)).status).toBe('valid');
  });

  it('marks each reading within calibration or not, by UTC+8 date', () => {
    expect(withinCalibration(scale, cst(2026, 2, 14, 23, 59))).toBe(true);
    // 2026-02-14T16:30Z is Feb 15 00:30 in China: outside.
    expect(withinCalibration(scale, Date.UTC(2026, 1, 14, 16, 30))).toBe(false);
    expect(withinCalibration(scale, cst(2026, 2, 16, 0, 1))).toBe(true);
  });

  it('cuts the month into valid / expired / valid segments', () => {
    expect(calibrationOverPeriod(scale, cst(2026, 2, 1), cst(2026, 3, 1))).toEqual([
      {
        from: '2026-02-01T00:00:00.000+08:00',
        to: '2026-02-15T00:00:00.000+08:00',
        status: 'valid',
        certificate: 'C-2025',
      },
      {
        from: '2026-02-15T00:00:00.000+08:00',
        to: '2026-02-16T00:00:00.000+08:00',
        status: 'expired',
        certificate: 'C-2025',
      },
      {
        from: '2026-02-16T00:00:00.000+08:00',
        to: '2026-03-01T00:00:00.000+08:00',
        status: 'valid',
        certificate: 'C-2026',
      },
    ]);
  });

  it('is missing without certificates, without a meter, or before the first one; a failed certificate does not count', () => {
    expect(calibrationStatus({ ...scale, calibrations: [] }, cst(2026, 2, 1)).status).toBe('missing');
    expect(calibrationStatus(undefined, cst(2026, 2, 1)).status).toBe('missing');
    expect(calibrationStatus(scale, cst(2025, 1, 1)).status).toBe('missing');
    const failed = { ...scale, calibrations: [cert('C-F', '2026-01-01', '2026-12-31', '不合格 fail')] };
    expect(calibrationStatus(failed, cst(2026, 6, 1)).status).toBe('missing');
  });
});
