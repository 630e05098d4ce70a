/**
 * Who did something, as the audit log and the workflow name them (`account:<username>`,
 * `token:<id>`, `cli:<os user>`, `server:site-file`; server/state/state-store.ts `actorOf`,
 * meter-ledger.ts `SEED_ACTOR`), for people: the username of an account, "token 1a2b3c4d",
 * "command line root", "the server (site file)".
 */
export function actorLabel(
  t: (key: string, named?: Record<string, unknown>) => string,
  actor: string | null | undefined,
): string {
  if (!actor) return '—';
  const at = actor.indexOf(':');
  const kind = at > 0 ? actor.slice(0, at) : '';
  const id = at > 0 ? actor.slice(at + 1) : actor;
  if (kind === 'token') return t('findings.actor.token', { id });
  if (kind === 'cli') return t('findings.actor.cli', { id });
  if (kind === 'server') return t('findings.actor.server');
  return id;
}
