/**
 * `mrv token create|list|revoke`: API tokens in `<data dir>/tokens.json` (see `server/tokens.ts`).
 * The token is printed once, on stdout, when it is created; the file keeps only its SHA-256.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MrvError } from '../core/errors.ts';
import { formatScope, parseScope, ROLES, type Role, TokenFile } from '../server/tokens.ts';

const USAGE = `mrv token create --role admin|regulator|enterprise|metrologist [--scope SCOPE ...] [--name TEXT] [--data-dir .data]
      create a token and print it (once; only its hash is kept)
      SCOPE: province:NAME (regulator), unit:ID or units:ID1,ID2 (regulator; enterprise: exactly one unit; metrologist: its units)
mrv token list [--data-dir .data]
mrv token revoke ID [--data-dir .data]
  The data dir is the server's (mrv server --data-dir, mrv demo --data-dir .data/demo); a running server
  sees new and revoked tokens within a second.
`;

/** Default data dir of `mrv server` and `mrv token`. */
export const DEFAULT_DATA_DIR = '.data';

/** Runs `mrv token ...`; resolves with the exit code. */
export async function token(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values: v, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      scope: { type: 'string', multiple: true },
      name: { type: 'string' },
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
    },
  });
  const file = TokenFile.inDataDir(resolve(v['data-dir']));
  switch (sub) {
    case 'create': {
      const role = v.role as Role | undefined;
      if (role === undefined || !ROLES.includes(role)) {
        throw new MrvError(
          'MRV_E_CONFIG',
          `--role: expected one of ${ROLES.join(', ')}, got "${v.role ?? ''}"`,
        );
      }
      const scope = parseScope(role, v.scope ?? []);
      const { token: text, record } = file.create({ role, scope, name: v.name ?? `${role} token` });
      process.stderr.write(
        `created token ${record.id} (${record.role}, ${formatScope(record.scope)}) in ${file.path}; it is shown only now:\n`,
      );
      process.stdout.write(`${text}\n`);
      return 0;
    }
    case 'list': {
      const rows = file.list();
      if (rows.length === 0) process.stdout.write(`no tokens in ${file.path}\n`);
      for (const r of rows) {
        const state = r.revokedAt ? `revoked ${r.revokedAt}` : 'active';
        process.stdout.write(
          `${r.id}  ${r.role.padEnd(11)} ${formatScope(r.scope)}  "${r.name}"  ${r.createdAt}  ${state}\n`,
        );
      }
      return 0;
    }
    case 'revoke': {
      const id = positionals[0];
      if (id === undefined)
        throw new MrvError('MRV_E_CONFIG', 'mrv token revoke: give the token id (see mrv token list)');
      const n = file.revoke({ id });
      if (n === 0) throw new MrvError('MRV_E_NOT_FOUND', `no active token with id "${id}" in ${file.path}`);
      process.stdout.write(`revoked ${id}\n`);
      return 0;
    }
    default:
      process.stderr.write(USAGE);
      return sub === undefined || sub === 'help' ? 0 : 2;
  }
}
