/**
 * The catalogue of stable error codes (docs/architecture.md §10 rule 5). Code that reacts to an error matches on
 * `code`, never on the message. Quality reasons on readings start with one of these codes too.
 */
export const ErrorCodes = {
  /** A configuration file is missing, not YAML, or does not match its schema. */
  MRV_E_CONFIG: { http: 500, text: 'invalid configuration' },
  /** A device names a driver that is not in the registry. */
  MRV_E_UNKNOWN_DRIVER: { http: 500, text: 'unknown driver' },
  /** A Modbus request got no answer within the timeout (after retries). */
  MRV_E_MODBUS_TIMEOUT: { http: 504, text: 'Modbus request timed out' },
  /** The device answered with a Modbus exception (function code | 0x80). */
  MRV_E_MODBUS_EXCEPTION: { http: 502, text: 'Modbus exception response' },
  /** The TCP connection to the device could not be made or was lost. */
  MRV_E_DEVICE_UNREACHABLE: { http: 502, text: 'device unreachable' },
  /** The register words could not be decoded as the configured type (e.g. NaN float). */
  MRV_E_DECODE: { http: 502, text: 'value could not be decoded' },
  /** A quantity's unit cannot meet its factor's (a volume against a factor per tonne) without a declared density or NCV: not computed (core/domain/units.ts). */
  MRV_E_UNIT_MISMATCH: { http: 422, text: 'unit of measure does not fit its factor' },
  /** An evidence package was computed with a factor pack the verifier does not know (evidence/factor-packs.ts). */
  MRV_E_FACTOR_PACK_UNKNOWN: { http: 422, text: 'factor pack not known to the verifier' },
  /** A weighing terminal's ticket memory (event log) overwrote tickets before the gateway read them (an outage longer than the ring); the reason lists the numbers. */
  MRV_E_TICKETS_OVERWRITTEN: { http: 502, text: 'tickets overwritten in the device before they were read' },
  /** An OPC UA server returned a non-Good StatusCode for a value (OPC 10000-4 §7.39); the reason names it, e.g. `MRV_E_OPCUA_STATUS: BadSensorFailure`. */
  MRV_E_OPCUA_STATUS: { http: 502, text: 'OPC UA value has a non-Good status' },
  /** An OPC UA secure channel could not be opened for a certificate reason: the server's certificate is not trusted by our PKI (see `mrv pki`), or the server rejected ours. */
  MRV_E_OPCUA_CERTIFICATE: { http: 502, text: 'OPC UA certificate not trusted' },
  /** An OPC UA server refused the configured user identity (anonymous, user name or certificate). */
  MRV_E_OPCUA_IDENTITY: { http: 502, text: 'OPC UA user identity rejected' },
  /** An OPC UA session, subscription or service call failed for another reason (the reason carries the StatusCode name). */
  MRV_E_OPCUA_SESSION: { http: 502, text: 'OPC UA session failure' },
  /** An MQTT payload is not JSON or does not match the wire contract. */
  MRV_E_PAYLOAD: { http: 400, text: 'malformed payload' },
  /** The time-series store rejected or could not take a write. */
  MRV_E_STORE: { http: 503, text: 'store unavailable' },
  /** The gateway's store-and-forward log cannot be opened, written or read back (gateway/disk-log.ts). */
  MRV_E_BUFFER: { http: 500, text: 'store-and-forward log failure' },
  /** The store-and-forward log is full under the `block` policy: polling pauses until the broker takes batches. */
  MRV_E_BUFFER_FULL: { http: 507, text: 'store-and-forward log full' },
  /** A signing or public key file is missing, unreadable or not an Ed25519 key. */
  MRV_E_KEY: { http: 500, text: 'invalid key' },
  /** `mrv verify` found a batch whose signature, hash chain or sequence does not check out. */
  MRV_E_VERIFY: { http: 422, text: 'verification failed' },
  /** An HJ 212 frame is malformed (length, CRC, header, CP) or a message cannot be encoded within the packet limit (core/hj212/). */
  MRV_E_HJ212: { http: 502, text: 'invalid HJ 212 frame' },
  /** The HJ 212 platform cannot be reached or did not acknowledge a packet within its retries (uplink/hj212/). */
  MRV_E_UPLINK: { http: 502, text: 'HJ 212 platform unreachable or not acknowledging' },
  /** `mrv verify` or the verify route was given no trusted evidence key (`--trusted-keys`, `--public-key`, the server's key file). */
  MRV_E_NO_TRUSTED_KEYS: { http: 503, text: 'no trusted key to verify against' },
  /** An evidence package is signed by a key that is not in the trusted key set: it proves nothing. */
  MRV_E_UNTRUSTED_KEY: { http: 422, text: 'signed by an untrusted key' },
  /** An evidence package lacks what a signed package has (signature, keyId, value, ...). */
  MRV_E_BAD_PACKAGE: { http: 400, text: 'malformed evidence package' },
  /** The requested resource does not exist. */
  MRV_E_NOT_FOUND: { http: 404, text: 'not found' },
  /** An unexpected failure inside the server; the log has the details. */
  MRV_E_INTERNAL: { http: 500, text: 'internal error' },
  /** A request parameter is missing or malformed. */
  MRV_E_BAD_REQUEST: { http: 400, text: 'bad request' },
  /** No valid credential came with a request that needs one (`Authorization: Bearer` header or the session cookie). */
  MRV_E_UNAUTHORIZED: { http: 401, text: 'authentication required' },
  /** The token is valid but its role or scope does not cover the resource (e.g. another province's unit). */
  MRV_E_FORBIDDEN: { http: 403, text: 'forbidden' },
  /** Too many failed logins from one address; retry after the time in `retry-after`. */
  MRV_E_RATE_LIMITED: { http: 429, text: 'too many failed attempts' },
  /** A request body is larger than the route accepts (the server's per-route body limits). */
  MRV_E_TOO_LARGE: { http: 413, text: 'request body too large' },
  /** The server's state database (accounts, sessions, audit log, findings workflow) cannot be opened, migrated or queried (server/state/db.ts). */
  MRV_E_STATE_DB: { http: 503, text: 'state database unavailable' },
  /** A findings-workflow action that the finding's current state does not allow (e.g. closing an open finding, acting on an auto-resolved one). */
  MRV_E_FINDING_TRANSITION: { http: 409, text: 'finding state does not allow this action' },
  /** A meter-ledger change that conflicts with the ledger: correcting a certificate already corrected or withdrawn, or a certificate number the meter has already (server/state/meter-ledger.ts). */
  MRV_E_LEDGER_CONFLICT: { http: 409, text: 'conflicts with the meter ledger' },
  /** An account with this username exists already (`mrv user add`). */
  MRV_E_ACCOUNT_EXISTS: { http: 409, text: 'account exists' },
  /** An attachment's content type is not one the findings workflow accepts. */
  MRV_E_UNSUPPORTED_MEDIA: { http: 415, text: 'unsupported attachment type' },
  /** A monthly evidence confirmation or review that the month or version does not allow (month not over, no data, superseded, reviewed already). */
  MRV_E_CONFIRMATION: { http: 409, text: 'evidence confirmation not allowed in this state' },
} as const;

/** One of the stable error codes, e.g. `MRV_E_MODBUS_TIMEOUT`. */
export type ErrorCode = keyof typeof ErrorCodes;

/** An error with a stable code from {@link ErrorCodes}; `detail` carries structured context. */
export class MrvError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MrvError';
  }
  /** HTTP status the API answers this error with. */
  get httpStatus(): number {
    return ErrorCodes[this.code].http;
  }
}
