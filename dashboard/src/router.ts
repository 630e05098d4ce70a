/**
 * Routes of the dashboard (hash history: the server serves one index.html at /app/ and needs no
 * fallback): login, overview, a unit, findings and the meter ledger (of a unit, or with a unit picker),
 * a unit's monthly evidence, the confirmations of a month, administration. Every page but the login
 * needs a session; without one the guard sends the browser to the login with the wanted page kept.
 */
import { createRouter, createWebHashHistory } from 'vue-router';
import { evidenceRedirect } from './lib/evidence.ts';
import { loadSession, principal } from './session.ts';

const FindingsPage = () => import('./pages/FindingsPage.vue');
const LedgerPage = () => import('./pages/LedgerPage.vue');

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    {
      path: '/login',
      name: 'login',
      component: () => import('./pages/LoginPage.vue'),
      meta: { public: true },
    },
    { path: '/', name: 'overview', component: () => import('./pages/OverviewPage.vue') },
    { path: '/units/:unitId', name: 'unit', component: () => import('./pages/UnitPage.vue'), props: true },
    { path: '/findings', name: 'findings', component: FindingsPage },
    { path: '/units/:unitId/findings', name: 'unit-findings', component: FindingsPage, props: true },
    { path: '/meters', name: 'meters', component: LedgerPage },
    { path: '/units/:unitId/meters', name: 'unit-meters', component: LedgerPage, props: true },
    { path: '/admin', name: 'admin', component: () => import('./pages/AdminPage.vue') },
    { path: '/units/:unitId/evidence', redirect: evidenceRedirect },
    {
      path: '/units/:unitId/evidence/:month',
      name: 'evidence',
      component: () => import('./pages/EvidencePage.vue'),
      props: true,
    },
    {
      path: '/confirmations',
      name: 'confirmations',
      component: () => import('./pages/ConfirmationsPage.vue'),
    },
    { path: '/:rest(.*)*', name: 'not-found', component: () => import('./pages/NotFoundPage.vue') },
  ],
});

router.beforeEach(async (to) => {
  if (principal.value === undefined) {
    try {
      await loadSession();
    } catch {
      principal.value = null;
    }
  }
  if (!to.meta.public && principal.value === null) return { name: 'login', query: { next: to.fullPath } };
  return true;
});
