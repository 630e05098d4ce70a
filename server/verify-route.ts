/**
 * `POST /api/v1/evidence/verify`: checks the Ed25519 signature of a monthly evidence package that the
 * dashboard (or anyone holding a package) sends, with `verifyEvidenceSignature` of the evidence
 * service: against the public key the package carries, or against `?trustedKey=` (base64 SPKI DER).
 * Stateless and read-only; it answers `{ok, keyId, reason?}` and never stores what it was sent.
 * `mrv verify` does the same offline. Only admins and regulators (who check packages plants hand
 * them) may call it: parsing and canonicalising megabytes of JSON is the most expensive thing an
 * authenticated request can ask for, and an enterprise token has no package to check that it did not
 * download from this server. A body over {@link MAX_PACKAGE_BYTES} answers 413 `MRV_E_TOO_LARGE`.
 */
import type { FastifyInstance } from 'fastify';
import type { EvidencePackage } from '../core/domain/index.ts';
import { verifyEvidenceSignature } from './evidence-service.ts';

/**
 * Largest package accepted, bytes. Measured: the whole-month package of the demo aluminium smelter at
 * 1 s (19.4 M readings, 7 points read; `bench/evidence.ts` with BENCH_EVIDENCE_DAYS=31) is 715 524
 * bytes of JSON; 4 MiB leaves ~5× room for more points, findings and meters.
 */
export const MAX_PACKAGE_BYTES = 4 * 1024 * 1024;

/** Registers the verification route. */
export function registerVerifyRoute(app: FastifyInstance): void {
  app.post<{ Body: EvidencePackage; Querystring: { trustedKey?: string } }>(
    '/api/v1/evidence/verify',
    {
      bodyLimit: MAX_PACKAGE_BYTES,
      config: { roles: ['admin', 'regulator'] },
      schema: {
        summary: 'Verify the signature of a monthly evidence package (sent as the JSON body)',
        tags: ['domain'],
        querystring: {
          type: 'object',
          properties: {
            trustedKey: { type: 'string', maxLength: 400, description: 'base64 SPKI DER public key' },
          },
        },
        body: { type: 'object', required: ['signature'], properties: { signature: { type: 'object' } } },
        response: {
          200: {
            type: 'object',
            required: ['ok', 'keyId'],
            properties: { ok: { type: 'boolean' }, keyId: { type: 'string' }, reason: { type: 'string' } },
          },
        },
      },
    },
    async (request) => verifyEvidenceSignature(request.body, request.query.trustedKey),
  );
}
