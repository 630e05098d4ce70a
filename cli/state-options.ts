/**
 * The `--state-db` flags shared by `mrv server` and `mrv user`: where the server's state database
 * (server/state/: accounts, sessions, audit log, findings workflow) is.
 * - default: SQLite `<data dir>/state.sqlite` (separate from the readings store);
 * - `--state-db FILE`: another SQLite file;
 * - `--state-db postgres://USER@HOST:PORT/DB` (several server instances): the password never on the
 *   command line or in the URL, but from `--state-db-password-file F` (or the `PGPASSWORD` environment
 *   variable).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MrvError } from '../core/errors.ts';
import { StateStore } from '../server/state/state-store.ts';

/** File name of the embedded state database inside a data dir. */
export const STATE_DB_FILE_NAME = 'state.sqlite';

/** parseArgs options of the state database. */
export const stateDbFlags = {
  'state-db': { type: 'string' },
  'state-db-password-file': { type: 'string' },
} as const;

/**
 * The state database target of the flags: a SQLite path or a PostgreSQL URL (with the password from
 * its file put in, in memory only).
 * @throws MrvError `MRV_E_CONFIG` for a password in the URL or an unreadable password file
 */
export function stateDbTarget(v: {
  'state-db'?: string | undefined;
  'state-db-password-file'?: string | undefined;
  'data-dir': string;
}): string {
  const given = v['state-db'];
  if (given === undefined || given === '') {
    const file = resolve(v['data-dir'], STATE_DB_FILE_NAME);
    mkdirSync(dirname(file), { recursive: true });
    return file;
  }
  if (!/^postgres(ql)?:\/\//i.test(given)) {
    mkdirSync(dirname(resolve(given)), { recursive: true });
    return resolve(given);
  }
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new MrvError('MRV_E_CONFIG', '--state-db: not a valid postgres:// URL');
  }
  if (url.password !== '')
    throw new MrvError(
      'MRV_E_CONFIG',
      '--state-db: no password in the URL (it ends up in process lists and logs); use --state-db-password-file F',
    );
  const pwFile = v['state-db-password-file'];
  if (pwFile !== undefined) {
    let pw: string;
    try {
      pw = readFileSync(pwFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new MrvError('MRV_E_CONFIG', `--state-db-password-file: cannot read ${pwFile}`, undefined, {
        cause: err,
      });
    }
    url.password = pw;
  }
  return url.toString();
}

/** Opens the state database of the flags (migrating it). @throws MrvError `MRV_E_CONFIG`, `MRV_E_STATE_DB` */
export function openStateFromFlags(v: Parameters<typeof stateDbTarget>[0]): Promise<StateStore> {
  return StateStore.open(stateDbTarget(v));
}
