/**
 * `POST /api/v1/evidence/verify`: checks the Ed25519 signature of a monthly evidence package that the
 * dashboard (or anyone holding a package) sends, with `verifyEvidenceSignature` of the evidence
 * service: against the public key the package carries, or against `?trustedKey=` (base64 SPKI DER).
 * Stateless and read-only, so every role may call it; it answers `{ok, keyId, reason?}` and never
 * stores what it was sent. `mrv verify` does the same offline.
 */
import type { FastifyInstance } from 'fastify';
import type { EvidencePackage } from '../core/domain/index.ts';
import { verifyEvidenceSignature } from './evidence-service.ts';

/** Largest package accepted, bytes (a month of a big plant's evidence with its inputs). */
export const MAX_PACKAGE_BYTES = 32 * 1024 * 1024;

/** Registers the verification route. */
export function registerVerifyRoute(app: FastifyInstance): void {
  app.post<{ Body: EvidencePackage; Querystring: { trustedKey?: string } }>(
    '/api/v1/evidence/verify',
    {
      bodyLimit: MAX_PACKAGE_BYTES,
      config: { roles: ['admin', 'regulator', 'enterprise'] },
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
