// Login with a username and password (an account of the server's state database, mrv user add) or
// with an access token: POST /api/v1/session sets the HttpOnly session cookie that every later request
// (and the live stream) carries. `#/login?token=...` (the link the demo prints) logs in at once and
// removes the token from the address bar.
import { t } from '../i18n.js';
import { ApiError, api, el, notice } from '../lib.js';

/** Renders the login forms: account first (people), token second (machines, the demo link). */
export async function render(view, _params, ctx) {
  const next = ctx.query.get('next') ?? '';
  const status = el('div', { class: 'login-status' });
  const submit = async (body, failedKey) => {
    status.replaceChildren();
    try {
      await api('/api/v1/session', { method: 'POST', body, noRedirect: true });
      await ctx.onLogin(next);
    } catch (err) {
      const limited = err instanceof ApiError && err.code === 'MRV_E_RATE_LIMITED';
      status.replaceChildren(notice('error', limited ? t('rateLimited') : t(failedKey)));
    }
  };

  const username = el('input', {
    id: 'username',
    name: 'username',
    type: 'text',
    autocomplete: 'username',
    required: true,
    spellcheck: 'false',
    maxlength: '64',
  });
  const password = el('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    maxlength: '1024',
  });
  const accountForm = el(
    'form',
    {
      class: 'account-login',
      id: 'account-login',
      'on:submit': (ev) => {
        ev.preventDefault();
        submit({ username: username.value.trim(), password: password.value }, 'passwordLoginFailed');
      },
    },
    el('label', { for: 'username', text: t('usernameLabel') }),
    username,
    el('label', { for: 'password', text: t('passwordLabel') }),
    password,
    el('button', { type: 'submit', class: 'primary', text: t('loginButton') }),
  );

  const input = el('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    required: true,
    spellcheck: 'false',
    placeholder: 'mrv_…',
  });
  const tokenForm = el(
    'form',
    {
      class: 'login',
      id: 'token-login',
      'on:submit': (ev) => {
        ev.preventDefault();
        submit({ token: input.value.trim() }, 'loginFailed');
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
      el('p', { class: 'hint', text: t('accountLoginIntro') }),
      accountForm,
      el('h3', { text: t('tokenLoginHeading') }),
      el('p', { class: 'hint', text: t('loginIntro') }),
      tokenForm,
      status,
    ),
  );
  const fromLink = ctx.query.get('token');
  if (fromLink) {
    // Do not leave the token in the address bar or the history.
    history.replaceState(null, '', `#/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
    await submit({ token: fromLink }, 'loginFailed');
  } else username.focus();
}
