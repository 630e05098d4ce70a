// deploy/systemd: every unit runs as the unprivileged mrv user with the hardening the install guide promises.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../deploy/systemd/', import.meta.url);
const units = readdirSync(dir).filter((f) => f.endsWith('.service'));

function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

describe('systemd units', () => {
  it('exist for gateway, collector (alone or as a share-group member), server and the HJ 212 uplink', () => {
    expect(units.sort()).toEqual([
      'mrv-collector.service',
      'mrv-collector@.service',
      'mrv-gateway.service',
      'mrv-server.service',
      'mrv-uplink-hj212.service',
    ]);
  });

  it.each(units)('%s is hardened and restarts on failure', (unit) => {
    const d = directives(readFileSync(new URL(unit, dir), 'utf8'));
    const one = (k: string) => d.get(k)?.at(-1);
    expect(one('User')).toBe('mrv');
    for (const [k, v] of Object.entries({
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      Restart: 'on-failure',
      CapabilityBoundingSet: '',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      MemoryDenyWriteExecute: 'no',
    }))
      expect(one(k), `${unit} ${k}`).toBe(v);
    const state = one('StateDirectory');
    expect(state).toMatch(/^mrv\//);
    expect(one('ReadWritePaths')).toBe(`/var/lib/${state}`);
    // Collectors verify every batch's signature against the gateways' registered keys.
    if (unit.startsWith('mrv-collector')) {
      expect(one('ExecStart')).toMatch(/ --keys \/etc\/mrv\/keys /);
      expect(one('ExecStart')).not.toMatch(/--insecure-unsigned/);
    }
    // Broker passwords are systemd credentials read from a file, never on the command line (/proc/PID/cmdline).
    const exec = one('ExecStart') ?? '';
    const mqtt =
      / --mqtt | --live-mqtt /.test(exec) ||
      unit.startsWith('mrv-collector') ||
      unit === 'mrv-server.service';
    if (mqtt) {
      const pw = / --password-file %d\/([\w-]+) /.exec(exec);
      expect(pw, `${unit} reads the MQTT password from a credential`).not.toBeNull();
      expect(d.get('LoadCredential')?.map((c) => c.split(':')[0])).toContain(pw?.[1]);
    }
    expect(exec).not.toMatch(/mqtts?:\/\/[^\s/]*:[^\s/]*@/);
    for (const line of readFileSync(new URL(unit, dir), 'utf8').split('\n'))
      expect(line, `${unit}: no password in an example URL`).not.toMatch(/mqtts?:\/\/[^\s/@]*:[^\s/@]*@/);
    // A template's instances keep apart: their own state folder and, for members, their own session.
    if (unit.includes('@')) {
      expect(state).toContain('%i');
      expect(one('ExecStart')).toMatch(/--share-group \S+ --client-id \S*%i /);
    }
    expect(one('ExecStart')).toMatch(/^\/usr\/bin\/node \/opt\/carbon-mrv\/bin\/mrv\.js /);
    expect(d.get('SystemCallFilter')).toContain('@system-service');
  });
});
