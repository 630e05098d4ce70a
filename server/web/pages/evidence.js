// Monthly evidence (月度存证): the list of recent months with their submission deadline ("not
// monitored" before the unit's first data), and one month's package: its content status first (no
// data / incomplete / complete, formatVersion 2), the parameters measured by default, estimate or not
// at all, then the signature check, key parameters, findings (as the findings list shows the month)
// and downloads as JSON, CSV and a printable HTML page. Data: GET /api/v1/units/{id}/evidence/{yyyy-mm}
// [?format=csv|html] and GET /api/v1/units/{id}/completeness (docs/architecture.md §9).
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
  monthStart,
  notice,
  previousMonth,
  unitPath,
} from '../lib.js';
import { completenessRatio, dataTable, findingsOf, label, loadUnit, unitHeader } from './common.js';
import { emissionsSection } from './emissions.js';

const MONTHS_LISTED = 12;
const CST_MS = 8 * 3_600_000;

/** The unit's first data (ms epoch, null when none) from the completeness route; undefined when unknown. */
async function firstDataOf(unitId) {
  try {
    const r = await apiOptional(unitPath(unitId, '/completeness'));
    if (r.unavailable || !r.data) return undefined;
    return r.data.firstDataAt === null ? null : Date.parse(r.data.firstDataAt);
  } catch {
    return undefined;
  }
}

/** True when `month` ended before the unit's first data (nothing was due). Unknown first data: false. */
function notMonitored(month, firstData) {
  if (firstData === undefined) return false;
  return firstData === null || firstData >= monthStart(nextMonth(month));
}

function nextMonth(month) {
  const [y, m] = month.split('-').map(Number);
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

function notMonitoredBadge() {
  return el(
    'span',
    { 'data-status': 'not_monitored', title: t('notMonitoredLong') },
    badge('na', t('notMonitored')),
  );
}

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

/**
 * Completeness of the month over all points of the package: formatVersion 2 the covered share of the
 * time judged (up to generation), else received / expected; a dash when there is none.
 */
function overallCompleteness(pkg) {
  if (pkg.content) {
    const share = pkg.content.coveredShare;
    if (share === null || share === undefined) return '—';
    const pct = `${(Number(share) * 100).toFixed(1)} %`;
    return t('coveredShareMtd', { pct, at: formatTime(pkg.content.judgedTo) });
  }
  const ratio = completenessRatio({ points: pkg.completeness ?? [] });
  return ratio === null ? '—' : `${(ratio * 100).toFixed(1)} %`;
}

/** The content status block (formatVersion 2), first on the page; null for older packages. */
function contentBlock(pkg) {
  const c = pkg.content;
  if (!c) return null;
  const kind = c.status === 'complete' ? 'q-good' : c.status === 'incomplete' ? 'q-uncertain' : 'q-bad';
  return el(
    'div',
    { class: 'content-status', id: 'content-status', 'data-status': c.status },
    el(
      'p',
      {},
      el('strong', { text: `${t('contentStatus')}: ` }),
      badge(kind, t(`content_${c.status}`)),
      el('span', { class: 'sub', text: ` · ${t('judgedTo')} ${formatTime(c.judgedTo)}` }),
    ),
    c.reasons.length > 0
      ? el(
          'ul',
          { class: 'reasons' },
          ...c.reasons.map((r) => el('li', { 'data-reason': r, text: t(`reason_${r}`) })),
        )
      : null,
  );
}

/** The parameters measured by default, estimate or not at all, with the consequence (formatVersion 2). */
function noticesBlock(pkg) {
  const list = pkg.notices ?? [];
  if (list.length === 0) return null;
  const lang = currentLang() === 'en' ? 'en' : 'zh';
  return el(
    'div',
    {},
    el('h4', { text: t('noticesHeading') }),
    dataTable(
      { id: 'notices-table' },
      undefined,
      ['colParameter', 'colIssue', 'colMethod', 'colConsequence'],
      el(
        'tbody',
        {},
        ...list.map((n) =>
          el(
            'tr',
            { 'data-parameter': n.parameter, 'data-issue': n.issue },
            el('th', { scope: 'row' }, el('code', { text: n.parameter })),
            el('td', { text: t(`issue_${n.issue}`) }),
            el('td', { text: label(n.method) }),
            el('td', { text: n.consequence?.[lang] ?? '' }),
          ),
        ),
      ),
    ),
  );
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
  const firstData = await firstDataOf(unit.id);
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
        el('td', {}, notMonitored(month, firstData) ? notMonitoredBadge() : countdown(deadline, now)),
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
  let firstData;
  try {
    [r, firstData] = await Promise.all([
      apiOptional(unitPath(unit.id, `/evidence/${month}`)),
      firstDataOf(unit.id),
    ]);
  } catch (err) {
    section.append(errorNotice(err));
    return;
  }
  const pkg = r.data ?? {};
  // What the package knows comes first, before its deadline and its signature.
  const content = r.unavailable ? null : contentBlock(pkg);
  if (content) section.append(content);
  if (!r.unavailable) {
    const notices = noticesBlock(pkg);
    if (notices) section.append(notices);
  }
  const deadline = deadlineOf(r.data, month);
  section.append(
    el(
      'dl',
      { class: 'facts' },
      el('dt', { text: t('colEvidenceDeadline') }),
      el(
        'dd',
        { id: 'deadline' },
        `${formatTime(deadline)} `,
        notMonitored(month, firstData) ? notMonitoredBadge() : countdown(deadline),
      ),
    ),
  );
  if (r.unavailable) {
    section.append(notice('unavailable', `${t('evidenceNotReady')} — ${t('notAvailableLong')}`));
    return;
  }
  const v = await verificationOf(pkg);
  section.append(
    el(
      'dl',
      { class: 'facts' },
      el('dt', { text: t('signatureCheck') }),
      el(
        'dd',
        { id: 'verification', 'data-ok': String(v.ok) },
        v.ok === null
          ? badge('q-uncertain', t('unknownResult'))
          : badge(v.ok ? 'q-good' : 'q-bad', v.ok ? t('signatureValid') : t('signatureInvalid')),
        v.keyId ? el('span', { class: 'sub', text: ` Ed25519 · ${t('keyId')} ${v.keyId}` }) : null,
        v.reason ? el('span', { class: 'sub', text: ` · ${v.reason}` }) : null,
        el('div', { class: 'sub', text: t('signatureNote') }),
      ),
      el('dt', { text: t('completeness') }),
      el(
        'dd',
        { id: 'completeness' },
        overallCompleteness(pkg),
        typeof firstData === 'number' &&
          firstData > monthStart(month) &&
          firstData < monthStart(nextMonth(month))
          ? el('div', { class: 'sub', text: t('firstDataAt', { at: formatTime(firstData) }) })
          : null,
      ),
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
  const findings = [...findingsOf(pkg.findings ?? []), ...findingsOf(pkg.storedFindings ?? [])];
  const resolved = findingsOf(pkg.resolvedFindings ?? []);
  // The findings list of the same month shows the same findings (the package cites every stored one).
  const first = new Date(monthStart(month) + CST_MS).toISOString().slice(0, 10);
  const last = new Date(monthStart(nextMonth(month)) - 1 + CST_MS).toISOString().slice(0, 10);
  section.append(
    el(
      'p',
      { 'data-field': 'findings-count' },
      `${t('openFindingsN')}: ${findings.length} · ${t('resolvedFindingsN')}: ${resolved.length} · `,
      el('a', {
        href: `#/units/${encodeURIComponent(unit.id)}/findings?from=${first}&to=${last}`,
        text: t('findingsInList'),
      }),
    ),
  );
  // Emissions by kind with their factors and sources (server/web/pages/emissions.js).
  section.append(emissionsSection(pkg));
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
