// Login with an access token: POST /api/v1/session sets the HttpOnly session cookie that every later
// request (and the live stream) carries. `#/login?token=...` (the link the demo prints) logs in at once
// and removes the token from the address bar.
import { t } from '../i18n.js';
import { ApiError, api, el, notice } from '../lib.js';

/** Renders the login form. */
export async function render(view, _params, ctx) {
  const next = ctx.query.get('next') ?? '';
  const input = el('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    spellcheck: 'false',
    placeholder: 'mrv_…',
  });
  const status = el('div', { class: 'login-status' });
  const submit = async (token) => {
    status.replaceChildren();
    try {
      await api('/api/v1/session', { method: 'POST', body: { token }, noRedirect: true });
      await ctx.onLogin(next);
    } catch (err) {
      const limited = err instanceof ApiError && err.code === 'MRV_E_RATE_LIMITED';
      status.replaceChildren(notice('error', limited ? t('rateLimited') : t('loginFailed')));
    }
  };
  const form = el(
    'form',
    {
      class: 'login',
      'on:submit': (ev) => {
        ev.preventDefault();
        submit(input.value.trim());
      },
    },
    el('label', { for: 'token', text: t('tokenLabel') }),
    input,
    el('button', { type: 'submit', class: 'primary', text: t('loginButton') }),
  );
  view.append(
    el(
      'section',
      { class: 'panel narrow', 'aria-labelledby': 'login-heading' },
      el('h2', { id: 'login-heading', text: t('loginHeading') }),
      el('p', { class: 'hint', text: t('loginIntro') }),
      form,
      status,
    ),
  );
  const fromLink = ctx.query.get('token');
  if (fromLink) {
    // Do not leave the token in the address bar or the history.
    history.replaceState(null, '', `#/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
    await submit(fromLink);
  } else input.focus();
}
