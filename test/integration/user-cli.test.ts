// `mrv user` as a user runs it, as real processes against a real state database file: add, list,
// passwd, disable; the password from a file or a prompt, never from the command line.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StateStore } from '../../server/state/state-store.ts';
import { startPostgres } from '../helpers/postgres.ts';

const root = new URL('../..', import.meta.url).pathname;
const mrv = join(root, 'bin/mrv.js');
const tmp = mkdtempSync(join(tmpdir(), 'mrv-user-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [mrv, ...args], { cwd: tmp, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('mrv user', () => {
  it('adds, lists, changes the password of and disables an account in <data dir>/state.sqlite', async () => {
    const dataDir = join(tmp, 'data');
    const pw1 = join(tmp, 'pw1');
    const pw2 = join(tmp, 'pw2');
    writeFileSync(pw1, 'first password of alice\n', { mode: 0o600 });
    writeFileSync(pw2, 'second password of alice\n', { mode: 0o600 });
    const add = await run([
      'user',
      'add',
      'alice',
      '--role',
      'enterprise',
      '--scope',
      'unit:UA',
      '--name',
      '张三',
      '--password-file',
      pw1,
      '--data-dir',
      dataDir,
    ]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain('added alice (enterprise, unit:UA)');
    expect(
      (await run(['user', 'add', 'alice', '--role', 'admin', '--password-file', pw1, '--data-dir', dataDir]))
        .stderr,
    ).toContain('MRV_E_ACCOUNT_EXISTS');
    // Scope rules as for tokens: an enterprise needs exactly one unit.
    const badScope = await run([
      'user',
      'add',
      'bob',
      '--role',
      'enterprise',
      '--password-file',
      pw1,
      '--data-dir',
      dataDir,
    ]);
    expect([badScope.code, badScope.stderr.includes('MRV_E_CONFIG')]).toEqual([1, true]);
    // A metrologist (计量管理员): the meter ledger of its units, no province.
    const metro = await run([
      'user',
      'add',
      'carol',
      '--role',
      'metrologist',
      '--scope',
      'units:UA,UB',
      '--password-file',
      pw1,
      '--data-dir',
      dataDir,
    ]);
    expect(metro.code, metro.stderr).toBe(0);
    expect(metro.stdout).toContain('added carol (metrologist, unit:UA unit:UB)');
    const metroProvince = await run([
      'user',
      'add',
      'dave',
      '--role',
      'metrologist',
      '--scope',
      'province:广东',
      '--password-file',
      pw1,
      '--data-dir',
      dataDir,
    ]);
    expect([metroProvince.code, metroProvince.stderr.includes('MRV_E_CONFIG')]).toEqual([1, true]);

    const list = await run(['user', 'list', '--data-dir', dataDir]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^alice\s+enterprise\s+unit:UA\s+"张三".*active$/m);
    expect(list.stdout).toMatch(/^carol\s+metrologist\s+unit:UA unit:UB\s+"carol".*active$/m);

    expect((await run(['user', 'passwd', 'alice', '--password-file', pw2, '--data-dir', dataDir])).code).toBe(
      0,
    );
    let state = await StateStore.open(join(dataDir, 'state.sqlite'));
    expect(await state.checkCredentials('alice', 'first password of alice')).toBeUndefined();
    expect((await state.checkCredentials('alice', 'second password of alice'))?.role).toBe('enterprise');
    await state.close();

    expect((await run(['user', 'disable', 'alice', '--data-dir', dataDir])).code).toBe(0);
    expect((await run(['user', 'list', '--data-dir', dataDir])).stdout).toMatch(/^alice .*disabled \d{4}-/m);
    state = await StateStore.open(join(dataDir, 'state.sqlite'));
    expect(await state.checkCredentials('alice', 'second password of alice')).toBeUndefined();
    const audit = await state.listAudit({ targetKind: 'account', targetId: 'alice' });
    await state.close();
    expect(audit.map((e) => e.action)).toEqual(['account.add', 'account.password', 'account.disable']);
    expect(audit.every((e) => e.actor.startsWith('cli:'))).toBe(true);
    expect((await run(['user', 'disable', 'nobody', '--data-dir', dataDir])).stderr).toContain(
      'MRV_E_NOT_FOUND',
    );
  });

  it('never takes a password on the command line, nor in a PostgreSQL URL; without a terminal it asks for a file', async () => {
    const dataDir = join(tmp, 'data2');
    const onLine = await run([
      'user',
      'add',
      'eve',
      '--role',
      'admin',
      '--password',
      'hunter2hunter2',
      '--data-dir',
      dataDir,
    ]);
    expect(onLine.code).toBe(2);
    expect(onLine.stderr).toContain("Unknown option '--password'");
    const noTty = await run(['user', 'add', 'eve', '--role', 'admin', '--data-dir', dataDir]);
    expect(noTty.code).toBe(1);
    expect(noTty.stderr).toContain('--password-file');
    const pwFile = join(tmp, 'pw-short');
    writeFileSync(pwFile, 'short\n');
    expect(
      (await run(['user', 'add', 'eve', '--role', 'admin', '--password-file', pwFile, '--data-dir', dataDir]))
        .stderr,
    ).toContain('MRV_E_BAD_REQUEST');
    const inUrl = await run(['user', 'list', '--state-db', 'postgres://mrv:secret@127.0.0.1:1/state']);
    expect(inUrl.code).toBe(1);
    expect(inUrl.stderr).toContain('no password in the URL');
  });

  it('works on PostgreSQL with the password from --state-db-password-file (SCRAM), and names a refused login', async () => {
    const pg = await startPostgres({ password: 'pg secret 123' });
    try {
      const db = await pg.createDatabase('mrv_state_cli');
      const pwFile = join(tmp, 'pg.pw');
      writeFileSync(pwFile, 'pg secret 123\n', { mode: 0o600 });
      const userPw = join(tmp, 'user.pw');
      writeFileSync(userPw, 'password of the regulator\n', { mode: 0o600 });
      const noPw = await run(['user', 'list', '--state-db', db]);
      expect(noPw.code).toBe(1);
      expect(noPw.stderr).toContain('MRV_E_STATE_DB');
      const add = await run([
        'user',
        'add',
        'reg',
        '--role',
        'regulator',
        '--scope',
        'province:内蒙古',
        '--password-file',
        userPw,
        '--state-db',
        db,
        '--state-db-password-file',
        pwFile,
      ]);
      expect(add.code, add.stderr).toBe(0);
      expect(add.stdout).not.toContain('pg secret');
      const list = await run(['user', 'list', '--state-db', db, '--state-db-password-file', pwFile]);
      expect(list.stdout).toMatch(/^reg\s+regulator\s+province:内蒙古/m);
    } finally {
      await pg.stop();
    }
  }, 120_000);

  it('answers --help and help with its usage (exit 0)', async () => {
    for (const args of [
      ['user', '--help'],
      ['user', 'add', '--help'],
      ['help', 'user'],
    ]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toContain('mrv user add USERNAME');
    }
  });
});
