/**
 * The command line answers every question and every start-up failure (issue 15 item 4): `--help` on
 * every command of the table exits 0 with that command's usage, an unknown command gets a suggestion,
 * a port in use is a named error, not a stack trace.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS, main, usageOf } from '../../../cli/main.ts';
import { suggest } from '../../../core/suggest.ts';

const BIN = fileURLToPath(new URL('../../../bin/mrv.js', import.meta.url));

function capture(): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    out += String(c);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    err += String(c);
    return true;
  });
  return { out: () => out, err: () => err };
}

afterEach(() => vi.restoreAllMocks());

describe('mrv COMMAND --help', () => {
  for (const c of COMMANDS) {
    it(`mrv ${c.name} --help exits 0 and prints its usage`, async () => {
      const io = capture();
      const rc = await main([c.name, '--help']);
      expect(rc).toBe(0);
      expect(io.out()).toContain(`mrv ${c.name}`);
      expect(io.err()).toBe('');
    });
  }

  it('every command of the table has its own paragraph in the usage', () => {
    for (const c of COMMANDS) expect(usageOf(c.name), c.name).toMatch(new RegExp(`^ {2}mrv ${c.name}\\b`));
  });

  it('mrv help COMMAND prints the same paragraph', async () => {
    const io = capture();
    expect(await main(['help', 'check-config'])).toBe(0);
    expect(io.out()).toContain('mrv check-config SITE.yaml');
    expect(io.out()).not.toContain('mrv demo');
  });
});

describe('unknown commands and bad flags', () => {
  it('suggests the command meant', async () => {
    const io = capture();
    expect(await main(['gatway'])).toBe(2);
    expect(io.err()).toContain('did you mean "mrv gateway"?');
    expect(
      suggest(
        'chek-config',
        COMMANDS.map((c) => c.name),
      ),
    ).toBe('check-config');
    expect(
      suggest(
        'evid',
        COMMANDS.map((c) => c.name),
      ),
    ).toBe('evidence');
    expect(
      suggest(
        'xyzzy',
        COMMANDS.map((c) => c.name),
      ),
    ).toBeUndefined();
  });

  it('an unknown flag names the flag and shows only that command', async () => {
    const io = capture();
    expect(await main(['keygen', '--unti', 'u1'])).toBe(2);
    expect(io.err()).toContain("Unknown option '--unti'");
    expect(io.err()).toContain('mrv keygen');
    expect(io.err()).not.toContain('mrv demo');
  });
});

describe('start-up failures are named', () => {
  it('a port in use: MRV_E_PORT_IN_USE with the address, exit 1, no stack trace', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = spawnSync(process.execPath, [BIN, 'sim', 'hj212-platform', '--port', String(port)], {
        encoding: 'utf8',
        env: { ...process.env, MRV_FROM_SOURCE: '1' },
        timeout: 60_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('MRV_E_PORT_IN_USE');
      expect(r.stderr).toContain(`127.0.0.1:${port}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });
});
