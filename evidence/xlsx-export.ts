/**
 * XLSX export of a monthly evidence package (月度存证) for the national platform's monthly form
 * (全国碳市场管理平台 月度信息化存证): the key parameters (关键参数) one row each, with bilingual headers,
 * plus sheets for the package facts, emissions and notices. Built with exceljs; used by the server
 * (`GET .../evidence/{month}?format=xlsx`, `GET .../confirmations/{month}/versions/{n}?format=xlsx`) and
 * the CLI (`mrv evidence --format xlsx`).
 *
 * Like the CSV and HTML renderings (core/domain/render.ts) it is a view: the signed JSON is the
 * evidence. Every row carries the month, the unit, the confirmed version (or "not confirmed") and the
 * SHA-256 of the JSON bytes it was made from, so a form filled from it traces back to those bytes.
 *
 * Values are exact: a value is written as a number only when the number reads back as the same
 * decimal (`0.1`, `81`, `1234.567`), else as text (`123456789.123456789` would lose digits as an
 * IEEE double); a parameter without value leaves the cell empty and says why in its method and quality.
 * Text cells are written as text, never formulas.
 */
import ExcelJS from 'exceljs';
import { D } from '../core/domain/decimal.ts';
import type {
  EvidenceBody,
  EvidenceNotice,
  EvidencePackage,
  EvidenceParameter,
} from '../core/domain/evidence.ts';

/** Which bytes an export was made from. */
export interface XlsxSource {
  /** SHA-256 (hex) of the package's JSON bytes as served (for a confirmed version: its frozen bytes). */
  sha256: string;
  /** The confirmed version; absent for a package built on request (not confirmed). */
  version?: number;
  /** When and by whom the version was confirmed (ISO-8601 UTC; a display name). */
  confirmedAt?: string;
  confirmedBy?: string;
  /** The regulator's review of the version, when given. */
  reviewedAt?: string;
  reviewedBy?: string;
}

/** Name of the key-parameter sheet (the first). */
export const PARAMETER_SHEET = '关键参数 Key parameters';

/** Columns of the key-parameter sheet, in order: field of the row → bilingual header. */
export const PARAMETER_COLUMNS = [
  ['month', '月份 Month'],
  ['unitId', '重点排放单位代码 Unit id'],
  ['unitName', '单位名称 Unit name'],
  ['parameterId', '参数代码 Parameter id'],
  ['nameZh', '参数名称 Name (zh)'],
  ['nameEn', '参数名称(英文) Name (en)'],
  ['role', '类别 Role'],
  ['value', '数值 Value'],
  ['unit', '计量单位 Unit of measure'],
  ['method', '获取方式 Method'],
  ['quality', '数据质量 Data quality'],
  ['dataSource', '数据来源 Data source'],
  ['guideline', '核算依据 Guideline'],
  ['version', '存证版本 Version'],
  ['sha256', '存证摘要 SHA-256 digest'],
] as const;

/** A field of {@link PARAMETER_COLUMNS}. */
export type ParameterField = (typeof PARAMETER_COLUMNS)[number][0];

/** Bilingual labels of a parameter's method (EvidenceParameter.method). */
export const METHOD_LABELS: Record<EvidenceParameter['method'], string> = {
  measured: '实测 measured',
  calculated: '计算 calculated (from measured points)',
  default: '缺省值 default',
  not_measured: '未监测 not measured',
};

/** Bilingual labels of a parameter's data quality: complete, or the notice's issue. */
export const QUALITY_LABELS: Record<'complete' | EvidenceNotice['issue'], string> = {
  complete: '完整 complete',
  partial_data: '估算 estimate (readings with gaps)',
  no_data: '无数据 no data',
  not_supplied: '未提供 not supplied',
};

const ROLE_LABELS: Record<EvidenceParameter['role'], string> = {
  key: '关键参数 key',
  supporting: '辅助参数 supporting',
};

/** A decimal string as a number when that number reads back as the same decimal, else the text. */
export function exactCell(value: string | null): number | string | null {
  if (value === null) return null;
  const n = Number(value);
  if (!Number.isFinite(n)) return value;
  try {
    return new D(String(n)).eq(new D(value)) ? n : value;
  } catch {
    return value;
  }
}

/** The version text of a row: `1`, or `未确认 not confirmed`. */
function versionText(src: XlsxSource): number | string {
  return src.version ?? '未确认 not confirmed';
}

/** The key-parameter rows of a package, one per parameter (package order), by {@link ParameterField}. */
export function parameterRows(
  pkg: EvidenceBody | EvidencePackage,
  src: XlsxSource,
): Record<ParameterField, number | string | null>[] {
  const issues = new Map((pkg.notices ?? []).map((n) => [n.parameter, n.issue]));
  return pkg.parameters.map((p) => ({
    month: pkg.month,
    unitId: pkg.unit.id,
    unitName: pkg.unit.name,
    parameterId: p.id,
    nameZh: p.nameZh,
    nameEn: p.nameEn,
    role: ROLE_LABELS[p.role],
    value: exactCell(p.value),
    unit: p.unit,
    method: METHOD_LABELS[p.method],
    quality: QUALITY_LABELS[issues.get(p.id) ?? (p.value === null ? 'no_data' : 'complete')],
    dataSource:
      p.points.length === 0
        ? '无测点 no point'
        : p.points
            .map(
              (pt) =>
                `${pt.sign === '-' ? '−' : ''}${pt.id}${pt.meter ? ` (计量器具 meter ${pt.meter})` : ''}`,
            )
            .join('; '),
    guideline: `${p.source.guideline} ${p.source.clause} (${p.source.standing})`,
    version: versionText(src),
    sha256: src.sha256,
  }));
}

function header(ws: ExcelJS.Worksheet, labels: readonly string[], widths: readonly number[]): void {
  ws.columns = labels.map((l, i) => ({ header: l, width: widths[i] ?? 16 }));
  ws.getRow(1).font = { bold: true };
  ws.views = [{ state: 'frozen', ySplit: 1 }];
}

/**
 * The XLSX workbook of a package: sheets `关键参数 Key parameters` ({@link PARAMETER_COLUMNS}),
 * `存证信息 Package` (field, value), `排放 Emissions` and `说明 Notices`.
 * @param src which bytes it is made from (their SHA-256, the confirmed version)
 * @returns the .xlsx file's bytes
 */
export async function evidenceXlsx(pkg: EvidenceBody | EvidencePackage, src: XlsxSource): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = pkg.generator;
  wb.created = new Date(Date.parse(pkg.generatedAt));

  const ws = wb.addWorksheet(PARAMETER_SHEET);
  header(
    ws,
    PARAMETER_COLUMNS.map((c) => c[1]),
    [10, 22, 24, 34, 24, 30, 18, 16, 12, 26, 28, 40, 44, 14, 66],
  );
  for (const r of parameterRows(pkg, src)) ws.addRow(PARAMETER_COLUMNS.map(([f]) => r[f]));

  const info = wb.addWorksheet('存证信息 Package');
  header(info, ['项目 Field', '内容 Value'], [34, 80]);
  const sig = (pkg as Partial<EvidencePackage>).signature;
  const c = pkg.content;
  const rows: [string, string | number][] = [
    ['重点排放单位代码 Unit id', pkg.unit.id],
    ['单位名称 Unit name', pkg.unit.name],
    ['行业 Industry', pkg.unit.industry],
    ['省份 Province', pkg.unit.province],
    ['月份 Month', pkg.month],
    ['核算期 Period', `${pkg.period.from} – ${pkg.period.to}`],
    ['报送截止 Deadline (UTC+8, inclusive)', pkg.deadline],
    [
      '内容状态 Content status',
      c ? `${c.status}${c.reasons.length ? ` (${c.reasons.join(', ')})` : ''}` : '',
    ],
    ['覆盖率 Covered share', c?.coveredShare ?? ''],
    ['存证版本 Version', versionText(src)],
    ['存证摘要 SHA-256 of the JSON', src.sha256],
    ['签名密钥 Signing key id', sig?.keyId ?? ''],
    ['生成时间 Generated at', pkg.generatedAt],
    ['生成程序 Generator', pkg.generator],
    ['排放总量 Total emissions (t CO2e)', pkg.emissions.totalCo2e],
  ];
  if (src.confirmedAt) rows.push(['确认时间 Confirmed at', src.confirmedAt]);
  if (src.confirmedBy) rows.push(['确认人 Confirmed by', src.confirmedBy]);
  if (src.reviewedAt) rows.push(['审核时间 Reviewed at', src.reviewedAt]);
  if (src.reviewedBy) rows.push(['审核人 Reviewed by', src.reviewedBy]);
  for (const r of rows) info.addRow(r);

  const em = wb.addWorksheet('排放 Emissions');
  header(
    em,
    [
      '排放项 Item',
      '名称 Name (zh)',
      '名称(英文) Name (en)',
      '气体 Gas',
      '质量 Mass (t)',
      'CO2e (t)',
      '方法 Method',
    ],
    [30, 24, 30, 10, 16, 16, 14],
  );
  for (const i of pkg.emissions.items)
    em.addRow([i.id, i.nameZh, i.nameEn, i.gas, exactCell(i.mass), exactCell(i.co2e), i.method]);
  em.addRow(['total', '合计', 'Total', '', null, exactCell(pkg.emissions.totalCo2e), '']);

  const notes = wb.addWorksheet('说明 Notices');
  header(
    notes,
    ['参数 Parameter', '问题 Issue', '后果 Consequence (zh)', 'Consequence (en)'],
    [34, 16, 60, 60],
  );
  for (const n of pkg.notices ?? [])
    notes.addRow([n.parameter, QUALITY_LABELS[n.issue], n.consequence.zh, n.consequence.en]);

  return Buffer.from(await wb.xlsx.writeBuffer());
}
