/**
 * Factor packs a verifier can pin (issue 18 item 6): a pack is identified by its digest, the SHA-256
 * of its canonical JSON (core/schema/canonical.ts) after validation, so the same values give the same
 * digest whatever the YAML's layout. Every evidence package records the digest of the pack it was
 * computed with (`emissions.factorPack.digest`) and carries the pack itself (`inputs.factorPack`);
 * `mrv verify` accepts a package only when that pack is one it knows: the packs shipped in
 * `core/domain/factors/` (and `history/` for the ones shipped before), or files the verifier names
 * (`--factor-pack FILE`). A package recomputed with a pack of its own (a CF4 slope of 0.043 for 0.143)
 * would otherwise verify, because the pack travels inside it.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type FactorPack, parseFactorPack } from '../core/domain/factors.ts';
import { MrvError } from '../core/errors.ts';
import { canonicalJson } from '../core/schema/canonical.ts';

/** The folder of the shipped factor packs. */
export const FACTOR_PACK_DIR = fileURLToPath(new URL('../core/domain/factors/', import.meta.url));

/** SHA-256 (hex) of a pack's canonical JSON: the pack's identity. */
export function factorPackDigest(pack: FactorPack): string {
  return createHash('sha256').update(canonicalJson(pack), 'utf8').digest('hex');
}

/** A pack a verifier knows, with where it came from. */
export interface KnownFactorPack {
  digest: string;
  id: string;
  packVersion: string;
  file: string;
}

/**
 * Reads and validates a factor pack file (`legacy`: a pack of `history/`, core/domain/factors.ts).
 * @throws MrvError `MRV_E_CONFIG` naming the file (unreadable, not YAML, or not a valid pack)
 */
export function readFactorPackFile(file: string, o: { legacy?: boolean } = {}): FactorPack {
  try {
    return parseFactorPack(parse(readFileSync(file, 'utf8')), file, o);
  } catch (err) {
    // parseFactorPack's message starts with the file; a read error's does not.
    const m = (err as Error).message;
    throw new MrvError('MRV_E_CONFIG', m.startsWith(file) ? m : `factor pack ${file}: ${m}`, { file });
  }
}

/**
 * The packs a verifier knows: every `*.yaml` of {@link FACTOR_PACK_DIR} and its `history/`, plus
 * `extraFiles`.
 * @throws MrvError `MRV_E_CONFIG` when one of them is not a valid pack
 */
export function knownFactorPacks(extraFiles: readonly string[] = []): KnownFactorPack[] {
  const shipped = ['', 'history'].flatMap((sub) => {
    const dir = join(FACTOR_PACK_DIR, sub);
    try {
      return readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
        .map((f) => ({ file: join(dir, f), legacy: sub === 'history' }));
    } catch {
      return [];
    }
  });
  return [...shipped, ...extraFiles.map((file) => ({ file, legacy: false }))].map(({ file, legacy }) => {
    const pack = readFactorPackFile(file, { legacy });
    return { digest: factorPackDigest(pack), id: pack.id, packVersion: pack.packVersion, file };
  });
}

/** Outcome of {@link checkFactorPack}. */
export type FactorPackCheck =
  | { ok: true; digest: string; known: KnownFactorPack }
  | { ok: false; digest: string; code: 'MRV_E_FACTOR_PACK_UNKNOWN'; reason: string };

/**
 * Checks a package's embedded pack against the known packs: its digest must be one of theirs, and
 * equal the digest the package records (when it records one).
 */
export function checkFactorPack(
  pack: FactorPack,
  recorded: string | undefined,
  known: readonly KnownFactorPack[],
): FactorPackCheck {
  const digest = factorPackDigest(pack);
  if (recorded !== undefined && recorded !== digest)
    return {
      ok: false,
      digest,
      code: 'MRV_E_FACTOR_PACK_UNKNOWN',
      reason: `the package records factor pack digest ${recorded} but carries a pack whose digest is ${digest}`,
    };
  const hit = known.find((k) => k.digest === digest);
  if (!hit)
    return {
      ok: false,
      digest,
      code: 'MRV_E_FACTOR_PACK_UNKNOWN',
      reason: `factor pack ${pack.id}@${pack.packVersion} (sha256 ${digest}) is none of the ${known.length} packs this verifier knows (${known
        .map((k) => `${k.id}@${k.packVersion}`)
        .join(', ')}); give it with --factor-pack FILE if you accept it`,
    };
  return { ok: true, digest, known: hit };
}
