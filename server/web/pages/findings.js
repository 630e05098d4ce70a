// Findings of a unit (validation rules, integrity checks, completeness, calibration) with filters:
// data-time range (sent to the API), severity, source and free text (applied here). The filters
// live in the address (#/units/{id}/findings?from=&to=&severity=&source=&q=) so a filtered list can
// be shared. Data: GET /api/v1/units/{id}/findings?from=&to= (docs/architecture.md §9).
import { currentLang, formatTime, t } from '../i18n.js';
import {
  apiOptional,
  badge,
  cstMonth,
  el,
  errorNotice,
  monthStart,
  notice,
  timeEl,
  unitPath,
} from '../lib.js';
import { dataTable, findingMessage, findingsOf, label, loadUnit, unitHeader } from './common.js';

const SEVERITIES = ['critical', 'error', 'warning', 'info'];
const SOURCES = ['integrity', 'validation', 'completeness', 'calibration'];
const STATES = { open: 'stateOpen', resolved: 'stateResolved' };
const CST_MS = 8 * 3_600_000;

/** `yyyy-mm-dd` (China date) → ISO instant of its start. */
function dateStart(date) {
  return new Date(Date.parse(`${date}T00:00:00Z`) - CST_MS).toISOString();
}

function select(id, value, options, text = label) {
  return el(
    'select',
    { id, name: id },
    el('option', { value: '', text: t('filterAll') }),
    ...options.map((o) => el('option', { value: o, selected: o === value, text: text(o) })),
  );
}

/** A finding's lifecycle state (`open` when it carries none). */
function stateOf(x) {
  return x.state === 'resolved' ? 'resolved' : 'open';
}

/** The state cell: open, or resolved with when and by which batches. */
function stateCell(x) {
  if (stateOf(x) === 'open') return el('td', { 'data-state': 'open' }, badge('sev-warning', t('stateOpen')));
  const seqs = (x.resolution?.seqs ?? []).map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ');
  return el(
    'td',
    { 'data-state': 'resolved' },
    badge('q-good', t('stateResolved')),
    el('div', { class: 'sub', text: t('resolvedAtBy', { at: formatTime(x.resolvedAt), seqs }) }),
    el('div', {
      class: 'sub',
      text: x.resolution?.message ? findingMessage(x.resolution, currentLang()) : '',
    }),
  );
}

/** Renders the findings page. */
export async function render(view, params, ctx) {
  const unit = await loadUnit(view, params.unitId);
  if (!unit) return;
  view.append(unitHeader(unit, 'findings'));
  const q = ctx.query;
  const today = new Date(Date.now() + CST_MS).toISOString().slice(0, 10);
  const monthFirst = new Date(monthStart(cstMonth(Date.now())) + CST_MS).toISOString().slice(0, 10);
  const f = {
    from: q.get('from') ?? monthFirst,
    to: q.get('to') ?? today,
    severity: q.get('severity') ?? '',
    source: q.get('source') ?? '',
    state: q.get('state') ?? '',
    q: q.get('q') ?? '',
  };
  const inputs = {
    from: el('input', { id: 'from', name: 'from', type: 'date', value: f.from }),
    to: el('input', { id: 'to', name: 'to', type: 'date', value: f.to }),
    severity: select('severity', f.severity, SEVERITIES),
    source: select('source', f.source, SOURCES),
    state: select('state', f.state, Object.keys(STATES), (o) => t(STATES[o])),
    q: el('input', { id: 'q', name: 'q', type: 'search', value: f.q }),
  };
  const form = el(
    'form',
    {
      class: 'filters',
      'on:submit': (ev) => {
        ev.preventDefault();
        const next = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value.trim()]));
        ctx.navigate(`/units/${encodeURIComponent(unit.id)}/findings`, next);
      },
    },
    ...[
      ['from', 'filterFrom'],
      ['to', 'filterTo'],
      ['severity', 'filterSeverity'],
      ['source', 'filterSource'],
      ['state', 'filterState'],
      ['q', 'filterText'],
    ].map(([k, text]) => el('label', { for: k }, el('span', { text: t(text) }), inputs[k])),
    el('button', { type: 'submit', class: 'primary', text: t('apply') }),
  );
  const section = el(
    'section',
    { class: 'panel', 'aria-labelledby': 'findings-heading' },
    el('h3', { id: 'findings-heading', text: t('findingsHeading') }),
    form,
  );
  view.append(section);

  const toExclusive = new Date(Date.parse(dateStart(f.to)) + 86_400_000).toISOString();
  let r;
  try {
    r = await apiOptional(
      unitPath(
        unit.id,
        `/findings?from=${encodeURIComponent(dateStart(f.from))}&to=${encodeURIComponent(toExclusive)}`,
      ),
    );
  } catch (err) {
    section.append(errorNotice(err));
    return;
  }
  if (r.unavailable) {
    section.append(notice('unavailable', `${t('notAvailable')}: ${t('notAvailableLong')}`));
    return;
  }
  const needle = f.q.toLowerCase();
  const lang = currentLang();
  const list = findingsOf(r.data)
    .filter((x) => !f.severity || x.severity === f.severity)
    .filter((x) => !f.source || x.source === f.source)
    .filter((x) => !f.state || stateOf(x) === f.state)
    .filter(
      (x) =>
        !needle ||
        [x.code, x.rule, x.point, x.class, findingMessage(x, 'zh'), findingMessage(x, 'en')]
          .filter(Boolean)
          .some((s) => String(s).toLowerCase().includes(needle)),
    )
    .sort((a, b) => Date.parse(b.ts) - Date.parse(a.ts));
  if (list.length === 0) {
    section.append(notice('empty', t('noFindings')));
    return;
  }
  const heads = [
    'colFindingTime',
    'colSeverity',
    'colSource',
    'colCode',
    'colPoint',
    'colState',
    'colMessage',
  ];
  section.append(
    dataTable(
      { id: 'findings-table' },
      undefined,
      heads,
      el(
        'tbody',
        {},
        ...list.map((x) =>
          el(
            'tr',
            { 'data-finding-id': x.id, 'data-severity': x.severity, 'data-state': stateOf(x) },
            el('td', {}, timeEl(x.ts)),
            el('td', {}, badge(`sev-${x.severity}`, label(x.severity))),
            el('td', { text: label(x.source) }),
            el('td', { class: 'mono', text: x.rule ? `${x.code} · ${x.rule}` : x.code }),
            el('td', { text: x.point ?? '' }),
            stateCell(x),
            el('td', { text: findingMessage(x, lang) }),
          ),
        ),
      ),
    ),
  );
}
