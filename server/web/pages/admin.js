// Configuration views for administrators: the tokens in the token file (never the tokens
// themselves), the accounts of the state database (mrv user) and how this server runs.
// Data: GET /api/v1/admin/tokens, GET /api/v1/admin/accounts, GET /api/v1/admin/config.
import { t } from '../i18n.js';
import { api, badge, el, errorNotice, notice, timeEl } from '../lib.js';
import { dataTable } from './common.js';

/** Renders the admin page. */
export async function render(view, _params, ctx) {
  const section = el(
    'section',
    { class: 'panel', 'aria-labelledby': 'admin-heading' },
    el('h2', { id: 'admin-heading', text: t('adminHeading') }),
  );
  view.append(section);
  if (ctx.session?.role !== 'admin') {
    section.append(notice('forbidden', t('forbidden')));
    return;
  }
  try {
    const [tokens, accounts, config] = await Promise.all([
      api('/api/v1/admin/tokens'),
      api('/api/v1/admin/accounts'),
      api('/api/v1/admin/config'),
    ]);
    const roleText = (role) => t(`role${role[0].toUpperCase()}${role.slice(1)}`);
    const heads = ['colTokenId', 'colName', 'colRole', 'colScope', 'colCreated', 'colState'];
    section.append(
      el('h3', { text: t('tokensHeading') }),
      dataTable(
        { id: 'tokens-table' },
        undefined,
        heads,
        el(
          'tbody',
          {},
          ...tokens.map((tok) =>
            el(
              'tr',
              { 'data-token-id': tok.id },
              el('td', { class: 'mono', text: tok.id }),
              el('td', { text: tok.name }),
              el('td', { text: t(`role${tok.role[0].toUpperCase()}${tok.role.slice(1)}`) }),
              el('td', { text: [...tok.scope.provinces, ...tok.scope.units].join(', ') || t('scopeAll') }),
              el('td', {}, timeEl(tok.createdAt)),
              el('td', {}, tok.revokedAt ? badge('offline', t('revoked')) : badge('online', t('active'))),
            ),
          ),
        ),
      ),
      el('h3', { text: t('accountsHeading') }),
      accounts.length === 0
        ? notice('empty', t('noAccounts'))
        : dataTable(
            { id: 'accounts-table' },
            undefined,
            ['colUsername', 'colName', 'colRole', 'colScope', 'colCreated', 'colState'],
            el(
              'tbody',
              {},
              ...accounts.map((a) =>
                el(
                  'tr',
                  { 'data-username': a.username },
                  el('td', { class: 'mono', text: a.username }),
                  el('td', { text: a.displayName }),
                  el('td', { text: roleText(a.role) }),
                  el('td', { text: [...a.scope.provinces, ...a.scope.units].join(', ') || t('scopeAll') }),
                  el('td', {}, timeEl(a.createdAt)),
                  el('td', {}, a.disabledAt ? badge('offline', t('disabled')) : badge('online', t('active'))),
                ),
              ),
            ),
          ),
      el('h3', { text: t('configHeading') }),
      el(
        'dl',
        { class: 'facts', id: 'config' },
        ...Object.entries(config).flatMap(([k, v]) => [
          el('dt', { text: k }),
          el('dd', { class: 'mono', text: typeof v === 'object' ? JSON.stringify(v) : String(v) }),
        ]),
      ),
    );
  } catch (err) {
    section.append(errorNotice(err));
  }
}
