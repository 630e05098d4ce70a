/**
 * `mrv user add|list|disable|passwd`: the accounts of the server's state database (server/state/),
 * for people logging in to the dashboard with a username and password. Passwords come from a file
 * (`--password-file F`, its first line) or a prompt on the terminal (not echoed, asked twice); never
 * from the command line. Every change is in the audit log as `cli:<os user>`.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { MrvError } from '../core/errors.ts';
import type { Actor } from '../server/state/state-store.ts';
import { formatScope, parseScope, ROLES, type Role } from '../server/tokens.ts';
import { openStateFromFlags, stateDbFlags } from './state-options.ts';
import { DEFAULT_DATA_DIR } from './token.ts';

const USAGE = `mrv user add USERNAME --role admin|regulator|enterprise|metrologist [--scope SCOPE ...] [--name TEXT] [--password-file F]
mrv user list
mrv user disable USERNAME
mrv user passwd USERNAME [--password-file F]
  Accounts of the dashboard (username + password, argon2id), in the server's state database:
  <data dir>/state.sqlite (--data-dir .data), or --state-db FILE|postgres://USER@HOST/DB
  [--state-db-password-file F]. SCOPE as for mrv token: province:NAME, unit:ID (enterprise: exactly
  one unit; metrologist: its units, no province). The password comes from --password-file (first line) or a prompt; never the command line.
  Disabling an account or changing its password ends its sessions.
`;

/** Reads a password from the terminal without echo, twice when `confirm`. */
async function prompt(question: string): Promise<string> {
  if (!process.stdin.isTTY)
    throw new MrvError(
      'MRV_E_CONFIG',
      'no terminal to ask the password on: give --password-file F (the password is never a command-line argument)',
    );
  let muted = false;
  const out = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output: out, terminal: true });
  try {
    return await new Promise<string>((resolve) => {
      rl.question(question, (answer) => {
        process.stderr.write('\n');
        resolve(answer);
      });
      muted = true;
    });
  } finally {
    rl.close();
  }
}

async function readPassword(file: string | undefined): Promise<string> {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new MrvError('MRV_E_CONFIG', `--password-file: cannot read ${file}`, undefined, { cause: err });
    }
    return text.split(/\r?\n/)[0] ?? '';
  }
  const one = await prompt('password: ');
  const two = await prompt('again: ');
  if (one !== two) throw new MrvError('MRV_E_CONFIG', 'the two passwords differ');
  return one;
}

/** Runs `mrv user ...`; resolves with the exit code. */
export async function user(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values: v, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      scope: { type: 'string', multiple: true },
      name: { type: 'string' },
      'password-file': { type: 'string' },
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      ...stateDbFlags,
    },
  });
  if (sub === undefined || sub === 'help' || !['add', 'list', 'disable', 'passwd'].includes(sub)) {
    process.stderr.write(USAGE);
    return sub === undefined || sub === 'help' ? 0 : 2;
  }
  const username = positionals[0];
  if (sub !== 'list' && username === undefined)
    throw new MrvError('MRV_E_CONFIG', `mrv user ${sub}: give the username`);
  const actor: Actor = { id: `cli:${userInfo().username}`, role: 'cli' };
  // Ask for the password before opening the database: a mistyped prompt leaves nothing open.
  const password = sub === 'add' || sub === 'passwd' ? await readPassword(v['password-file']) : undefined;
  let role: Role | undefined;
  if (sub === 'add') {
    role = v.role as Role | undefined;
    if (role === undefined || !ROLES.includes(role))
      throw new MrvError(
        'MRV_E_CONFIG',
        `--role: expected one of ${ROLES.join(', ')}, got "${v.role ?? ''}"`,
      );
  }
  const state = await openStateFromFlags(v);
  try {
    switch (sub) {
      case 'add': {
        const scope = parseScope(role!, v.scope ?? []);
        const a = await state.addAccount(
          { username: username!, password: password!, role: role!, scope, displayName: v.name ?? username! },
          actor,
        );
        process.stdout.write(
          `added ${a.username} (${a.role}, ${formatScope(a.scope)}) in ${state.location}\n`,
        );
        return 0;
      }
      case 'list': {
        const rows = await state.listAccounts();
        if (rows.length === 0) process.stdout.write(`no accounts in ${state.location}\n`);
        for (const a of rows)
          process.stdout.write(
            `${a.username}  ${a.role.padEnd(11)} ${formatScope(a.scope)}  "${a.displayName}"  ${a.createdAt}  ${a.disabledAt ? `disabled ${a.disabledAt}` : 'active'}\n`,
          );
        return 0;
      }
      case 'disable':
        await state.disableAccount(username!, actor);
        process.stdout.write(`disabled ${username}; its sessions ended\n`);
        return 0;
      default:
        await state.setPassword(username!, password!, actor);
        process.stdout.write(`changed the password of ${username}; its sessions ended\n`);
        return 0;
    }
  } finally {
    await state.close();
  }
}
