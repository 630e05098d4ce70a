/**
 * Who is signed in: `GET /api/v1/session` on start, `POST` to log in, `DELETE` to log out. The session
 * itself is the server's HttpOnly cookie; this only mirrors the principal for the layout and the guards.
 */
import { ref } from 'vue';
import { api, unwrap } from './api/client.ts';
import type { paths } from './api/schema.d.ts';

/** The principal as `GET /api/v1/session` answers it. */
export type Principal = paths['/api/v1/session']['get']['responses'][200]['content']['application/json'];

/** The signed-in principal; null when signed out, undefined before the first check. */
export const principal = ref<Principal | null | undefined>(undefined);

/** Asks the server who the cookie is (null on 401). */
export async function loadSession(): Promise<Principal | null> {
  const r = await api.GET('/api/v1/session');
  principal.value = r.response.status === 401 ? null : unwrap(r);
  return principal.value;
}

/** Logs in with a username and password (or a token); throws ApiError (401, 429) on failure. */
export async function login(
  body: { username: string; password: string } | { token: string },
): Promise<Principal> {
  const p = unwrap(await api.POST('/api/v1/session', { body }));
  principal.value = p;
  return p;
}

/** Logs out (revokes the server-side session). */
export async function logout(): Promise<void> {
  await api.DELETE('/api/v1/session');
  principal.value = null;
}
