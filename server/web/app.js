// carbon-mrv dashboard (docs/architecture.md §8): a plain-ES-module single page with a hash router, no build
// step. Pages live in ./pages/, each exporting `render(view, params, ctx)` that fills `view` and
// returns an optional cleanup function (close the live stream, stop timers).
//
// Routes (the state a page needs is in the hash, so a reload, a shared link or a language switch
// shows the same view):
//   #/login[?token=]            log in with an access token (the demo prints a link with its token)
//   #/                          overview of the units in the token's scope
//   #/units/{id}[?point=&range=] live trends of a unit's points
//   #/units/{id}/meters         meters and their verification/calibration
//   #/units/{id}/evidence[/{yyyy-mm}]  monthly evidence list and detail
//   #/units/{id}/findings[?from=&to=&severity=&source=&q=]  findings with filters
//   #/admin                     tokens and running configuration (admin)
import { currentLang, onLangChange, setLang, t } from './i18n.js';
import { ApiError, api, el, setUnauthorizedHandler } from './lib.js';

const ROUTES = [
  { re: /^\/login$/, page: 'login', public: true },
  { re: /^\/$/, page: 'overview' },
  { re: /^\/units\/([^/]+)$/, page: 'unit', keys: ['unitId'] },
  { re: /^\/units\/([^/]+)\/meters$/, page: 'meters', keys: ['unitId'] },
  { re: /^\/units\/([^/]+)\/evidence$/, page: 'evidence', keys: ['unitId'] },
  { re: /^\/units\/([^/]+)\/evidence\/(\d{4}-\d{2})$/, page: 'evidence', keys: ['unitId', 'month'] },
  { re: /^\/units\/([^/]+)\/findings$/, page: 'findings', keys: ['unitId'] },
  { re: /^\/admin$/, page: 'admin' },
];

const state = { session: null, cleanup: null, renderSeq: 0, liveState: 'idle' };
const $ = (id) => document.getElementById(id);

/** The current route: path, query parameters and matched route. */
function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  for (const r of ROUTES) {
    const m = r.re.exec(path);
    if (m) {
      const params = {};
      (r.keys ?? []).forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1]);
      });
      return { path, query, route: r, params };
    }
  }
  return { path, query, route: null, params: {} };
}

/** Navigates to `#path?query` (query: object of strings; empty values dropped). */
export function navigate(path, query = {}, { replace = false } = {}) {
  const qs = new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ''),
  );
  const hash = `#${path}${qs.size ? `?${qs}` : ''}`;
  if (replace) {
    history.replaceState(null, '', hash);
    render();
  } else location.hash = hash;
}

function roleText(role) {
  return t(`role${role[0].toUpperCase()}${role.slice(1)}`);
}

function renderChrome() {
  document.documentElement.lang = currentLang();
  document.title = `${t('title')} carbon-mrv`;
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const btn of document.querySelectorAll('[data-lang]')) {
    btn.setAttribute('aria-pressed', String(btn.dataset.lang === currentLang()));
  }
  const nav = $('nav');
  nav.replaceChildren();
  const user = $('user');
  user.replaceChildren();
  const s = state.session;
  if (!s) return;
  nav.append(el('a', { href: '#/', 'data-nav': 'overview', text: t('navOverview') }));
  if (s.role === 'admin' && s.authEnabled)
    nav.append(el('a', { href: '#/admin', 'data-nav': 'admin', text: t('navAdmin') }));
  const scope = [...s.scope.provinces, ...s.scope.units].join(', ') || t('scopeAll');
  user.append(
    el('span', {
      class: 'role',
      'data-role': s.role,
      title: `${s.name} · ${scope}`,
      text: `${roleText(s.role)} · ${scope}`,
    }),
  );
  if (s.authEnabled) {
    user.append(
      el('button', {
        type: 'button',
        class: 'logout',
        text: t('logout'),
        'on:click': async () => {
          await api('/api/v1/session', { method: 'DELETE', noRedirect: true }).catch(() => {});
          state.session = null;
          navigate('/login');
        },
      }),
    );
  }
}

/** Shows the live-connection line of the header (`idle` hides it). */
function setLiveState(s) {
  state.liveState = s;
  const line = $('live-status');
  line.dataset.state = s;
  line.hidden = s === 'idle';
  line.textContent = s === 'idle' ? '' : t(s);
}

async function loadSession() {
  try {
    state.session = await api('/api/v1/session', { noRedirect: true });
  } catch (err) {
    if (!(err instanceof ApiError && (err.status === 401 || err.status === 429))) throw err;
    state.session = null;
  }
}

/** Renders the page of the current hash (again). */
async function render() {
  const seq = ++state.renderSeq;
  state.cleanup?.();
  state.cleanup = null;
  setLiveState('idle');
  const view = $('view');
  const { route, params, query, path } = parseHash();
  if (!route) {
    navigate('/', {}, { replace: true });
    return;
  }
  if (!route.public && !state.session) {
    navigate('/login', { next: path === '/' ? undefined : location.hash.slice(1) }, { replace: true });
    return;
  }
  renderChrome();
  for (const a of document.querySelectorAll('#nav a')) {
    a.setAttribute(
      'aria-current',
      String(a.dataset.nav === route.page || (route.page !== 'admin' && a.dataset.nav === 'overview')),
    );
  }
  view.dataset.page = route.page;
  const mod = await import(`./pages/${route.page}.js`);
  if (seq !== state.renderSeq) return;
  view.replaceChildren();
  const ctx = {
    session: state.session,
    query,
    navigate,
    setLiveState,
    onLogin: async (next) => {
      await loadSession();
      navigate(
        next?.startsWith('/') ? next.split('?')[0] : '/',
        Object.fromEntries(new URLSearchParams(next?.split('?')[1] ?? '')),
      );
    },
  };
  try {
    const cleanup = await mod.render(view, params, ctx);
    if (seq !== state.renderSeq) cleanup?.();
    else state.cleanup = cleanup ?? null;
  } catch (err) {
    console.error(err);
    if (seq === state.renderSeq) {
      const { errorNotice } = await import('./lib.js');
      view.replaceChildren(errorNotice(err));
    }
  }
}

async function start() {
  for (const btn of document.querySelectorAll('[data-lang]')) {
    btn.addEventListener('click', () => setLang(btn.dataset.lang));
  }
  onLangChange(() => render());
  setUnauthorizedHandler(() => {
    state.session = null;
    if (!location.hash.startsWith('#/login')) navigate('/login', { next: location.hash.slice(1) });
  });
  window.addEventListener('hashchange', () => render());
  await loadSession().catch((err) => console.error(err));
  await render();
}

start();
