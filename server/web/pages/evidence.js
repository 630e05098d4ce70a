// Monthly evidence (月度存证): the list of recent months with their submission deadline, and one
// month's package: verification result, key parameters, downloads as JSON, CSV and a printable HTML
// page. Data: GET /api/v1/units/{id}/evidence/{yyyy-mm}[?format=csv|html] (DESIGN.md §9, assembled
// by core/domain); "not available yet" while that route is missing.
import { currentLang, formatTime, t } from '../i18n.js';
import {
  api,
  apiOptional,
  badge,
  cstMonth,
  daysUntil,
  defaultDeadline,
  el,
  endOfCstDay,
  errorNotice,
  notice,
  previousMonth,
  unitPath,
} from '../lib.js';
import { completenessRatio, dataTable, findingsOf, label, loadUnit, unitHeader } from './common.js';
import { emissionsSection } from './emissions.js';

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

/**
 * The package's signature checked by the server (POST /api/v1/evidence/verify, the same check as
 * `mrv verify`, against the server's trusted keys only): `{ok, keyId, owner?, reason?}`; a package signed
 * by a key the server does not trust (422 `MRV_E_UNTRUSTED_KEY`) or malformed (400 `MRV_E_BAD_PACKAGE`)
 * is a failed verification; `{ok: null}` when the package is unsigned or the check could not run.
 */
async function verificationOf(pkg) {
  if (!pkg.signature) return { ok: null, keyId: '', reason: t('unknownResult') };
  try {
    return await api('/api/v1/evidence/verify', { method: 'POST', body: pkg });
  } catch (err) {
    const refused = err.code === 'MRV_E_UNTRUSTED_KEY' || err.code === 'MRV_E_BAD_PACKAGE';
    return { ok: refused ? false : null, keyId: pkg.signature.keyId ?? '', reason: err.message };
  }
}

/** Completeness of the month over all points of the package: received / expected, or a dash. */
function overallCompleteness(pkg) {
  const ratio = completenessRatio({ points: pkg.completeness ?? [] });
  return ratio === null ? '—' : `${(ratio * 100).toFixed(1)} %`;
}

/** The deadline of a package (`yyyy-mm-dd`, the last permitted China date) as ms epoch, else the default rule. */
function deadlineOf(pkg, month) {
  const d = pkg?.deadline;
  if (typeof d === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d)) return endOfCstDay(d);
  if (typeof d === 'string' && !Number.isNaN(Date.parse(d))) return Date.parse(d);
  return defaultDeadline(month);
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
  section.append(dataTable({ id: 'evidence-table' }, t('evidenceCaption'), heads, tbody));
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
  const deadline = deadlineOf(r.data, month);
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
  const v = await verificationOf(pkg);
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
        v.keyId ? el('span', { class: 'sub', text: ` Ed25519 · ${t('keyId')} ${v.keyId}` }) : null,
        v.reason ? el('span', { class: 'sub', text: ` · ${v.reason}` }) : null,
      ),
      el('dt', { text: t('colCompleteness') }),
      el('dd', { id: 'completeness' }, overallCompleteness(pkg)),
      el('dt', { text: t('generatedAt') }),
      el('dd', {}, formatTime(pkg.generatedAt)),
      el('dt', { text: t('download') }),
      el('dd', {}, downloads(unit.id, month)),
    ),
  );
  const params = parametersOf(pkg);
  if (params.length > 0) {
    const heads = ['colParameter', 'colValue', 'colUnitOfMeasure', 'colMethod'];
    section.append(
      el('h4', { text: t('keyParameters') }),
      dataTable(
        { id: 'parameters-table' },
        undefined,
        heads,
        el(
          'tbody',
          {},
          ...params.map((p) =>
            el(
              'tr',
              {},
              el(
                'th',
                { scope: 'row' },
                el('div', {
                  text: (currentLang() === 'en' ? p.nameEn : p.nameZh) ?? pick(p, 'name', 'id'),
                }),
                el('div', { class: 'sub', text: p.id ?? '' }),
              ),
              el('td', { class: 'num', text: p.value ?? '—' }),
              el('td', { text: pick(p, 'unit') }),
              el('td', { text: label(pick(p, 'method')) }),
            ),
          ),
        ),
      ),
    );
  }
  // Emissions by kind with their factors and sources, in the slot the page leaves for it (else here).
  const emissions = emissionsSection(pkg);
  const slot = section.querySelector('#emissions-by-kind');
  if (slot) slot.replaceWith(emissions);
  else section.append(emissions);
  const findings = [...findingsOf(pkg.findings ?? []), ...findingsOf(pkg.storedFindings ?? [])];
  const resolved = findingsOf(pkg.resolvedFindings ?? []);
  section.append(
    el(
      'p',
      { 'data-field': 'findings-count' },
      `${t('openFindingsN')}: ${findings.length} · ${t('resolvedFindingsN')}: ${resolved.length}`,
    ),
  );
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
