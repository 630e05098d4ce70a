/**
 * `POST /api/v1/evidence/verify`: checks the Ed25519 signature of a monthly evidence package that the
 * dashboard (or anyone holding a package) sends, with `verifyEvidenceSignature` of the evidence
 * service, against the server's trusted key set only: its own evidence key (`domain.keyFile`, if it
 * exists; the route never creates it) and the keys of `domain.trustedKeys` (a trust file or folder,
 * e.g. other servers' keys). Never against the key the package carries.
 * Answers: 200 `{ok: true, keyId, owner}`; 200 `{ok: false, keyId, owner, code: "MRV_E_VERIFY", reason}`
 * (a trusted key, altered content); 200 `{ok: false, code: "MRV_E_FACTOR_PACK_UNKNOWN", reason}` (signed
 * by a trusted key, but computed with a factor pack the server does not know, evidence/factor-packs.ts:
 * the pack travels inside the package, so it is checked like `mrv verify` does); 422
 * `MRV_E_UNTRUSTED_KEY` (signed by a key the server does not
 * trust); 400 `MRV_E_BAD_PACKAGE` (no signature, keyId or value); 503 `MRV_E_NO_TRUSTED_KEYS`.
 * Stateless and read-only; it never stores what it was sent. `mrv verify` does the same offline with
 * `--trusted-keys`. Only admins and regulators (who check packages plants hand them) may call it:
 * parsing and canonicalising megabytes of JSON is the most expensive thing an authenticated request
 * can ask for, and an enterprise token has no package to check that it did not download from this
 * server. A body over {@link MAX_PACKAGE_BYTES} answers 413 `MRV_E_TOO_LARGE`.
 */
import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { MrvError } from '../core/errors.ts';
import { checkFactorPack, type KnownFactorPack, knownFactorPacks } from '../evidence/factor-packs.ts';
import {
  DEFAULT_EVIDENCE_KEY_FILE,
  loadEvidenceKey,
  loadTrustedKeys,
  type TrustedEvidenceKey,
  trustedOf,
  verifyEvidenceSignature,
} from '../evidence/service.ts';

let knownPacks: KnownFactorPack[] | undefined;
/** The shipped packs (read once: they are files of the release). */
function shippedPacks(): KnownFactorPack[] {
  knownPacks ??= knownFactorPacks();
  return knownPacks;
}

import type { ServerOptions } from './options.ts';

/**
 * Largest package accepted, bytes. Measured: the whole-month package of the demo aluminium smelter at
 * 1 s (19.4 M readings, 7 points read; `bench/evidence.ts` with BENCH_EVIDENCE_DAYS=31) is 715 524
 * bytes of JSON; 4 MiB leaves ~5× room for more points, findings and meters.
 */
export const MAX_PACKAGE_BYTES = 4 * 1024 * 1024;

/** The server's trusted evidence keys, read per request (a key created or rotated meanwhile counts). */
function serverTrust(options: Pick<ServerOptions, 'domain'>): TrustedEvidenceKey[] {
  const keyFile = options.domain?.keyFile ?? DEFAULT_EVIDENCE_KEY_FILE;
  const own = existsSync(keyFile)
    ? [trustedOf(loadEvidenceKey(keyFile, false), `this server (evidence key ${keyFile})`)]
    : [];
  const extra = options.domain?.trustedKeys ? loadTrustedKeys(options.domain.trustedKeys) : [];
  return [...own, ...extra];
}

/** Registers the verification route. */
export function registerVerifyRoute(app: FastifyInstance, options: Pick<ServerOptions, 'domain'> = {}): void {
  app.post<{ Body: unknown }>(
    '/api/v1/evidence/verify',
    {
      bodyLimit: MAX_PACKAGE_BYTES,
      config: { roles: ['admin', 'regulator'] },
      schema: {
        summary: 'Verify the signature of a monthly evidence package (sent as the JSON body)',
        tags: ['domain'],
        body: { type: 'object' },
        response: {
          200: {
            type: 'object',
            required: ['ok', 'keyId'],
            properties: {
              ok: { type: 'boolean' },
              keyId: { type: 'string' },
              owner: { type: 'string' },
              code: { type: 'string' },
              reason: { type: 'string' },
            },
          },
        },
      },
    },
    async (request) => {
      const verdict = verifyEvidenceSignature(request.body, serverTrust(options));
      if (verdict.code === 'MRV_E_UNTRUSTED_KEY' || verdict.code === 'MRV_E_BAD_PACKAGE')
        throw new MrvError(verdict.code, verdict.reason ?? verdict.code, { keyId: verdict.keyId });
      if (!verdict.ok) return verdict;
      const pkg = request.body as {
        inputs?: { factorPack?: unknown };
        emissions?: { factorPack?: { digest?: unknown } };
      };
      const recorded = pkg.emissions?.factorPack?.digest;
      const pack = checkFactorPack(
        (pkg.inputs?.factorPack ?? null) as Parameters<typeof checkFactorPack>[0],
        typeof recorded === 'string' ? recorded : undefined,
        shippedPacks(),
      );
      return pack.ok ? verdict : { ...verdict, ok: false, code: pack.code, reason: pack.reason };
    },
  );
}
