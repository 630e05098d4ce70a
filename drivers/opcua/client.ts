/**
 * node-opcua client plumbing shared by the `opcua` driver and the commissioning CLI (`mrv read`,
 * `mrv browse`): our own certificate manager on our own PKI folder, security mode and policy, the
 * user identity (OPC 10000-4 §7.41), and the mapping of node-opcua's errors onto our error catalogue.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { format } from 'node:util';
import {
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  setErrorLogger,
  setWarningLogger,
  type UserIdentityInfo,
  UserTokenType,
} from 'node-opcua';
import type { Logger } from 'pino';
import { type ErrorCode, MrvError } from '../../core/errors.ts';
import { DEFAULT_PKI_DIR, effectivePolicy, type OpcuaDevice, type OpcuaIdentity } from './config.ts';
import { lastRejected } from './pki.ts';

/** The connection part of a device config (what `mrv read` also takes from its flags). */
export type OpcuaConnection = Pick<
  OpcuaDevice,
  | 'endpointUrl'
  | 'securityMode'
  | 'securityPolicy'
  | 'identity'
  | 'applicationName'
  | 'requestTimeoutMs'
  | 'reconnectDelayMs'
  | 'reconnectMaxDelayMs'
> & { pkiDir?: string | undefined; sessionTimeoutMs?: number | undefined };

let logSinkInstalled = false;

/**
 * Routes node-opcua's own warning and error output (which goes to stdout by default) into `log` at
 * debug level: it is diagnostic detail, and our driver logs what matters itself. The loggers are
 * process-wide in node-opcua, so the first caller wins.
 */
export function routeOpcuaLogs(log: Logger): void {
  if (logSinkInstalled) return;
  logSinkInstalled = true;
  const sink = (...args: unknown[]) => {
    if (log.isLevelEnabled('debug')) log.debug({ module: 'node-opcua' }, format(...args));
  };
  setWarningLogger(sink);
  setErrorLogger(sink);
}

/** Absolute PKI folder of a connection: `pkiDir`, else {@link DEFAULT_PKI_DIR} under the working directory. */
export function pkiRoot(pkiDir: string | undefined): string {
  return resolve(pkiDir ?? DEFAULT_PKI_DIR);
}

/**
 * Opens (creating it if needed) the PKI at `root` as a node-opcua certificate manager that refuses
 * unknown certificates: they land in `<root>/rejected/` for `mrv pki trust`.
 */
export async function openCertificateManager(root: string): Promise<OPCUACertificateManager> {
  const cm = new OPCUACertificateManager({ rootFolder: root, automaticallyAcceptUnknownCertificate: false });
  await cm.initialize();
  return cm;
}

/**
 * Builds the node-opcua user identity of a config, reading the password or key from its file or
 * environment variable at the time of the call (so a rotated secret is picked up on reconnect).
 * @throws MrvError MRV_E_CONFIG when the variable is unset or a file cannot be read
 */
export function userIdentity(identity: OpcuaIdentity): UserIdentityInfo {
  switch (identity.type) {
    case 'anonymous':
      return { type: UserTokenType.Anonymous };
    case 'username': {
      let password: string | undefined;
      if (identity.passwordEnv !== undefined) {
        password = process.env[identity.passwordEnv];
        if (password === undefined)
          throw new MrvError(
            'MRV_E_CONFIG',
            `identity.passwordEnv: environment variable ${identity.passwordEnv} is not set`,
          );
      } else password = readText(identity.passwordFile ?? '', 'identity.passwordFile').replace(/\r?\n$/, '');
      return { type: UserTokenType.UserName, userName: identity.username, password };
    }
    case 'certificate': {
      const certBytes = readBytes(identity.certFile, 'identity.certFile');
      const keyBytes = readBytes(identity.keyFile, 'identity.keyFile');
      let certificateData: Buffer;
      let privateKey: string;
      try {
        certificateData = new X509Certificate(certBytes).raw;
        privateKey = createPrivateKey(keyBytes).export({ type: 'pkcs8', format: 'pem' }).toString();
      } catch (err) {
        throw new MrvError(
          'MRV_E_CONFIG',
          `identity: ${identity.certFile} / ${identity.keyFile} are not a certificate and private key (${(err as Error).message})`,
          undefined,
          { cause: err },
        );
      }
      return { type: UserTokenType.Certificate, certificateData, privateKey };
    }
  }
}

function readBytes(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new MrvError(
      'MRV_E_CONFIG',
      `${what}: cannot read ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
}

function readText(file: string, what: string): string {
  return readBytes(file, what).toString('utf8');
}

/**
 * Creates (without connecting) a node-opcua client for a connection. `maxRetry: 1` makes the first
 * `connect()` give up after one retry so the caller sees the error and can back off and report it;
 * once connected, node-opcua itself re-opens the channel forever after a break (its reconnection
 * ignores `maxRetry`) and re-creates the session and subscriptions (OPC 10000-4 §6.7).
 */
export function createClient(c: OpcuaConnection, certificateManager: OPCUACertificateManager): OPCUAClient {
  const policy = effectivePolicy(c);
  return OPCUAClient.create({
    applicationName: c.applicationName,
    clientName: c.applicationName,
    endpointMustExist: false,
    securityMode: MessageSecurityMode[c.securityMode],
    securityPolicy: policy === 'None' ? SecurityPolicy.None : SecurityPolicy.Basic256Sha256,
    clientCertificateManager: certificateManager,
    defaultTransactionTimeout: c.requestTimeoutMs,
    ...(c.sessionTimeoutMs !== undefined ? { requestedSessionTimeout: c.sessionTimeoutMs } : {}),
    connectionStrategy: {
      maxRetry: 1,
      initialDelay: Math.min(c.reconnectDelayMs, c.reconnectMaxDelayMs),
      maxDelay: c.reconnectMaxDelayMs,
    },
  });
}

/** A classified OPC UA failure: our error code and a one-line message. */
export interface OpcuaFailure {
  code: ErrorCode;
  message: string;
}

/**
 * Maps a node-opcua error onto our catalogue by the StatusCode name or socket error it carries.
 * For a certificate failure the message names the rejected certificate's thumbprint and the
 * `mrv pki trust` command that accepts it, when `pkiDir` is given.
 */
export function classifyOpcuaError(err: unknown, pkiDir?: string): OpcuaFailure {
  const raw = err instanceof Error ? err.message : String(err);
  const message = raw.replace(/\s+/g, ' ').trim().slice(0, 300);
  if (
    /BadCertificate|Certificate verification failed|BadSecurityChecksFailed|BadSecurityPolicyRejected/i.test(
      raw,
    )
  ) {
    const rejected = pkiDir ? lastRejected(pkiDir) : undefined;
    const hint = rejected
      ? `; server certificate ${rejected.thumbprint} (${rejected.subject}) is in ${pkiDir}/rejected — check it, then \`mrv pki trust ${rejected.thumbprint} --pki ${pkiDir}\``
      : /BadSecurityChecksFailed/.test(raw)
        ? '; the server may have rejected our certificate: trust it on the server'
        : '';
    return { code: 'MRV_E_OPCUA_CERTIFICATE', message: `${message}${hint}` };
  }
  if (/BadUserAccessDenied|BadIdentityToken|BadUserSignatureInvalid/.test(raw))
    return { code: 'MRV_E_OPCUA_IDENTITY', message };
  if (
    /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|ETIMEDOUT|EPIPE|cannot be established|has been aborted|premature|BadNotConnected|BadConnectionClosed|BadTimeout|BadSecureChannelClosed|BadServerNotConnected|socket/i.test(
      raw,
    )
  )
    return { code: 'MRV_E_DEVICE_UNREACHABLE', message };
  return { code: 'MRV_E_OPCUA_SESSION', message };
}
