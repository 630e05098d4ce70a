/**
 * Telling an MQTT broker's refusal of our credentials apart from a broker that is just not there.
 *
 * MQTT.js 5.16 reports a CONNACK refusal as an `error` event with the return/reason code in `code`
 * (`Connection refused: Not authorized`) and, by default (`reconnectOnConnackError: false`), then stops
 * reconnecting for good. Mosquitto answers a wrong password with 5 "Not authorized" (MQTT 3.1.1) or 135
 * (MQTT 5). TLS failures (unknown CA, missing client certificate) are socket errors with string codes
 * and are retried by MQTT.js like any broken connection.
 */

/** CONNACK codes meaning "these credentials are not accepted": 3.1.1 (4, 5) and 5.0 (134, 135, 138). */
const AUTH_REFUSALS = new Set([4, 5, 134, 135, 138]);

/** True when `err` is MQTT.js's CONNACK refusal for bad credentials or a not-authorized client. */
export function isMqttAuthRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && AUTH_REFUSALS.has(code);
}

/**
 * `url` with any password in it replaced, for logs (`mqtts://gw:secret@host` → `mqtts://gw:***@host`).
 * Strings that are not URLs are returned as they are.
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^@/\s]*@/i, '$1:***@');
}

/** Node's codes for a broker certificate that does not verify against the trusted CAs or the host name. */
const TLS_VERIFY_FAILURES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True when `err` says the broker's TLS certificate was not trusted (wrong or missing `--ca`, wrong host). */
export function isTlsVerifyFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TLS_VERIFY_FAILURES.has(code);
}
