/**
 * `mrv factors [FILE]`: what a verifier pins (issue 18 item 6). Prints a factor pack's id, version,
 * GWP set and digest (SHA-256 of its canonical JSON, evidence/factor-packs.ts), then one line per factor
 * and GWP value with its unit, standing (confirmed with its clause, or unconfirmed) and source.
 * Without FILE: the shipped pack. `--digest` prints the digest alone. Exit 0, or 1 on a bad file.
 */
import { resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { FACTOR_PACK_DIR, factorPackDigest, readFactorPackFile } from '../evidence/factor-packs.ts';
import { DEFAULT_FACTOR_PACK } from '../evidence/service.ts';

/** `mrv factors [FILE] [--digest]`. Resolves with the exit code. */
export async function factorsCommand(args: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { digest: { type: 'boolean' } },
  });
  const file = positionals[0] ?? DEFAULT_FACTOR_PACK;
  // Packs shipped before the clause rule (history/) are read as they were made.
  const legacy = resolve(file).startsWith(resolve(FACTOR_PACK_DIR, 'history') + sep);
  const pack = readFactorPackFile(file, { legacy });
  const digest = factorPackDigest(pack);
  if (v.digest) {
    process.stdout.write(`${digest}\n`);
    return 0;
  }
  const rows = [
    ...Object.entries(pack.factors),
    ...Object.entries(pack.gwpSets).flatMap(([set, gases]) =>
      Object.entries(gases).map(([gas, f]) => [`gwp.${set}.${gas}`, f] as const),
    ),
  ];
  const unconfirmed = rows.filter(([, f]) => !f.confirmed).length;
  process.stdout.write(
    `${file}\n${pack.id}@${pack.packVersion}  GWP ${pack.gwpSet}  sha256 ${digest}\n` +
      `${rows.length} values, ${unconfirmed} unconfirmed (named in every package that uses them)\n\n`,
  );
  for (const [id, f] of rows)
    process.stdout.write(
      `${id}\t${f.value} ${f.unit}\t${f.confirmed ? `confirmed: ${f.clause}` : 'unconfirmed'}\t${f.source}\n`,
    );
  return 0;
}
