/**
 * The typed API client: openapi-fetch over `paths` generated from the server's OpenAPI document
 * (`schema.d.ts`, scripts/openapi-schema.ts). Same origin, session cookie; {@link ApiError} carries
 * the server's `{error: {code, message}}`.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './schema.d.ts';

/** The client; paths, parameters and the routes with response schemas are typed. */
export const api = createClient<paths>({ baseUrl: '/', credentials: 'same-origin' });

/** An error answer of the API. */
export class ApiError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The catalogue code (`MRV_E_...`), or `MRV_E_NETWORK` when no answer came. */
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

type ErrorBody = components['schemas']['Error'];

/** The data of an openapi-fetch result, or throws {@link ApiError} with the server's code and message. */
export function unwrap<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (r.error !== undefined || !r.response.ok) {
    const e = r.error as Partial<ErrorBody> | undefined;
    throw new ApiError(
      r.response.status,
      e?.error?.code ?? `HTTP_${r.response.status}`,
      e?.error?.message ?? r.response.statusText,
    );
  }
  return r.data as T;
}
