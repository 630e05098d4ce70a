/**
 * A throw-away X.509 PKI for TLS tests, made with the `openssl` CLI (Debian's `openssl` package;
 * scripts/setup-test-deps.sh installs it): a CA, server certificates for 127.0.0.1 and client
 * certificates. EC P-256 keys, valid for two days, unencrypted PEM files in the given folder. Never
 * use these outside tests.
 */

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Debian puts the CLI. */
export const OPENSSL_PATH = '/usr/bin/openssl';

/** A certificate authority made by {@link makeCa}. */
export interface TestCa {
  name: string;
  /** PEM certificate (self-signed). */
  certFile: string;
  /** PEM private key. */
  keyFile: string;
}

/** A leaf certificate made by {@link issueCert}. */
export interface TestCert {
  /** Subject CN. */
  name: string;
  certFile: string;
  keyFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  if (!existsSync(OPENSSL_PATH))
    throw new Error(`${OPENSSL_PATH} not found: run scripts/setup-test-deps.sh (installs Debian's openssl)`);
  try {
    await run(OPENSSL_PATH, args, { cwd });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes a self-signed CA `<dir>/<name>-ca.crt` + `.key`. */
export async function makeCa(dir: string, name: string): Promise<TestCa> {
  const certFile = path.join(dir, `${name}-ca.crt`);
  const keyFile = path.join(dir, `${name}-ca.key`);
  await openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/O=carbon-mrv tests/CN=${name} test CA`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return { name, certFile, keyFile };
}

/**
 * Issues `<dir>/<name>.crt` + `.key` signed by `ca`: a server certificate for `subjectAltName
 * IP:127.0.0.1` (`kind: 'server'`) or a client certificate whose CN is `name` (`kind: 'client'`;
 * Mosquitto's `use_identity_as_username` makes that CN the MQTT username).
 */
export async function issueCert(
  ca: TestCa,
  dir: string,
  name: string,
  kind: 'server' | 'client',
): Promise<TestCert> {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  await writeFile(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyAgreement',
      kind === 'server' ? 'extendedKeyUsage=serverAuth' : 'extendedKeyUsage=clientAuth',
      ...(kind === 'server' ? ['subjectAltName=IP:127.0.0.1,DNS:localhost'] : []),
      '',
    ].join('\n'),
  );
  await openssl(
    ['req', ...EC, '-keyout', keyFile, '-out', csr, '-subj', `/O=carbon-mrv tests/CN=${name}`],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.certFile,
      '-CAkey',
      ca.keyFile,
      // A random serial per certificate: -CAcreateserial shares one .srl file, which certificates
      // issued in parallel (server and clients at once) read and write at the same time.
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-out',
      certFile,
      '-days',
      '2',
      '-extfile',
      ext,
    ],
    dir,
  );
  return { name, certFile, keyFile };
}
