/**
 * `mrv pki list|trust|reject [--pki DIR] [THUMBPRINT|FILE]`: manages the gateway's OPC UA PKI folder
 * (drivers/opcua/pki.ts). An unknown server certificate is refused and lands in `rejected/`; the
 * operator compares its thumbprint with the one the server shows, then trusts it. Works on the files
 * only (no node-opcua, no network), so it is safe beside a running gateway, which re-reads the
 * folder before its next connection attempt.
 */
import { parseArgs } from 'node:util';
import { MrvError } from '../core/errors.ts';
import { DEFAULT_PKI_DIR } from '../drivers/opcua/config.ts';
import {
  listPki,
  type PkiEntry,
  pkiFolders,
  rejectCertificate,
  trustCertificate,
} from '../drivers/opcua/pki.ts';

/** Usage text of `mrv pki`. */
export const PKI_USAGE = `mrv pki list   [--pki DIR] [--json]
  mrv pki trust  [--pki DIR] THUMBPRINT|FILE
  mrv pki reject [--pki DIR] THUMBPRINT|FILE
      the gateway's OPC UA certificates (default DIR ${DEFAULT_PKI_DIR}; a device's pkiDir if set)
`;

function line(e: PkiEntry): string {
  return `${e.status.padEnd(8)} ${e.thumbprint}  ${e.subject}  valid to ${e.validTo.slice(0, 10)}\n         ${e.file}`;
}

/**
 * Runs `mrv pki` with its arguments (after `pki`); writes to stdout, returns the exit code.
 * @throws MrvError MRV_E_BAD_REQUEST for a missing or unknown sub-command or argument,
 *   MRV_E_NOT_FOUND when no certificate has the thumbprint
 */
export async function pki(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { pki: { type: 'string', default: DEFAULT_PKI_DIR }, json: { type: 'boolean', default: false } },
  });
  const [sub, ref, ...extra] = positionals;
  const root = values.pki;
  if (extra.length > 0)
    throw new MrvError('MRV_E_BAD_REQUEST', `unexpected arguments: ${extra.join(' ')}\n${PKI_USAGE}`);
  switch (sub) {
    case 'list': {
      const entries = listPki(root);
      if (values.json) process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
      else if (entries.length === 0)
        process.stdout.write(
          `no certificates in ${root} (trusted: ${pkiFolders(root).trusted}, rejected: ${pkiFolders(root).rejected})\n`,
        );
      else for (const e of entries) process.stdout.write(`${line(e)}\n`);
      return 0;
    }
    case 'trust':
    case 'reject': {
      if (!ref)
        throw new MrvError(
          'MRV_E_BAD_REQUEST',
          `mrv pki ${sub}: give a THUMBPRINT or a certificate FILE\n${PKI_USAGE}`,
        );
      const e = sub === 'trust' ? trustCertificate(root, ref) : rejectCertificate(root, ref);
      if (values.json) process.stdout.write(`${JSON.stringify(e)}\n`);
      else
        process.stdout.write(
          `${sub === 'trust' ? 'trusted' : 'rejected'} ${e.thumbprint} ${e.subject}\n  ${e.file}\n`,
        );
      return 0;
    }
    default:
      throw new MrvError(
        'MRV_E_BAD_REQUEST',
        `mrv pki: expected list, trust or reject, got "${sub ?? ''}"\n${PKI_USAGE}`,
      );
  }
}
