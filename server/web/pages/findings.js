// Findings of a unit (validation rules, integrity checks, completeness, calibration) with filters:
// data-time range (sent to the API), severity, source and free text (applied here). The filters
// live in the address (#/units/{id}/findings?from=&to=&severity=&source=&q=) so a filtered list can
// be shared. Data: GET /api/v1/units/{id}/findings?from=&to= (docs/architecture.md §9).
// With the server's state database each finding carries its workflow (问题清单 → 整改, docs/architecture.md
// §8a): its state, and the actions the logged-in role may take on it (acknowledge and explain for the
// enterprise, close and reopen for the regulator), posted to /api/v1/findings/{id}/{action}.
import { currentLang, formatTime, t } from '../i18n.js';
import {
  ApiError,
  api,
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
const STATES = {
  open: 'stateOpen',
  acknowledged: 'stateAcknowledged',
  explained: 'stateExplained',
  closed: 'stateClosed',
  resolved: 'stateResolved',
};
const STATE_BADGE = {
  open: 'sev-warning',
  acknowledged: 'sev-info',
  explained: 'sev-info',
  closed: 'q-good',
  resolved: 'q-good',
};
/** Largest attachment the server takes, bytes (server/state/state-store.ts MAX_ATTACHMENT_BYTES). */
const MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024;
const ATTACHMENT_TYPES = ['application/pdf', 'image/png', 'image/jpeg', 'text/plain', 'text/csv'];
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

/** A finding's state: its workflow's when the server has one, else its lifecycle state (`open` when none). */
function stateOf(x) {
  if (x.workflow?.state) return x.workflow.state;
  return x.state === 'resolved' ? 'resolved' : 'open';
}

/** Lines under the state badge: who explained, the explanation and attachment, who closed and why. */
function workflowLines(x) {
  const w = x.workflow;
  if (!w) return [];
  const lines = [];
  if (w.explanation)
    lines.push(
      el(
        'div',
        { class: 'sub', 'data-field': 'explanation' },
        `${t('explainedBy', { who: w.explainedBy ?? '', at: formatTime(w.explainedAt) })}: ${w.explanation}`,
      ),
    );
  if (w.attachment)
    lines.push(
      el(
        'div',
        { class: 'sub' },
        el('a', {
          href: `/api/v1/findings/${encodeURIComponent(x.id)}/attachments/${w.attachment.sha256}`,
          'data-field': 'attachment',
          text: `${w.attachment.fileName} (${Math.ceil(w.attachment.size / 1024)} KiB, SHA-256 ${w.attachment.sha256.slice(0, 12)}…)`,
        }),
      ),
    );
  if (w.closedBy)
    lines.push(
      el('div', { class: 'sub', text: t('closedBy', { who: w.closedBy, at: formatTime(w.closedAt) }) }),
    );
  if (w.comment)
    lines.push(
      el('div', { class: 'sub', 'data-field': 'comment', text: `${t('commentLabel')}: ${w.comment}` }),
    );
  return lines;
}

/** The state cell: the state's badge, resolved with when and by which batches, the workflow's lines. */
function stateCell(x) {
  const state = stateOf(x);
  if (state !== 'resolved')
    return el(
      'td',
      { 'data-state': state },
      badge(STATE_BADGE[state] ?? 'sev-warning', t(STATES[state] ?? 'stateOpen')),
      ...workflowLines(x),
    );
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
    ...workflowLines(x),
  );
}

/** Reads a File as base64 (without the data: prefix). */
function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',')[1] ?? '');
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/**
 * The actions cell: one control per action the server allows this role on this finding. `done`
 * re-renders the page after a successful action.
 */
function actionsCell(x, done) {
  const actions = x.workflow?.actions ?? [];
  const cell = el('td', { class: 'actions', 'data-field': 'actions' });
  if (actions.length === 0) return cell;
  const status = el('div', { class: 'action-status', role: 'status' });
  const post = async (action, body) => {
    status.replaceChildren();
    try {
      await api(`/api/v1/findings/${encodeURIComponent(x.id)}/${action}`, { method: 'POST', body });
      done();
    } catch (err) {
      const key =
        err instanceof ApiError && err.code === 'MRV_E_FINDING_TRANSITION'
          ? 'transitionConflict'
          : 'actionFailed';
      status.replaceChildren(notice('error', `${t(key)} (${err.code ?? err.message})`));
    }
  };
  if (actions.includes('acknowledge'))
    cell.append(
      el('button', {
        type: 'button',
        'data-action': 'acknowledge',
        text: t('actionAcknowledge'),
        'on:click': () => post('acknowledge', {}),
      }),
    );
  if (actions.includes('explain')) {
    const text = el('textarea', {
      name: 'explanation',
      rows: '3',
      maxlength: '10000',
      required: true,
      'aria-label': t('explanationLabel'),
    });
    const file = el('input', {
      type: 'file',
      name: 'attachment',
      accept: ATTACHMENT_TYPES.join(','),
      'aria-label': t('attachmentLabel'),
    });
    cell.append(
      el(
        'form',
        {
          class: 'explain-form',
          'on:submit': async (ev) => {
            ev.preventDefault();
            const body = { text: text.value };
            const f = file.files?.[0];
            if (f) {
              if (f.size > MAX_ATTACHMENT_BYTES || !ATTACHMENT_TYPES.includes(f.type)) {
                status.replaceChildren(notice('error', t('attachmentRefused')));
                return;
              }
              body.attachment = { fileName: f.name, contentType: f.type, dataBase64: await base64Of(f) };
            }
            await post('explain', body);
          },
        },
        el('label', {}, el('span', { text: t('explanationLabel') }), text),
        el('label', {}, el('span', { text: t('attachmentLabel') }), file),
        el('button', { type: 'submit', 'data-action': 'explain', text: t('actionExplain') }),
      ),
    );
  }
  if (actions.includes('close') || actions.includes('reopen')) {
    const comment = el('input', {
      type: 'text',
      name: 'comment',
      maxlength: '10000',
      'aria-label': t('commentLabel'),
      placeholder: t('commentLabel'),
    });
    const body = () => (comment.value.trim() ? { text: comment.value } : {});
    cell.append(comment);
    for (const [action, key] of [
      ['close', 'actionClose'],
      ['reopen', 'actionReopen'],
    ])
      if (actions.includes(action))
        cell.append(
          el('button', {
            type: 'button',
            'data-action': action,
            text: t(key),
            'on:click': () => post(action, body()),
          }),
        );
  }
  cell.append(status);
  return cell;
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
    ...(list.some((x) => x.workflow) ? ['colActions'] : []),
  ];
  const rerender = () => ctx.navigate(`/units/${encodeURIComponent(unit.id)}/findings`, f, { replace: true });
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
            ...(heads.includes('colActions') ? [actionsCell(x, rerender)] : []),
          ),
        ),
      ),
    ),
  );
}
