// Pieces several pages share: the unit header with its tabs, the calibration and completeness
// summaries read from issue 5's domain routes (docs/architecture.md §9), tolerant of the shapes still settling.
import { has, t } from '../i18n.js';
import { ApiError, api, badge, daysUntil, el, endOfCstDay, errorNotice, timeEl, unitPath } from '../lib.js';

/**
 * A scrollable data table: `attrs` of the table (id, data-*), an optional caption (already in the
 * page language), the column headers as dictionary keys, and the body element.
 */
export function dataTable(attrs, caption, heads, body) {
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      attrs,
      ...(caption === undefined ? [] : [el('caption', { text: caption })]),
      el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', { scope: 'col', text: t(h) })))),
      body,
    ),
  );
}

/** Text of an enum value (industry, status...) when there is one, else the value itself. */
export function label(value) {
  return value !== undefined && value !== null && has(value) ? t(value) : (value ?? '');
}

/** The unit's name, code and state with the tabs of the unit pages; `active` = current tab. */
export function unitHeader(unit, active) {
  const id = encodeURIComponent(unit.id);
  const tabs = [
    ['trends', `#/units/${id}`, 'tabTrends'],
    ['meters', `#/units/${id}/meters`, 'tabMeters'],
    ['evidence', `#/units/${id}/evidence`, 'tabEvidence'],
    ['findings', `#/units/${id}/findings`, 'tabFindings'],
  ];
  const info = el('dl', { class: 'unit-info' });
  const rows = [
    ['unitId', unit.id],
    ['industry', label(unit.industry)],
    ['province', unit.province],
    ['state', badge(unit.online ? 'online' : 'offline', unit.online ? t('online') : t('offline'))],
    ['lastData', timeEl(unit.lastDataAt)],
  ];
  for (const [key, value] of rows)
    info.append(el('dt', { text: t(key) }), el('dd', { 'data-field': key }, value));
  return el(
    'section',
    { class: 'unit-head', 'aria-labelledby': 'unit-name' },
    el('p', { class: 'crumb' }, el('a', { href: '#/', text: `← ${t('back')}` })),
    el('h2', { id: 'unit-name', text: unit.name }),
    info,
    el(
      'nav',
      { class: 'tabs', 'aria-label': unit.name },
      ...tabs.map(([key, href, text]) =>
        el('a', {
          href,
          'data-tab': key,
          'aria-current': key === active ? 'page' : undefined,
          text: t(text),
        }),
      ),
    ),
  );
}

/**
 * The unit `unitId` from the units the session may see. When it is not among them, asks the API
 * about it so that the page shows the API's answer (403 outside the token's scope, 404 unknown);
 * appends that notice to `view` and returns null.
 */
export async function loadUnit(view, unitId) {
  try {
    const units = await api('/api/v1/units');
    const unit = units.find((u) => u.id === unitId);
    if (unit) return unit;
    await api(unitPath(unitId, '/points'));
    view.append(errorNotice(new ApiError(404, 'MRV_E_NOT_FOUND', unitId)));
  } catch (err) {
    view.append(errorNotice(err));
  }
  return null;
}

/**
 * Calibration of one meter as the domain route gives it (`calibration: {status, validUntil,
 * certificate}`), with days left counted here for display. A meter without the `calibration` field
 * (route not there yet) has status `undefined`.
 */
export function meterCalibration(meter, now = Date.now()) {
  const c = meter.calibration ?? null;
  const validUntil = c?.validUntil ?? null;
  const daysLeft =
    typeof c?.daysLeft === 'number'
      ? c.daysLeft
      : validUntil
        ? daysUntil(endOfCstDay(validUntil.slice(0, 10)), now)
        : null;
  return { status: c?.status, validUntil, certificate: c?.certificate ?? null, daysLeft };
}

/** Counts of meters per calibration status. */
export function calibrationCounts(meters) {
  const counts = { valid: 0, due_soon: 0, expired: 0, missing: 0 };
  for (const m of meters) {
    const s = meterCalibration(m).status;
    if (s in counts) counts[s]++;
  }
  return counts;
}

/** The overall completeness ratio (0..1) in a completeness answer, whatever its exact shape, or null. */
export function completenessRatio(body) {
  if (body === null || typeof body !== 'object') return null;
  for (const key of ['ratio', 'completeness', 'overall', 'summary']) {
    const v = body[key];
    if (typeof v === 'number') return v > 1 ? v / 100 : v;
    if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v)))
      return Number(v) > 1 ? Number(v) / 100 : Number(v);
    if (v && typeof v === 'object') {
      const inner = completenessRatio(v);
      if (inner !== null) return inner;
    }
  }
  if (typeof body.percent === 'number') return body.percent / 100;
  if (typeof body.expected === 'number' && typeof body.received === 'number' && body.expected > 0) {
    return body.received / body.expected;
  }
  const points = Array.isArray(body) ? body : Array.isArray(body.points) ? body.points : null;
  if (points) {
    let expected = 0;
    let received = 0;
    for (const p of points) {
      if (typeof p.expected === 'number' && typeof p.received === 'number') {
        expected += p.expected;
        received += p.received;
      }
    }
    if (expected > 0) return received / expected;
  }
  return null;
}

/** Findings from a findings answer: an array, or `{findings: [...]}`. */
export function findingsOf(body) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body.findings)) return body.findings;
  return [];
}

/** A finding's message in the current language (`message: {zh, en}` or a plain string). */
export function findingMessage(f, lang) {
  const m = f.message;
  if (m && typeof m === 'object') return (lang === 'en' ? m.en : m.zh) ?? m.zh ?? m.en ?? '';
  return String(m ?? '');
}
