/**
 * A site file's points as a table (issue 15 item 2), for `mrv points export|import` to CSV or XLSX:
 * one row per point, the first columns `device` and `id`, then every point field any point uses, in a
 * fixed order. Import replaces the points of the devices the table names and validates the whole site
 * again; every problem is reported by row and column of the table. This module knows no file format:
 * cli/points.ts reads and writes CSV (csv-parse, csv-stringify) and XLSX (exceljs).
 */
import { isMap, isSeq, parseDocument } from 'yaml';
import { MrvError } from '../core/errors.ts';
import { type LoadedSite, parseSiteConfig } from './config.ts';

/** One cell: text, a number, or empty. */
export type Cell = string | number | undefined;

/** A point table: column names and rows of cells in that order. */
export interface PointTable {
  columns: string[];
  rows: Cell[][];
}

/** The order of the usual point fields; others follow in alphabetical order. */
const COLUMN_ORDER = [
  'device',
  'id',
  'table',
  'address',
  'type',
  'order',
  'bit',
  'count',
  'encoding',
  'nodeId',
  'scale',
  'offset',
  'decimals',
  'pollIntervalMs',
  'samplingIntervalMs',
  'queueSize',
  'deadband',
  'unit',
  'meter',
  'parameter',
  'aggregation',
  'sign',
  'ticketPoint',
  'description',
];

/** Point fields that are whole numbers in a site file. */
const INTEGER_FIELDS = new Set([
  'address',
  'bit',
  'count',
  'decimals',
  'pollIntervalMs',
  'samplingIntervalMs',
  'queueSize',
]);
/** Point fields that are decimals (a number, or a string that keeps every digit). */
const DECIMAL_FIELDS = new Set(['scale', 'offset']);

/**
 * The points of a site file as a table, as written (a string scale stays a string; template devices
 * as expanded — their rows cannot be imported back, see {@link applyPointTable}).
 * @throws MrvError MRV_E_CONFIG when the site file is not valid (parseSiteConfig)
 */
export function exportPointTable(siteText: string, siteFile: string): PointTable {
  const loaded = parseSiteConfig(siteText, siteFile);
  const text = new Map<string, Record<string, unknown>[]>();
  const doc = parseDocument(siteText);
  const raw = doc.toJS() as {
    devices?: { id?: string; template?: unknown; points?: Record<string, unknown>[] }[];
  };
  for (const d of raw.devices ?? [])
    if (d.id !== undefined && d.template === undefined) text.set(d.id, d.points ?? []);
  const points: { device: string; fields: Record<string, unknown> }[] = [];
  for (const d of loaded.devices) {
    // Written points as written (a string scale stays a string); template devices as expanded.
    const written = text.get(d.id);
    for (const [j, p] of d.config.points.entries())
      points.push({ device: d.id, fields: written?.[j] ?? (p as Record<string, unknown>) });
  }
  const used = new Set<string>(['device', 'id']);
  for (const p of points) for (const k of Object.keys(p.fields)) if (k !== 'device') used.add(k);
  const columns = [
    ...COLUMN_ORDER.filter((c) => used.has(c)),
    ...[...used].filter((c) => !COLUMN_ORDER.includes(c)).sort(),
  ];
  const rows = points.map((p) =>
    columns.map((c): Cell => {
      if (c === 'device') return p.device;
      const v = p.fields[c];
      if (v === undefined || v === null) return undefined;
      if (typeof v === 'number' || typeof v === 'string') return v;
      return JSON.stringify(v);
    }),
  );
  return { columns, rows };
}

/** A cell's value in a site file: numbers for whole-number fields, JSON for objects, else the text. */
function cellValue(column: string, cell: Cell): unknown {
  // `unit` is required and may be empty (a status bit has none): an empty cell is "" there.
  if (cell === undefined || cell === '') return column === 'unit' ? '' : undefined;
  if (typeof cell === 'number') return cell;
  const t = cell.trim();
  if (INTEGER_FIELDS.has(column) && /^-?\d+$/.test(t)) return Number(t);
  // A decimal from text stays text: a string keeps every digit (an XLSX number cell stays a number).
  if (DECIMAL_FIELDS.has(column)) return t;
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.parse(t);
    } catch {
      return t; // the schema says what is wrong with it
    }
  }
  return cell;
}

/**
 * Replaces the points of every device the table names by the table's rows, in the site text, keeping
 * the rest of the file (comments, other devices) as it is, and validates the result as a whole.
 * @param tableName the table's file name, for messages
 * @returns the new site text and the loaded site
 * @throws MrvError MRV_E_CONFIG listing every problem as `TABLE row R column C (field): message`; rows
 *   are numbered as a spreadsheet shows them (the header is row 1)
 */
export function applyPointTable(
  siteText: string,
  siteFile: string,
  table: PointTable,
  tableName: string,
): { text: string; loaded: LoadedSite } {
  const problems: string[] = [];
  const colOf = (name: string) => table.columns.indexOf(name);
  const cellRef = (row: number, column: string) => {
    const c = colOf(column);
    return `${tableName} row ${row + 2} column ${c >= 0 ? columnLetter(c) : '?'} (${column})`;
  };
  for (const required of ['device', 'id'])
    if (colOf(required) < 0) problems.push(`${tableName} row 1: no "${required}" column`);
  if (problems.length > 0) throw tableError(tableName, problems);
  const doc = parseDocument(siteText);
  const devices = doc.get('devices', true);
  if (!isSeq(devices)) throw tableError(tableName, [`${siteFile}: no devices[] to import into`]);
  const deviceIndex = new Map<string, number>();
  devices.items.forEach((d, i) => {
    if (isMap(d)) deviceIndex.set(String(d.get('id')), i);
  });
  // Where each imported point came from: device index → its rows, in order.
  const rowsOf = new Map<number, number[]>();
  table.rows.forEach((row, r) => {
    const device = row[colOf('device')];
    if (device === undefined || device === '') {
      problems.push(`${cellRef(r, 'device')}: empty; every row names its device`);
      return;
    }
    const i = deviceIndex.get(String(device));
    if (i === undefined) {
      problems.push(
        `${cellRef(r, 'device')}: no device "${device}" in ${siteFile} (devices: ${[...deviceIndex.keys()].join(', ')})`,
      );
      return;
    }
    const node = devices.items[i];
    if (isMap(node) && node.get('template') !== undefined) {
      problems.push(
        `${cellRef(r, 'device')}: device "${device}" is made from template "${String(node.get('template'))}"; change the template instead`,
      );
      return;
    }
    rowsOf.set(i, [...(rowsOf.get(i) ?? []), r]);
  });
  for (const [i, rows] of rowsOf) {
    const points = rows.map((r) => {
      const p: Record<string, unknown> = {};
      table.columns.forEach((c, k) => {
        if (c === 'device') return;
        const v = cellValue(c, table.rows[r]?.[k]);
        if (v !== undefined) p[c] = v;
      });
      return p;
    });
    doc.setIn(['devices', i, 'points'], doc.createNode(points));
  }
  const text = doc.toString();
  try {
    const loaded = parseSiteConfig(text, siteFile);
    if (problems.length > 0) throw tableError(tableName, problems);
    return { text, loaded };
  } catch (err) {
    if (!(err instanceof MrvError) || err.code !== 'MRV_E_CONFIG') throw err;
    if (err.message.startsWith(`${tableName}: `)) throw err;
    // Problems at devices[i].points[j].field are the table's row and column; others stay as they are.
    const lines = err.message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
    const mapped = lines.map((line) => {
      const m = /devices\[(\d+)\]\.points\[(\d+)\](?:\.([A-Za-z]+))?(.*)$/.exec(line);
      const i = m ? Number(m[1]) : -1;
      const r = m ? rowsOf.get(i)?.[Number(m[2])] : undefined;
      if (!m || r === undefined) return line;
      const field = m[3] !== undefined && colOf(m[3]) >= 0 ? m[3] : 'id';
      return `${cellRef(r, field)}: ${(m[4] ?? '').replace(/^[^:]*:\s*/, '')}`;
    });
    // Rows of unknown devices first (the rows the spreadsheet shows first), then the site's verdict.
    throw tableError(tableName, [...problems, ...new Set(mapped)]);
  }
}

/** Spreadsheet column letters: 0 → A, 25 → Z, 26 → AA. */
export function columnLetter(index: number): string {
  let n = index + 1;
  let s = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    s = String.fromCharCode(65 + r) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}

function tableError(tableName: string, problems: string[]): MrvError {
  return new MrvError(
    'MRV_E_CONFIG',
    `${tableName}: ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing was imported:\n  ${problems.join('\n  ')}`,
    { file: tableName },
  );
}
