/**
 * The gateway's own OPC UA PKI folder, as laid out by node-opcua-pki (OPC 10000-12 §F.1 style):
 *
 *     <pki>/own/certs/client_certificate.pem   our application instance certificate (made on first use)
 *     <pki>/own/private/private_key.pem        its private key
 *     <pki>/trusted/certs/                     server certificates we trust
 *     <pki>/rejected/                          server certificates we refused (an unknown one lands here)
 *     <pki>/issuers/certs/                     CA certificates of CA-signed server certificates
 *
 * An unknown server certificate is never accepted automatically: the connection fails with
 * `MRV_E_OPCUA_CERTIFICATE`, the certificate is written to `rejected/`, and an operator who has
 * checked its thumbprint against the server moves it to `trusted/certs/` with `mrv pki trust`.
 * The running gateway re-reads the folders before its next connection attempt. Files are named
 * `<CommonName>[<sha1 thumbprint>].pem` (node-opcua's convention); any name works for reading.
 */
import { X509Certificate } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { MrvError } from '../../core/errors.ts';

/** Where a certificate sits in the PKI. */
export type PkiStatus = 'trusted' | 'rejected' | 'issuer';

/** One certificate file of the PKI. */
export interface PkiEntry {
  status: PkiStatus;
  /** Absolute path of the file. */
  file: string;
  /** SHA-1 thumbprint, 40 lower-case hex digits (what OPC UA tools display). */
  thumbprint: string;
  /** Subject distinguished name, one attribute per line joined by ", ". */
  subject: string;
  /** ApplicationUri from the subjectAltName URI, when present. */
  applicationUri?: string;
  /** Validity, ISO-8601. */
  validFrom: string;
  validTo: string;
  /** File modification time, ISO-8601 (for a rejected certificate: when it was last presented). */
  modified: string;
}

/** The folders of a PKI root. */
export function pkiFolders(root: string): {
  trusted: string;
  rejected: string;
  issuers: string;
  own: string;
} {
  return {
    trusted: join(root, 'trusted', 'certs'),
    rejected: join(root, 'rejected'),
    issuers: join(root, 'issuers', 'certs'),
    own: join(root, 'own', 'certs'),
  };
}

/**
 * Parses a certificate file, PEM (first certificate) or DER.
 * @throws MrvError MRV_E_CONFIG when the file is not a certificate
 */
export function readCertificateFile(file: string): X509Certificate {
  const bytes = readFileSync(file);
  try {
    return new X509Certificate(bytes);
  } catch (err) {
    throw new MrvError(
      'MRV_E_CONFIG',
      `${file} is not an X.509 certificate (PEM or DER)`,
      { file },
      { cause: err },
    );
  }
}

/** SHA-1 thumbprint of a certificate as 40 lower-case hex digits. */
export function thumbprintOf(cert: X509Certificate): string {
  return cert.fingerprint.replaceAll(':', '').toLowerCase();
}

function commonName(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? 'certificate';
  return cn.replace(/[^A-Za-z0-9@._-]/g, '_');
}

function entryOf(status: PkiStatus, file: string): PkiEntry | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(file));
  } catch {
    return undefined; // not a certificate (e.g. a lock file); ignored
  }
  const uri = /URI:([^,\s]+)/.exec(cert.subjectAltName ?? '')?.[1];
  return {
    status,
    file,
    thumbprint: thumbprintOf(cert),
    subject: cert.subject.split('\n').join(', '),
    ...(uri ? { applicationUri: uri } : {}),
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
    modified: statSync(file).mtime.toISOString(),
  };
}

function filesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile() && /\.(pem|der|crt|cer)$/i.test(f));
}

/** Every trusted, rejected and issuer certificate in the PKI at `root` (a missing folder lists nothing). */
export function listPki(root: string): PkiEntry[] {
  const f = pkiFolders(root);
  const out: PkiEntry[] = [];
  for (const [status, dir] of [
    ['trusted', f.trusted],
    ['rejected', f.rejected],
    ['issuer', f.issuers],
  ] as const)
    for (const file of filesIn(dir)) {
      const e = entryOf(status, file);
      if (e) out.push(e);
    }
  return out;
}

/**
 * Finds the certificate a thumbprint (or a unique prefix of at least 8 hex digits, colons allowed)
 * names among the PKI's files.
 * @throws MrvError MRV_E_NOT_FOUND when none matches, MRV_E_BAD_REQUEST when the prefix is ambiguous
 */
export function findByThumbprint(root: string, thumbprint: string): PkiEntry {
  const t = thumbprint.replaceAll(':', '').toLowerCase();
  if (!/^[0-9a-f]{8,40}$/.test(t))
    throw new MrvError('MRV_E_BAD_REQUEST', `"${thumbprint}" is not a SHA-1 thumbprint (8–40 hex digits)`);
  const hits = listPki(root).filter((e) => e.thumbprint.startsWith(t));
  const distinct = new Set(hits.map((h) => h.thumbprint));
  if (hits.length === 0)
    throw new MrvError(
      'MRV_E_NOT_FOUND',
      `no certificate with thumbprint ${t} in ${root} (see \`mrv pki list\`)`,
    );
  if (distinct.size > 1)
    throw new MrvError(
      'MRV_E_BAD_REQUEST',
      `thumbprint prefix ${t} matches ${distinct.size} certificates; give more digits`,
    );
  // Prefer the rejected copy when moving to trusted and the trusted one when moving to rejected: callers decide.
  return hits[0] as PkiEntry;
}

/** Writes a certificate into `dir` as DER-in-PEM under node-opcua's file name; returns the path. */
function writeCert(dir: string, cert: X509Certificate): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${commonName(cert)}[${thumbprintOf(cert)}].pem`);
  writeFileSync(file, cert.toString());
  return file;
}

function removeThumbprint(dir: string, thumbprint: string): void {
  for (const file of filesIn(dir)) {
    const e = entryOf('rejected', file);
    if (e?.thumbprint === thumbprint) rmSync(file);
  }
}

/**
 * Trusts a server certificate: `ref` is a thumbprint (prefix) of a certificate already in the PKI
 * (usually in `rejected/`), or the path of a certificate file (PEM or DER) received out of band.
 * The certificate ends in `trusted/certs/` and nowhere else.
 * @returns the trusted entry
 * @throws MrvError MRV_E_NOT_FOUND / MRV_E_BAD_REQUEST (see {@link findByThumbprint}), MRV_E_CONFIG for a bad file
 */
export function trustCertificate(root: string, ref: string): PkiEntry {
  return moveTo(root, ref, 'trusted');
}

/**
 * Rejects a certificate: moves it (by thumbprint or file, as {@link trustCertificate}) to `rejected/`,
 * so that the gateway refuses the server that presents it from its next connection on.
 */
export function rejectCertificate(root: string, ref: string): PkiEntry {
  return moveTo(root, ref, 'rejected');
}

function moveTo(root: string, ref: string, to: 'trusted' | 'rejected'): PkiEntry {
  const f = pkiFolders(root);
  const target = to === 'trusted' ? f.trusted : f.rejected;
  const other = to === 'trusted' ? f.rejected : f.trusted;
  const isFile = existsSync(ref) && statSync(ref).isFile();
  const cert = readCertificateFile(isFile ? ref : findByThumbprint(root, ref).file);
  const thumb = thumbprintOf(cert);
  const inTarget = filesIn(target).find((file) => entryOf(to, file)?.thumbprint === thumb);
  const inOther = filesIn(other).find((file) => entryOf(to, file)?.thumbprint === thumb);
  let file: string;
  if (inTarget) file = inTarget;
  else if (inOther && !isFile) {
    // Keep the file node-opcua wrote (same name, same bytes): only its folder changes.
    mkdirSync(target, { recursive: true });
    file = join(target, basename(inOther));
    renameSync(inOther, file);
  } else file = writeCert(target, cert);
  removeThumbprint(other, thumb);
  const entry = entryOf(to, file);
  if (!entry) throw new MrvError('MRV_E_INTERNAL', `could not read back ${file}`);
  return entry;
}

/** The most recently written certificate in `rejected/`, if any: the one a failed connection just refused. */
export function lastRejected(root: string): PkiEntry | undefined {
  return listPki(root)
    .filter((e) => e.status === 'rejected')
    .sort((a, b) => b.modified.localeCompare(a.modified))[0];
}
