/**
 * `mrv points export|import`: a site file's points to and from a CSV or XLSX table (issue 15 item 2),
 * for commissioning hundreds of points in a spreadsheet. CSV through csv-parse/csv-stringify (UTF-8 with
 * a byte-order mark, so spreadsheet programs show Chinese text), XLSX through exceljs (numbers stay
 * numbers, text stays text). The table logic is gateway/point-table.ts.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import ExcelJS from 'exceljs';
import { MrvError } from '../core/errors.ts';
import { applyPointTable, type Cell, exportPointTable, type PointTable } from '../gateway/point-table.ts';

/** Table formats by file extension. */
type Format = 'csv' | 'xlsx';

function formatOf(file: string | undefined, given: string | undefined): Format {
  const f = given ?? (file && extname(file).toLowerCase() === '.xlsx' ? 'xlsx' : 'csv');
  if (f !== 'csv' && f !== 'xlsx') throw new MrvError('MRV_E_CONFIG', `--format: csv or xlsx, not "${f}"`);
  return f;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new MrvError('MRV_E_CONFIG', `cannot read ${what} ${file}: ${(err as Error).message}`, { file });
  }
}

/** The table as CSV text (header row first, UTF-8 byte-order mark). */
export function tableToCsv(t: PointTable): string {
  return stringify([t.columns, ...t.rows.map((r) => r.map((c) => (c === undefined ? '' : c)))], {
    bom: true,
  });
}

/** A CSV table: the first row names the columns; empty cells are absent fields. */
export function csvToTable(text: string): PointTable {
  const records = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
  const [columns = [], ...rows] = records;
  return {
    columns: columns.map((c) => c.trim()),
    rows: rows.map((r) => r.map((c) => (c === '' ? undefined : c))),
  };
}

/** The table as an XLSX workbook with one sheet `points`. */
export async function tableToXlsx(t: PointTable): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('points');
  ws.addRow(t.columns);
  ws.getRow(1).font = { bold: true };
  for (const r of t.rows) ws.addRow(r.map((c) => (c === undefined ? null : c)));
  ws.views = [{ state: 'frozen', ySplit: 1 }];
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** The first sheet of an XLSX workbook as a table. */
export async function xlsxToTable(bytes: Buffer): Promise<PointTable> {
  const wb = new ExcelJS.Workbook();
  // exceljs' types want its own Buffer flavour; the bytes are a plain Node.js Buffer.
  await wb.xlsx.load(bytes as unknown as Parameters<typeof wb.xlsx.load>[0]);
  const ws = wb.worksheets[0];
  if (!ws) return { columns: [], rows: [] };
  const cellOf = (v: ExcelJS.CellValue): Cell => {
    if (v === null || v === undefined || v === '') return undefined;
    if (typeof v === 'number' || typeof v === 'string') return v;
    if (typeof v === 'boolean') return String(v);
    if (v instanceof Date) return v.toISOString();
    if (typeof v === 'object' && 'result' in v) return cellOf(v.result as ExcelJS.CellValue);
    if (typeof v === 'object' && 'richText' in v) return v.richText.map((r) => r.text).join('');
    if (typeof v === 'object' && 'text' in v) return String(v.text);
    return String(v);
  };
  const rows: Cell[][] = [];
  let columns: string[] = [];
  ws.eachRow({ includeEmpty: false }, (row, n) => {
    const width = Math.max(row.cellCount, columns.length);
    const cells = Array.from({ length: width }, (_, k) => cellOf(row.getCell(k + 1).value));
    if (n === 1) columns = cells.map((c) => String(c ?? '').trim());
    else rows.push(cells.slice(0, columns.length));
  });
  return { columns, rows };
}

/**
 * `mrv points export SITE.yaml [--out FILE.csv|FILE.xlsx] [--format csv|xlsx]` (CSV on stdout without
 * `--out`) and `mrv points import SITE.yaml TABLE [--out NEW.yaml]` (in place, keeping SITE.yaml.bak).
 * @returns exit code
 * @throws MrvError MRV_E_CONFIG for a bad site file or table, every problem by row and column
 */
export async function points(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values: v, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { out: { type: 'string' }, format: { type: 'string' } },
  });
  const [siteFile, tableFile] = positionals;
  if (sub === 'export') {
    if (!siteFile) throw new MrvError('MRV_E_CONFIG', 'mrv points export: give the site file');
    const table = exportPointTable(readText(siteFile, 'site file'), siteFile);
    const format = formatOf(v.out, v.format);
    if (format === 'xlsx') {
      if (!v.out) throw new MrvError('MRV_E_CONFIG', 'mrv points export --format xlsx: give --out FILE.xlsx');
      writeFileSync(v.out, await tableToXlsx(table));
    } else if (v.out) writeFileSync(v.out, tableToCsv(table));
    else process.stdout.write(tableToCsv(table));
    if (v.out) process.stdout.write(`${table.rows.length} points of ${siteFile} written to ${v.out}\n`);
    return 0;
  }
  if (sub === 'import') {
    if (!siteFile || !tableFile)
      throw new MrvError('MRV_E_CONFIG', 'mrv points import: give the site file and the table (CSV or XLSX)');
    const siteText = readText(siteFile, 'site file');
    const table =
      formatOf(tableFile, v.format) === 'xlsx'
        ? await xlsxToTable(readFileSync(tableFile))
        : csvToTable(readText(tableFile, 'table'));
    const { text, loaded } = applyPointTable(siteText, siteFile, table, tableFile);
    const out = v.out ?? siteFile;
    if (out === siteFile) copyFileSync(siteFile, `${siteFile}.bak`);
    writeFileSync(out, text);
    const n = loaded.devices.reduce((a, d) => a + d.config.points.length, 0);
    process.stdout.write(
      `${table.rows.length} rows of ${tableFile} imported; ${out} is valid (${loaded.devices.length} devices, ${n} points)${
        out === siteFile ? `; the previous file is ${siteFile}.bak` : ''
      }\n`,
    );
    return 0;
  }
  throw new MrvError('MRV_E_CONFIG', 'mrv points: export or import (mrv points --help)');
}
