/**
 * The error answer of the HTTP API: every non-2xx body is
 * `{"error": {"code": "MRV_E_...", "message": "..."}}` with the HTTP status of the code in the
 * `core/errors.ts` catalogue (docs/architecture.md §10 rule 5). Clients match on `code`, never on `message`.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { type ErrorCode, ErrorCodes, MrvError } from '../core/errors.ts';

/**
 * Code of an unexpected failure (a bug, not a store or request problem). It is not in the
 * `core/errors.ts` catalogue yet; the server answers it only for errors nobody classified.
 */
export const INTERNAL_ERROR_CODE = 'MRV_E_INTERNAL';

/** The body of every error answer. */
export interface ErrorBody {
  error: { code: ErrorCode | typeof INTERNAL_ERROR_CODE; message: string };
}

function errorBody(code: ErrorBody['error']['code'], message: string): ErrorBody {
  return { error: { code, message } };
}

/**
 * Runs a store call, turning a failure that is not already an {@link MrvError} into
 * `MRV_E_STORE` (503) with the original error as `cause`.
 * @param what the operation, for the message ("list units")
 */
export async function fromStore<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof MrvError) throw err;
    throw new MrvError('MRV_E_STORE', `store failed to ${what}`, undefined, { cause: err });
  }
}

/**
 * Installs the error and not-found handlers on `app`:
 * - {@link MrvError} → its catalogue status and code (5xx logged at error level);
 * - fastify schema validation errors and other client errors (4xx) → 400 `MRV_E_BAD_REQUEST`, with
 *   fastify's message (e.g. `querystring/limit must be >= 1`); a 404 from a plugin → `MRV_E_NOT_FOUND`;
 *   a body over the route's limit (fastify's 413) → 413 `MRV_E_TOO_LARGE`;
 * - unknown routes and static files → 404 `MRV_E_NOT_FOUND`;
 * - anything else → 500 {@link INTERNAL_ERROR_CODE} with a generic message, the error logged.
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | MrvError, request, reply) => {
    if (err instanceof MrvError) {
      if (err.httpStatus >= 500) request.log.error({ err }, err.message);
      return reply.code(err.httpStatus).send(errorBody(err.code, err.message));
    }
    const status = err.validation ? 400 : (err.statusCode ?? 500);
    if (status === 404) {
      return reply.code(ErrorCodes.MRV_E_NOT_FOUND.http).send(errorBody('MRV_E_NOT_FOUND', err.message));
    }
    if (status === 413) {
      return reply.code(ErrorCodes.MRV_E_TOO_LARGE.http).send(errorBody('MRV_E_TOO_LARGE', err.message));
    }
    if (status >= 400 && status < 500) {
      return reply.code(ErrorCodes.MRV_E_BAD_REQUEST.http).send(errorBody('MRV_E_BAD_REQUEST', err.message));
    }
    request.log.error({ err }, 'unexpected error');
    return reply.code(500).send(errorBody(INTERNAL_ERROR_CODE, 'internal server error'));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    reply
      .code(ErrorCodes.MRV_E_NOT_FOUND.http)
      .send(errorBody('MRV_E_NOT_FOUND', `no route or file for ${request.method} ${path}`));
  });
}
