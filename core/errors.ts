/**
 * The catalogue of stable error codes (STYLE.md rule 5). Code that reacts to an error matches on
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
  /** An MQTT payload is not JSON or does not match the wire contract. */
  MRV_E_PAYLOAD: { http: 400, text: 'malformed payload' },
  /** The time-series store rejected or could not take a write. */
  MRV_E_STORE: { http: 503, text: 'store unavailable' },
  /** The requested resource does not exist. */
  MRV_E_NOT_FOUND: { http: 404, text: 'not found' },
  /** An unexpected failure inside the server; the log has the details. */
  MRV_E_INTERNAL: { http: 500, text: 'internal error' },
  /** A request parameter is missing or malformed. */
  MRV_E_BAD_REQUEST: { http: 400, text: 'bad request' },
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
