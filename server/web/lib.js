// Small helpers shared by the pages: DOM building, the API client, China-time calendar helpers.
import { formatDate, formatTime, t } from './i18n.js';

/** Creates an element: attrs (`class`, `text`, `on:click`, other attributes) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on:')) node.addEventListener(k.slice(3), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** A coloured label, e.g. `badge('online', '在线')`. */
export function badge(kind, text) {
  return el('span', { class: `badge ${kind}`, text });
}

/** A `<time>` element showing China time. */
export function timeEl(iso) {
  return el('time', { datetime: iso ?? undefined, text: formatTime(iso) });
}

/** An error of the API: `status` (HTTP) and `code` (`MRV_E_...`) from the error body. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called when any API answer is 401 (token missing, revoked or expired): the app shows the login page. */
let onUnauthorized = () => {};
/** Sets the 401 handler. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * GETs (or sends) JSON from the API; the session cookie goes along. Throws {@link ApiError}
 * with the stable code on an error answer.
 */
export async function api(path, options = {}) {
  const res = await fetch(path, {
    method: options.method ?? 'GET',
    headers: { accept: 'application/json', ...(options.body ? { 'content-type': 'application/json' } : {}) },
    body: options.body ? JSON.stringify(options.body) : undefined,
    credentials: 'same-origin',
  });
  if (res.status === 204) return null;
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = body?.error;
    const error = new ApiError(
      res.status,
      err?.code ?? `HTTP_${res.status}`,
      err?.message ?? `HTTP ${res.status}`,
    );
    if (res.status === 401 && !options.noRedirect) onUnauthorized(error);
    throw error;
  }
  return body;
}

/**
 * Like {@link api} but a 404 (route not there yet: issue 5's domain routes) or 501 resolves to
 * `{unavailable: true}` instead of throwing, so a page can show "not available yet".
 */
export async function apiOptional(path) {
  try {
    return { data: await api(path) };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 501))
      return { unavailable: true, error: err };
    throw err;
  }
}

/** `/api/v1/units/{id}` + rest, with the id encoded. */
export function unitPath(unitId, rest = '') {
  return `/api/v1/units/${encodeURIComponent(unitId)}${rest}`;
}

/** An inline box telling why a view is empty: `kind` = `unavailable`, `forbidden`, `error`, `empty`. */
export function notice(kind, text) {
  return el('p', {
    class: `notice notice-${kind}`,
    'data-state': kind,
    role: kind === 'error' ? 'alert' : 'status',
    text,
  });
}

/** The notice for an error thrown by {@link api}. */
export function errorNotice(err) {
  if (err instanceof ApiError && err.code === 'MRV_E_FORBIDDEN') return notice('forbidden', t('forbidden'));
  if (err instanceof ApiError && err.status === 404)
    return notice('error', `${t('notFound')}: ${err.message}`);
  return notice('error', `${t('loadFailed')}: ${err.code ? `${err.code}: ` : ''}${err.message}`);
}

const CST_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** `yyyy-mm` of an instant in China Standard Time. */
export function cstMonth(ms) {
  return new Date(ms + CST_MS).toISOString().slice(0, 7);
}

/** The month before `yyyy-mm`. */
export function previousMonth(month) {
  const [y, m] = month.split('-').map(Number);
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

/** Start of `yyyy-mm` (00:00 China time) as ms epoch. */
export function monthStart(month) {
  const [y, m] = month.split('-').map(Number);
  return Date.UTC(y, m - 1, 1) - CST_MS;
}

/**
 * Submission deadline of a month's evidence as the dashboard shows it when the evidence package
 * gives none: the month's end + 40 days (docs/architecture.md §7), as the last instant of that day in China time.
 * The package's own `deadline` wins whenever it is there.
 */
export function defaultDeadline(month) {
  const [y, m] = month.split('-').map(Number);
  const nextMonthStart = Date.UTC(y, m, 1) - CST_MS;
  return nextMonthStart + 40 * DAY_MS - 1;
}

/** Whole days from `now` to `ms` (negative when past), counted in China calendar days. */
export function daysUntil(ms, now = Date.now()) {
  const day = (x) => Math.floor((x + CST_MS) / DAY_MS);
  return day(ms) - day(now);
}

/** Parses a `yyyy-mm-dd` date as the end of that day in China time (a certificate is valid through it). */
export function endOfCstDay(date) {
  const [y, m, d] = date.split('-').map(Number);
  return Date.UTC(y, m - 1, d + 1) - CST_MS - 1;
}

/** A `yyyy-mm-dd` date (or an ISO time, shown as its China date) for tables. */
export function formatDateOnly(text) {
  if (typeof text !== 'string') return '';
  return /^\d{4}-\d{2}-\d{2}$/.test(text) ? text : formatDate(text);
}
