// Meters of a unit and their verification (检定) / calibration (校准): status colour, certificate,
// valid-until and days left, and every certificate on record. Data: GET /api/v1/units/{id}/meters
// (docs/architecture.md §9, computed by core/domain); "not available yet" while that route is missing.
import { t } from '../i18n.js';
import { apiOptional, badge, el, errorNotice, formatDateOnly, notice, unitPath } from '../lib.js';
import { dataTable, label, loadUnit, meterCalibration, unitHeader } from './common.js';

const ORDER = { expired: 0, missing: 1, due_soon: 2, valid: 3 };

function daysText(days) {
  if (days === null) return '—';
  return days < 0 ? t('daysOverdueN', { n: -days }) : t('daysLeftN', { n: days });
}

function certificates(meter) {
  const list = meter.certificates ?? meter.calibrations ?? [];
  if (list.length === 0) return null;
  const heads = ['colCertificate', 'colKind', 'colValidUntil', 'colBody', 'colRegulation', 'colResult'];
  return el(
    'details',
    { class: 'certs' },
    el('summary', { text: `${t('history')} (${list.length})` }),
    el(
      'table',
      { class: 'compact' },
      el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', { scope: 'col', text: t(h) })))),
      el(
        'tbody',
        {},
        ...list.map((c) =>
          el(
            'tr',
            {},
            el('td', { text: c.certificate }),
            el('td', { text: label(c.kind) }),
            el('td', { text: `${formatDateOnly(c.date)} – ${formatDateOnly(c.validUntil)}` }),
            el('td', { text: c.body ?? '' }),
            el('td', { text: c.regulation ?? '' }),
            el('td', { text: c.result ?? '' }),
          ),
        ),
      ),
    ),
  );
}

/** Renders the meters page. */
export async function render(view, params) {
  const unit = await loadUnit(view, params.unitId);
  if (!unit) return;
  view.append(unitHeader(unit, 'meters'));
  const section = el(
    'section',
    { class: 'panel', 'aria-labelledby': 'meters-heading' },
    el('h3', { id: 'meters-heading', text: t('metersHeading') }),
  );
  view.append(section);
  let r;
  try {
    r = await apiOptional(unitPath(unit.id, '/meters'));
  } catch (err) {
    section.append(errorNotice(err));
    return;
  }
  if (r.unavailable) {
    section.append(notice('unavailable', `${t('notAvailable')}: ${t('notAvailableLong')}`));
    return;
  }
  const meters = (Array.isArray(r.data) ? r.data : (r.data?.meters ?? [])).slice();
  if (meters.length === 0) {
    section.append(notice('empty', t('noMeters')));
    return;
  }
  meters.sort((a, b) => (ORDER[meterCalibration(a).status] ?? 9) - (ORDER[meterCalibration(b).status] ?? 9));
  const heads = [
    'colMeterName',
    'colKind',
    'colModel',
    'colAccuracy',
    'colStatus',
    'colCertificate',
    'colValidUntil',
    'colDaysLeft',
  ];
  const tbody = el('tbody');
  for (const m of meters) {
    const c = meterCalibration(m);
    const status = c.status ?? 'missing';
    tbody.append(
      el(
        'tr',
        { 'data-meter-id': m.id, 'data-status': status },
        el(
          'th',
          { scope: 'row' },
          el('div', { text: m.name ?? m.id }),
          el('div', { class: 'sub', text: m.id }),
          certificates(m),
        ),
        el('td', { text: label(m.kind) }),
        el('td', { text: [m.model, m.serial].filter(Boolean).join(' / ') }),
        el('td', { text: m.accuracyClass ?? '' }),
        el('td', { 'data-field': 'status' }, badge(`cal-${status}`, t(status))),
        el('td', { text: c.certificate ?? '—' }),
        el('td', { text: c.validUntil ? formatDateOnly(c.validUntil) : '—' }),
        el('td', {
          class: `num days cal-${status}-text`,
          'data-field': 'daysLeft',
          text: daysText(c.daysLeft),
        }),
      ),
    );
  }
  section.append(dataTable({ id: 'meters-table' }, t('metersCaption'), heads, tbody));
}
