import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLogState } from '../../../drivers/modbus/event-log-state.ts';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'mrv-evstate-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('EventLogState', () => {
  it('keeps the last number per log across a restart, in <dataDir>/event-logs/<device>.json', () => {
    const dir = tmp();
    const a = new EventLogState('ladle-scale', dir, log);
    a.load();
    expect(a.get('tickets')).toBeUndefined();
    a.set('tickets', 260_042, '2026-12-31T16:00:00.000Z');
    a.set('other', 7, '2026-12-31T16:00:01.000Z');
    const file = path.join(dir, 'event-logs', 'ladle-scale.json');
    expect(a.file).toBe(file);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      version: 1,
      device: 'ladle-scale',
      logs: {
        tickets: { lastSeen: 260_042, at: '2026-12-31T16:00:00.000Z' },
        other: { lastSeen: 7, at: '2026-12-31T16:00:01.000Z' },
      },
    });
    const b = new EventLogState('ladle-scale', dir, log);
    b.load();
    expect(b.get('tickets')).toBe(260_042);
    expect(b.get('other')).toBe(7);
  });

  it('treats an unreadable or invalid file as nothing known (the ring is then read whole)', () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'event-logs'));
    writeFileSync(path.join(dir, 'event-logs', 'd.json'), '{"version":1,"logs":{"t":{"lastSeen":');
    const s = new EventLogState('d', dir, log);
    s.load();
    expect(s.get('t')).toBeUndefined();
    writeFileSync(
      path.join(dir, 'event-logs', 'd.json'),
      '{"version":1,"logs":{"t":{"lastSeen":-3},"u":{"lastSeen":4}}}',
    );
    s.load();
    expect(s.get('t')).toBeUndefined();
    expect(s.get('u')).toBe(4);
  });

  it('keeps the number in memory when the file cannot be written, and without a data folder', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'event-logs'), 'a file where the folder should be');
    const s = new EventLogState('d', dir, log);
    s.set('t', 9, '2026-01-01T00:00:00.000Z');
    expect(s.get('t')).toBe(9);
    const mem = new EventLogState('d', undefined, log);
    expect(mem.file).toBeUndefined();
    mem.set('t', 3, '2026-01-01T00:00:00.000Z');
    mem.load();
    expect(mem.get('t')).toBeUndefined();
  });
});
