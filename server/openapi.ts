/**
 * The OpenAPI 3.1 document of the HTTP API, served at `GET /api/v1/openapi.json`.
 *
 * It is built from the routes fastify actually registered (an `onRoute` hook installed before any
 * route), with their JSON schemas (params, querystring, body, responses) and the `summary`,
 * `description` and `tags` of each route's schema, so the document cannot drift from the server; a
 * test checks it against `app.printRoutes()`. The pages' static files (`/`, `/*`, `/vendor/...`, `/app/`, `/classic/`) and
 * HEAD routes are left out.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ErrorCodes } from '../core/errors.ts';

declare module 'fastify' {
  interface FastifySchema {
    /** One line for the OpenAPI document. */
    summary?: string;
    /** More detail for the OpenAPI document. */
    description?: string;
    /** OpenAPI tags (data, auth, admin, operations, ...). */
    tags?: string[];
  }
}

/** Path of the document. */
export const OPENAPI_PATH = '/api/v1/openapi.json';

interface CollectedRoute {
  method: string;
  url: string;
  schema: Record<string, unknown>;
  public: boolean;
}

/** Paths that are the dashboard's files, not API. */
function isStaticFile(url: string): boolean {
  return (
    url === '/' ||
    url === '/*' ||
    url.startsWith('/vendor/') ||
    url.startsWith('/app/') ||
    url === '/classic' ||
    url.startsWith('/classic/') ||
    (!url.startsWith('/api/') && /\.[a-z]+$/.test(url))
  );
}

/** `/api/v1/units/:unitId` → `/api/v1/units/{unitId}`. */
export function toOpenApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parametersOf(schema: Record<string, unknown>): unknown[] {
  const out: unknown[] = [];
  for (const [where, key] of [
    ['path', 'params'],
    ['query', 'querystring'],
  ] as const) {
    const s = schema[key] as { properties?: Record<string, unknown>; required?: string[] } | undefined;
    for (const [name, prop] of Object.entries(s?.properties ?? {})) {
      const p = prop as { description?: string };
      out.push({
        name,
        in: where,
        required: where === 'path' || (s?.required ?? []).includes(name),
        ...(p.description ? { description: p.description } : {}),
        schema: prop,
      });
    }
  }
  return out;
}

function responsesOf(schema: Record<string, unknown>): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  const declared = (schema.response ?? {}) as Record<string, Record<string, unknown>>;
  for (const [status, s] of Object.entries(declared)) {
    const isText = s.type === 'string';
    responses[status] = {
      description: (s.description as string | undefined) ?? (status.startsWith('2') ? 'OK' : 'error'),
      content: { [isText ? 'text/plain' : 'application/json']: { schema: s } },
    };
  }
  if (Object.keys(responses).length === 0) responses['200'] = { description: 'OK' };
  responses.default = {
    description: 'error: `{"error": {"code", "message"}}` with a stable code',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
  return responses;
}

/**
 * Installs the route collector and the document route on `app`. Call it before registering any
 * other route (the hook only sees routes added after it).
 * @param info `title`, `version` of the document
 */
export function installOpenApi(app: FastifyInstance, info: { title: string; version: string }): void {
  const routes: CollectedRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD' || isStaticFile(route.url ?? '')) continue;
      const config = (route.config ?? {}) as { auth?: string };
      routes.push({
        method: method.toLowerCase(),
        url: route.url ?? '',
        schema: (route.schema ?? {}) as Record<string, unknown>,
        public: config.auth === 'public' || !(route.url ?? '').startsWith('/api/'),
      });
    }
  });

  let cached: Record<string, unknown> | undefined;
  const build = (): Record<string, unknown> => {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const r of routes) {
      const path = toOpenApiPath(r.url);
      const op: Record<string, unknown> = {
        operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
        ...(r.schema.summary ? { summary: r.schema.summary } : {}),
        ...(r.schema.description ? { description: r.schema.description } : {}),
        ...(r.schema.tags ? { tags: r.schema.tags } : {}),
        parameters: parametersOf(r.schema),
        responses: responsesOf(r.schema),
        security: r.public ? [] : [{ bearer: [] }, { session: [] }],
      };
      if (r.schema.body) {
        op.requestBody = { required: true, content: { 'application/json': { schema: r.schema.body } } };
      }
      paths[path] = { ...(paths[path] ?? {}), [r.method]: op };
    }
    return {
      openapi: '3.1.0',
      info: {
        title: info.title,
        version: info.version,
        description:
          'carbon-mrv public HTTP API v1 (docs/architecture.md §9). Times are ISO-8601 with offset, months are calendar months in China Standard Time (UTC+8), values are exact decimal strings. Every error answers {"error": {"code": "MRV_E_...", "message": "..."}}; match on code.',
      },
      servers: [{ url: '/' }],
      paths,
      components: {
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: {
              error: {
                type: 'object',
                required: ['code', 'message'],
                properties: {
                  code: { type: 'string', enum: Object.keys(ErrorCodes) },
                  message: { type: 'string' },
                },
              },
            },
          },
        },
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'a token from `mrv token create`' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'mrv_session',
            description:
              'a server-side session id set by POST /api/v1/session (tokens in the URL are refused)',
          },
        },
      },
    };
  };

  app.get(
    OPENAPI_PATH,
    {
      config: { auth: 'public' },
      schema: { summary: 'This OpenAPI document', tags: ['meta'] },
    },
    async () => {
      cached ??= build();
      return cached;
    },
  );
}
