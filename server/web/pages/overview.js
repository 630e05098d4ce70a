// Overview of the units in the token's scope: online state, last data, and per unit the month-to-date
// completeness (GET /api/v1/units/{id}/completeness: hourly counts, no evidence build), meters overdue
// or due soon, findings this month and the countdown to last month's evidence deadline ("not
// monitored" when that month ended before the unit's first data). Each cell says "not available yet"
// on its own when its route is missing.
import { currentLang, formatTime, t } from '../i18n.js';
import {
  api,
  apiOptional,
  badge,
  cstMonth,
  daysUntil,
  defaultDeadline,
  el,
  errorNotice,
  monthStart,
  notice,
  previousMonth,
  timeEl,
  unitPath,
} from '../lib.js';
import { calibrationCounts, completenessRatio, dataTable, findingsOf, label } from './common.js';

const REFRESH_MS = 30_000;
const SEVERITY_RANK = { info: 0, warning: 1, error: 2, critical: 3 };

function unavailable() {
  return el('span', {
    class: 'na',
    'data-state': 'unavailable',
    title: t('notAvailableLong'),
    text: t('notAvailable'),
  });
}

/** Month-to-date completeness answers per unit and month (`{at, data}`), reused for a minute. */
const completenessCache = new Map();
const COMPLETENESS_TTL_MS = 60_000;

/** The completeness route's answer for `unit` in `month` (null when the route is missing). */
function completenessOf(unit, month) {
  const key = `${unit.id}|${month}`;
  const hit = completenessCache.get(key);
  if (hit && Date.now() - hit.at < COMPLETENESS_TTL_MS) return hit.data;
  const data = apiOptional(unitPath(unit.id, `/completeness?month=${month}`)).then((r) =>
    r.unavailable ? null : r.data,
  );
  completenessCache.set(key, { at: Date.now(), data });
  data.catch(() => completenessCache.delete(key));
  return data;
}

async function completenessCell(unit, month) {
  const c = await completenessOf(unit, month);
  if (c === null) return unavailable();
  const href = `#/units/${encodeURIComponent(unit.id)}/evidence/${month}`;
  const title = t('completenessMtd', { from: formatTime(c.countedFrom), at: formatTime(c.judgedTo) });
  if (c.status === 'not_monitored' || c.status === 'not_started')
    return el(
      'a',
      { href, title: t('notMonitoredLong'), 'data-status': c.status },
      badge('na', t(c.status === 'not_started' ? 'notStarted' : 'notMonitored')),
    );
  const ratio = completenessRatio({ ratio: c.ratio });
  if (ratio === null) return el('span', { class: 'na', 'data-status': c.status, title, text: '—' });
  const kind = ratio >= 0.99 ? 'good' : ratio >= 0.9 ? 'uncertain' : 'bad';
  return el(
    'a',
    { href, title, 'data-status': c.status, 'data-ratio': c.ratio },
    badge(`q-${kind}`, `${(ratio * 100).toFixed(1)} %`),
  );
}

async function calibrationCell(unit) {
  const r = await apiOptional(unitPath(unit.id, '/meters'));
  if (r.unavailable) return unavailable();
  const meters = Array.isArray(r.data) ? r.data : (r.data?.meters ?? []);
  if (meters.length === 0) return el('span', { class: 'na', text: t('noMeters') });
  const c = calibrationCounts(meters);
  const link = (child) => el('a', { href: `#/units/${encodeURIComponent(unit.id)}/meters` }, child);
  if (c.expired + c.due_soon + c.missing === 0) return link(badge('cal-valid', t('allValid')));
  const parts = el('span', { class: 'badges' });
  if (c.expired) parts.append(badge('cal-expired', `${t('overdue')} ${c.expired}`));
  if (c.missing) parts.append(badge('cal-missing', `${t('missing')} ${c.missing}`));
  if (c.due_soon) parts.append(badge('cal-due_soon', `${t('dueSoon')} ${c.due_soon}`));
  return link(parts);
}

async function findingsCell(unit, month) {
  const from = new Date(monthStart(month)).toISOString();
  const r = await apiOptional(unitPath(unit.id, `/findings?from=${encodeURIComponent(from)}`));
  if (r.unavailable) return unavailable();
  // Open findings only: a resolved one (e.g. a seq gap whose batches arrived late) is not counted.
  const list = findingsOf(r.data).filter(
    (f) => f.state !== 'resolved' && !f.closedAt && f.status !== 'closed',
  );
  let worst = null;
  for (const f of list)
    if (worst === null || (SEVERITY_RANK[f.severity] ?? 0) > (SEVERITY_RANK[worst] ?? 0)) worst = f.severity;
  const text = t('countN', { n: list.length });
  return el(
    'a',
    { href: `#/units/${encodeURIComponent(unit.id)}/findings`, 'data-count': String(list.length) },
    list.length === 0 ? badge('good', text) : badge(`sev-${worst}`, text),
  );
}

async function deadlineCell(unit, now) {
  // The rule of docs/architecture.md §7 (month end + 40 days); the package's own `deadline` is on its page.
  const month = previousMonth(cstMonth(now));
  const deadline = defaultDeadline(month);
  // A month that ended before the unit's first data was never due (the current month's answer knows it).
  const c = await completenessOf(unit, cstMonth(now)).catch(() => null);
  if (c && (c.firstDataAt === null || Date.parse(c.firstDataAt) >= monthStart(cstMonth(now))))
    return el(
      'a',
      {
        href: `#/units/${encodeURIComponent(unit.id)}/evidence/${month}`,
        title: t('notMonitoredLong'),
        'data-status': 'not_monitored',
      },
      badge('na', `${month} · ${t('notMonitored')}`),
    );
  const days = daysUntil(deadline, now);
  const kind = days < 0 ? 'bad' : days <= 10 ? 'uncertain' : 'good';
  return el(
    'a',
    { href: `#/units/${encodeURIComponent(unit.id)}/evidence/${month}`, title: formatTime(deadline) },
    badge(
      `q-${kind}`,
      `${month} · ${days < 0 ? t('deadlinePassed', { n: -days }) : t('deadlineIn', { n: days })}`,
    ),
  );
}

function fill(td, promise) {
  td.append(el('span', { class: 'loading', text: '…' }));
  promise.then(
    (node) => td.replaceChildren(node),
    (err) => td.replaceChildren(el('span', { class: 'na', title: err.message, text: t('loadFailed') })),
  );
}

function row(unit, now) {
  const month = cstMonth(now);
  const cells = {
    completeness: el('td', { 'data-field': 'completeness' }),
    calibration: el('td', { 'data-field': 'calibration' }),
    findings: el('td', { 'data-field': 'findings' }),
    deadline: el('td', { 'data-field': 'deadline' }),
  };
  fill(cells.completeness, completenessCell(unit, month));
  fill(cells.calibration, calibrationCell(unit));
  fill(cells.findings, findingsCell(unit, month));
  fill(cells.deadline, deadlineCell(unit, now));
  return el(
    'tr',
    { 'data-unit-id': unit.id },
    el(
      'th',
      { scope: 'row' },
      el('a', { href: `#/units/${encodeURIComponent(unit.id)}`, class: 'unit-link', text: unit.name }),
      el('div', { class: 'sub', text: unit.id }),
      // Units only a gateway's catalogue names (issue 17): their facts are claims, shown as such.
      unit.registered === false
        ? el(
            'span',
            { 'data-field': 'unregistered', title: t('unregisteredHint') },
            badge('q-uncertain', t('unregistered')),
          )
        : null,
    ),
    el('td', { text: unit.province }),
    el('td', { text: label(unit.industry) }),
    el(
      'td',
      { 'data-field': 'state' },
      badge(unit.online ? 'online' : 'offline', unit.online ? t('online') : t('offline')),
    ),
    el('td', { 'data-field': 'lastData' }, timeEl(unit.lastDataAt)),
    cells.completeness,
    cells.calibration,
    cells.findings,
    cells.deadline,
  );
}

/** Renders the overview and refreshes it every 30 s. */
export async function render(view) {
  const section = el('section', { class: 'panel', 'aria-labelledby': 'overview-heading' });
  view.append(section);
  const draw = async () => {
    let units;
    try {
      units = await api('/api/v1/units');
    } catch (err) {
      section.replaceChildren(errorNotice(err));
      return;
    }
    const now = Date.now();
    const body = el('tbody');
    for (const u of units) body.append(row(u, now));
    const heads = [
      'colUnit',
      'colProvince',
      'colIndustry',
      'colState',
      'colLastData',
      'colCompleteness',
      'colCalibration',
      'colFindings',
      'colDeadline',
    ];
    section.replaceChildren(
      el('h2', { id: 'overview-heading', text: t('overviewHeading') }),
      units.length === 0
        ? notice('empty', t('noUnits'))
        : dataTable({ id: 'units-table', 'data-lang': currentLang() }, t('overviewCaption'), heads, body),
    );
  };
  await draw();
  const timer = setInterval(draw, REFRESH_MS);
  return () => clearInterval(timer);
}
