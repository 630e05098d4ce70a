/**
 * An API error as a translated sentence for the page (never the server's raw text alone): the
 * catalogue code (`MRV_E_FINDING_TRANSITION` → "someone changed this finding meanwhile") or, for a
 * code without its own text, the HTTP status; messages under `apiError.*` (i18n/findings.*.ts).
 */
import { ApiError } from '../api/client.ts';

const BY_CODE: Record<string, string> = {
  MRV_E_FINDING_TRANSITION: 'apiError.transition',
  MRV_E_LEDGER_CONFLICT: 'apiError.ledgerConflict',
  MRV_E_FORBIDDEN: 'apiError.forbidden',
  MRV_E_NOT_FOUND: 'apiError.notFound',
  MRV_E_TOO_LARGE: 'apiError.tooLarge',
  MRV_E_UNSUPPORTED_MEDIA: 'apiError.unsupportedMedia',
  MRV_E_BAD_REQUEST: 'apiError.badRequest',
  MRV_E_STATE_DB: 'apiError.stateDb',
  MRV_E_STORE: 'apiError.store',
  MRV_E_UNAUTHORIZED: 'apiError.unauthorized',
  MRV_E_RATE_LIMITED: 'apiError.rateLimited',
};

const BY_STATUS: Record<number, string> = {
  401: 'apiError.unauthorized',
  403: 'apiError.forbidden',
  404: 'apiError.notFound',
  409: 'apiError.transition',
  413: 'apiError.tooLarge',
  415: 'apiError.unsupportedMedia',
  503: 'apiError.stateDb',
};

/** The message key for `err` (see the file comment); `apiError.generic` when nothing fits. */
export function apiErrorKey(err: unknown): string {
  if (err instanceof ApiError) return BY_CODE[err.code] ?? BY_STATUS[err.status] ?? 'apiError.generic';
  return 'apiError.network';
}

/**
 * The translated text of `err` with its code in brackets (`… (MRV_E_FORBIDDEN)`), for support; for a
 * 400 the server's sentence follows, since it names the field at fault.
 */
export function apiErrorText(
  t: (key: string, named?: Record<string, unknown>) => string,
  err: unknown,
): string {
  const code = err instanceof ApiError ? err.code : 'MRV_E_NETWORK';
  const base = `${t(apiErrorKey(err), { code })} (${code})`;
  return err instanceof ApiError && err.status === 400 && err.message ? `${base}: ${err.message}` : base;
}
