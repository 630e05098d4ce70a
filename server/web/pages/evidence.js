// Monthly evidence (月度存证): the list of recent months with their submission deadline, and one
// month's package: verification result, key parameters, downloads as JSON, CSV and a printable HTML
// page. Data: GET /api/v1/units/{id}/evidence/{yyyy-mm}[?format=csv|html] (DESIGN.md §9, assembled
// by core/domain); "not available yet" while that route is missing.
import { currentLang, formatTime, t } from '../i18n.js';
import {
  apiOptional,
  badge,
  cstMonth,
  daysUntil,
  defaultDeadline,
  el,
  errorNotice,
  notice,
  previousMonth,
  unitPath,
} from '../lib.js';
import { findingsOf, label, loadUnit, unitHeader } from './common.js';

const MONTHS_LISTED = 12;

function countdown(deadline, now = Date.now()) {
  const days = daysUntil(deadline, now);
  const kind = days < 0 ? 'bad' : days <= 10 ? 'uncertain' : 'good';
  return badge(`q-${kind}`, days < 0 ? t('deadlinePassed', { n: -days }) : t('deadlineIn', { n: days }));
}

function downloads(unitId, month) {
  const base = unitPath(unitId, `/evidence/${month}`);
  const link = (fmt, href) =>
    el('a', {
      class: 'button',
      href,
      download: `evidence-${unitId}-${month}.${fmt}`,
      'data-format': fmt,
      text: `${t('download')} ${fmt.toUpperCase()}`,
    });
  return el(
    'span',
    { class: 'downloads' },
    link('json', base),
    link('csv', `${base}?format=csv`),
    link('html', `${base}?format=html`),
  );
}

/** The verification result in a package, whatever its exact field: true, false or null (not given). */
function verificationOf(pkg) {
  const v = pkg.verification ?? pkg.verify ?? pkg.verified ?? pkg.signatureValid;
  if (typeof v === 'boolean') return { ok: v, detail: null };
  if (v && typeof v === 'object') {
    const ok =
      v.ok ??
      v.valid ??
      v.verified ??
      (typeof v.status === 'string' ? ['ok', 'valid', 'verified', 'pass'].includes(v.status) : undefined);
    return { ok: typeof ok === 'boolean' ? ok : null, detail: v };
  }
  return { ok: null, detail: null };
}

function parametersOf(pkg) {
  for (const key of ['parameters', 'keyParameters', 'params']) {
    const v = pkg[key];
    if (Array.isArray(v)) return v;
    if (v && typeof v === 'object')
      return Object.entries(v).map(([id, p]) => ({ id, ...(typeof p === 'object' ? p : { value: p }) }));
  }
  return [];
}

function pick(o, ...keys) {
  for (const k of keys) {
    const v = o?.[k];
    if (v !== undefined && v !== null && typeof v !== 'object') return String(v);
    if (v && typeof v === 'object' && (v.zh || v.en))
      return currentLang() === 'en' ? (v.en ?? v.zh) : (v.zh ?? v.en);
  }
  return '';
}

async function renderList(section, unit) {
  const now = Date.now();
  const heads = ['colMonth', 'colEvidenceDeadline', 'colDeadline', 'colActions'];
  const tbody = el('tbody');
  let month = cstMonth(now);
  for (let i = 0; i < MONTHS_LISTED; i++) {
    const deadline = defaultDeadline(month);
    tbody.append(
      el(
        'tr',
        { 'data-month': month },
        el(
          'th',
          { scope: 'row' },
          el('a', { href: `#/units/${encodeURIComponent(unit.id)}/evidence/${month}`, text: month }),
        ),
        el('td', { text: formatTime(deadline).slice(0, 10) }),
        el('td', {}, countdown(deadline, now)),
        el(
          'td',
          {},
          el('a', {
            class: 'button',
            href: `#/units/${encodeURIComponent(unit.id)}/evidence/${month}`,
            text: t('open'),
          }),
        ),
      ),
    );
    month = previousMonth(month);
  }
  section.append(
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id: 'evidence-table' },
        el('caption', { text: t('evidenceCaption') }),
        el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', { scope: 'col', text: t(h) })))),
        tbody,
      ),
    ),
  );
}

async function renderDetail(section, unit, month) {
  section.querySelector('h3').textContent = t('evidenceDetail', { month });
  section.append(
    el(
      'p',
      { class: 'crumb' },
      el('a', { href: `#/units/${encodeURIComponent(unit.id)}/evidence`, text: `← ${t('evidenceHeading')}` }),
    ),
  );
  let r;
  try {
    r = await apiOptional(unitPath(unit.id, `/evidence/${month}`));
  } catch (err) {
    section.append(errorNotice(err));
    return;
  }
  const deadline = r.data?.deadline ? Date.parse(r.data.deadline) : defaultDeadline(month);
  section.append(
    el(
      'dl',
      { class: 'facts' },
      el('dt', { text: t('colEvidenceDeadline') }),
      el('dd', {}, `${formatTime(deadline)} `, countdown(deadline)),
    ),
  );
  if (r.unavailable) {
    section.append(notice('unavailable', `${t('evidenceNotReady')} — ${t('notAvailableLong')}`));
    return;
  }
  const pkg = r.data ?? {};
  const v = verificationOf(pkg);
  section.append(
    el(
      'dl',
      { class: 'facts' },
      el('dt', { text: t('verificationResult') }),
      el(
        'dd',
        { id: 'verification', 'data-ok': String(v.ok) },
        v.ok === null
          ? badge('q-uncertain', t('unknownResult'))
          : badge(v.ok ? 'q-good' : 'q-bad', v.ok ? t('verified') : t('notVerified')),
      ),
      el('dt', { text: t('download') }),
      el('dd', {}, downloads(unit.id, month)),
    ),
  );
  const params = parametersOf(pkg);
  if (params.length > 0) {
    const heads = ['colParameter', 'colValue', 'colUnitOfMeasure', 'colMethod', 'colCompleteness'];
    section.append(
      el('h4', { text: t('keyParameters') }),
      el(
        'div',
        { class: 'table-wrap' },
        el(
          'table',
          { id: 'parameters-table' },
          el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', { scope: 'col', text: t(h) })))),
          el(
            'tbody',
            {},
            ...params.map((p) =>
              el(
                'tr',
                {},
                el('th', { scope: 'row', text: pick(p, 'name', 'label', 'id', 'parameter') }),
                el('td', { class: 'num', text: pick(p, 'value', 'total', 'amount') }),
                el('td', { text: pick(p, 'unit') }),
                el('td', { text: label(pick(p, 'method')) }),
                el('td', { text: pick(p.completeness ?? {}, 'ratio', 'percent') || pick(p, 'completeness') }),
              ),
            ),
          ),
        ),
      ),
    );
  }
  const findings = findingsOf(pkg.findings ?? []);
  section.append(el('p', {}, `${t('tabFindings')}: ${findings.length}`));
  section.append(
    el(
      'details',
      { class: 'raw' },
      el('summary', { text: t('rawPackage') }),
      el('pre', { text: JSON.stringify(pkg, null, 2) }),
    ),
  );
}

/** Renders the evidence list, or one month's package. */
export async function render(view, params) {
  const unit = await loadUnit(view, params.unitId);
  if (!unit) return;
  view.append(unitHeader(unit, 'evidence'));
  const section = el(
    'section',
    { class: 'panel', 'aria-labelledby': 'evidence-heading' },
    el('h3', { id: 'evidence-heading', text: t('evidenceHeading') }),
  );
  view.append(section);
  if (params.month) await renderDetail(section, unit, params.month);
  else await renderList(section, unit);
}
