/**
 * Renderings of a monthly evidence package: CSV (one table, `section,item,field,value,unit`) and a
 * printable HTML page in zh-CN with English. JSON (canonical) is the package itself; these are views
 * of it and carry its signature's key id so a printout can be traced to the signed JSON.
 */
import { BATCH_SET_DIGEST_V1 } from '../signing.ts';
import type { EvidenceBody, EvidencePackage } from './evidence.ts';
import { formatBatchSet } from './raw-batches.ts';
import { RULE_CLASS_ZH, type RuleClass } from './rules.ts';

/** Seq ranges `[[3, 5], [8, 8]]` as `3–5, 8`. */
function seqText(seqs: readonly (readonly [number, number])[] | undefined): string {
  return (seqs ?? []).map(([a, b]) => (a === b ? String(a) : `${a}–${b}`)).join(', ');
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  // Cells starting with = + - @ are prefixed so spreadsheets do not run them as formulas (CSV injection).
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** CSV rendering: header `section,item,field,value,unit`, CRLF line ends, UTF-8 (prefix a BOM for Excel when serving). */
export function evidenceCsv(pkg: EvidenceBody | EvidencePackage): string {
  const rows: unknown[][] = [['section', 'item', 'field', 'value', 'unit']];
  const add = (...r: unknown[]) => rows.push(r);
  // What the package knows comes first, before any value (formatVersion 2).
  if (pkg.content) {
    const c = pkg.content;
    add('content', pkg.unit.id, 'status', c.status, '');
    add('content', pkg.unit.id, 'reasons', c.reasons.join(' '), '');
    add('content', pkg.unit.id, 'judged_to', c.judgedTo, '');
    add('content', pkg.unit.id, 'covered_share', c.coveredShare, '');
    add('content', pkg.unit.id, 'received_expected', `${c.received}/${c.expected}`, '');
  }
  for (const n of pkg.notices ?? [])
    add('notice', n.parameter, n.issue, `${n.consequence.zh} / ${n.consequence.en}`, n.method);
  add('package', pkg.unit.id, 'unit_name', pkg.unit.name, '');
  add('package', pkg.unit.id, 'industry', pkg.unit.industry, '');
  add('package', pkg.unit.id, 'month', pkg.month, '');
  add('package', pkg.unit.id, 'period_from', pkg.period.from, '');
  add('package', pkg.unit.id, 'period_to', pkg.period.to, '');
  add('package', pkg.unit.id, 'deadline', pkg.deadline, '');
  add('package', pkg.unit.id, 'generated_at', pkg.generatedAt, '');
  for (const p of pkg.parameters) {
    add('parameter', p.id, 'name', `${p.nameZh} ${p.nameEn}`, '');
    add('parameter', p.id, 'value', p.value, p.unit);
    add('parameter', p.id, 'method', p.method, '');
    add('parameter', p.id, 'source', `${p.source.guideline} ${p.source.clause}`, '');
    for (const pt of p.points) {
      add('parameter_point', `${p.id}/${pt.id}`, 'value', pt.value, pt.unit);
      add('parameter_point', `${p.id}/${pt.id}`, 'sign', pt.sign, '');
      add('parameter_point', `${p.id}/${pt.id}`, 'meter', pt.meter, '');
      add('parameter_point', `${p.id}/${pt.id}`, 'readings', pt.readings, '');
      add(
        'parameter_point',
        `${p.id}/${pt.id}`,
        'readings_outside_calibration',
        pt.readingsOutsideCalibration,
        '',
      );
      const d = pt.detail as {
        resets?: unknown[];
        rollovers?: unknown[];
        events?: { ticket: string; ts: string; value: string }[];
      };
      if (d.resets) add('parameter_point', `${p.id}/${pt.id}`, 'resets', d.resets.length, '');
      if (d.rollovers) add('parameter_point', `${p.id}/${pt.id}`, 'rollovers', d.rollovers.length, '');
      for (const e of d.events ?? []) add('ticket', `${pt.id}/${e.ticket}`, e.ts, e.value, pt.unit);
    }
  }
  for (const c of pkg.completeness) {
    add('completeness', c.point, 'expected', c.expected, '');
    add('completeness', c.point, 'received', c.received, '');
    add('completeness', c.point, 'covered_share', c.coveredShare, '');
    for (const g of c.gaps) add('gap', c.point, `${g.start}/${g.end}`, g.cause, g.reason ?? '');
  }
  for (const m of pkg.meters) {
    add('meter', m.id, 'name', m.name, '');
    add('meter', m.id, 'status_at_month_end', m.atMonthEnd.status, '');
    for (const s of m.segments) add('calibration', m.id, `${s.from}/${s.to}`, s.status, s.certificate ?? '');
  }
  for (const f of [...pkg.findings, ...pkg.storedFindings])
    add('finding', f.rule ?? f.code, f.ts, `${f.message.zh} / ${f.message.en}`, f.severity);
  // Resolved findings are listed, not cited: when, by which batches, and why.
  for (const f of pkg.resolvedFindings ?? [])
    add(
      'resolved_finding',
      f.rule ?? f.code,
      f.ts,
      `${f.resolvedAt ?? ''} ${seqText(f.resolution?.seqs)}: ${f.resolution?.message.zh ?? ''} / ${f.resolution?.message.en ?? ''} (${f.message.en})`,
      f.severity,
    );
  for (const e of pkg.emissions.items) {
    add('emission', e.id, 'mass', e.mass, `t ${e.gas}`);
    add('emission', e.id, 'co2e', e.co2e, 't CO2e');
    add(
      'emission',
      e.id,
      'factors',
      e.factors.map((f) => `${f.id}=${f.value} ${f.unit}${f.confirmed ? '' : ' (unconfirmed)'}`).join('; '),
      '',
    );
  }
  add('emission', 'total', 'co2e', pkg.emissions.totalCo2e, 't CO2e');
  if (pkg.rawData) {
    const r = pkg.rawData;
    add('raw_data', 'readings', 'sha256', r.readingsDigest, `${r.readings} readings`);
    add('raw_data', 'batches', BATCH_SET_DIGEST_V1, r.batchDigest ?? '', `${r.batches.count} batches`);
    add('raw_data', 'batches', 'cited', formatBatchSet(r.batches), '');
    if (r.missingBatches.count > 0)
      add(
        'raw_data',
        'batches',
        'missing_from_archive',
        formatBatchSet(r.missingBatches),
        `${r.missingBatches.count} batches`,
      );
  }
  const sig = (pkg as EvidencePackage).signature;
  if (sig) add('signature', sig.alg, 'key_id', sig.keyId, '');
  return `${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

function rawDataHtml(r: EvidencePackage['rawData']): string {
  if (!r) return '—';
  const missing =
    r.missingBatches.count > 0
      ? `<br><strong>归档缺失 Missing from the archive: ${esc(r.missingBatches.count)} batches</strong> (${esc(formatBatchSet(r.missingBatches))})`
      : '';
  return `读数 Readings: <code>${esc(r.readingsDigest)}</code> (SHA-256, ${esc(r.readings)} readings)<br>原始签名批次 Raw signed batches: <code>${esc(r.batchDigest)}</code> (${BATCH_SET_DIGEST_V1}, ${esc(r.batches.count)} batches: ${esc(formatBatchSet(r.batches))})${missing}<br><small>${esc(r.note)}</small>`;
}

function esc(v: unknown): string {
  const s = v === null || v === undefined ? '—' : String(v);
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

const STATUS_ZH: Record<string, string> = {
  valid: '有效',
  due_soon: '即将到期',
  expired: '已过期',
  missing: '缺失',
};
const CAUSE_ZH: Record<string, string> = {
  bad_quality: '数据质量差',
  device_bad: '设备故障',
  point_bad: '测点故障',
  gateway_offline: '网关离线',
  no_data: '无数据',
  not_elapsed: '尚未到期',
};
const METHOD_ZH: Record<string, string> = {
  measured: '实测',
  calculated: '计算',
  default: '缺省',
  not_measured: '未测得',
};
const CONTENT_TEXT: Record<string, string> = {
  no_data: '无数据 No data',
  incomplete: '不完整 Incomplete',
  complete: '完整 Complete',
};
const REASON_TEXT: Record<string, string> = {
  nothing_monitored: '无测点对应关键参数 no point feeds a parameter',
  no_readings: '本月无读数 no readings this month',
  month_not_over: '月份未结束 (截至生成时间) the month is not over (judged up to generation)',
  gaps: '存在数据缺口 some points have gaps',
  parameter_missing: '有关键参数无数值 a key parameter has no value',
};
const ISSUE_ZH: Record<string, string> = {
  not_supplied: '未配置 Not supplied',
  no_data: '无数据 No data',
  partial_data: '部分数据 Partial data',
};

/** The content status block of the HTML page (formatVersion 2), first on the page. */
function contentHtml(pkg: EvidenceBody | EvidencePackage): string {
  const c = pkg.content;
  if (!c) return '';
  const notices = (pkg.notices ?? [])
    .map(
      (n) =>
        `<tr><td><code>${esc(n.parameter)}</code></td><td>${esc(ISSUE_ZH[n.issue] ?? n.issue)}</td><td>${esc(METHOD_ZH[n.method])} ${esc(n.method)}</td><td>${esc(n.consequence.zh)}<br><small>${esc(n.consequence.en)}</small></td></tr>`,
    )
    .join('');
  return `<div class="content content-${esc(c.status)}" data-content-status="${esc(c.status)}"><h2>内容状态 Content status: ${esc(CONTENT_TEXT[c.status] ?? c.status)}</h2>
<p>${c.reasons.map((r) => esc(REASON_TEXT[r] ?? r)).join('<br>') || '—'}</p>
<p>判定截至 Judged up to ${esc(c.judgedTo)} · 覆盖率 Covered ${esc(c.coveredShare)} · 实收/应收 Received / expected ${esc(c.received)} / ${esc(c.expected)}</p>
<p><small>内容状态与签名校验相互独立：签名只证明本文件未被改动。The content status is separate from the signature check: a valid signature only proves this file is unchanged.</small></p>
${notices ? `<h2>缺省、估计与缺失的参数 Defaults, estimates and missing parameters</h2><table><tr><th>参数 Parameter</th><th>问题 Issue</th><th>方法 Method</th><th>后果 Consequence</th></tr>${notices}</table>` : ''}</div>`;
}

/** Printable HTML page (zh-CN with English), self-contained: inline CSS, no scripts. */
export function evidenceHtml(pkg: EvidenceBody | EvidencePackage): string {
  const sig = (pkg as EvidencePackage).signature;
  const params = pkg.parameters
    .map(
      (p) =>
        `<tr><td>${esc(p.nameZh)}<br><small>${esc(p.nameEn)} · <code>${esc(p.id)}</code></small></td><td class="num">${esc(p.value)}</td><td>${esc(p.unit)}</td><td>${esc(METHOD_ZH[p.method])} ${esc(p.method)}</td><td>${p.points
          .map(
            (pt) =>
              `<code>${esc(pt.sign)}${esc(pt.id)}</code> = ${esc(pt.value)} ${esc(pt.unit)} · ${esc(pt.meter)} · ${esc(pt.readings)} 条/readings${pt.readingsOutsideCalibration ? ` · <b>${esc(pt.readingsOutsideCalibration)} 条不在检定有效期内 outside calibration</b>` : ''}`,
          )
          .join('<br>')}</td><td><small>${esc(p.source.guideline)} ${esc(p.source.clause)}</small></td></tr>`,
    )
    .join('');
  const meters = pkg.meters
    .map(
      (m) =>
        `<tr><td>${esc(m.name)}<br><small><code>${esc(m.id)}</code> ${esc(m.model)} ${esc(m.serial)} ${esc(m.accuracyClass)}</small></td><td>${m.segments
          .map(
            (s) =>
              `${esc(s.from.slice(0, 10))} – ${esc(s.to.slice(0, 10))}: <b>${esc(STATUS_ZH[s.status])} ${esc(s.status)}</b> ${esc(s.certificate)}`,
          )
          .join(
            '<br>',
          )}</td><td>${esc(STATUS_ZH[m.atMonthEnd.status])} ${esc(m.atMonthEnd.status)}<br><small>${esc(m.atMonthEnd.validUntil)}</small></td></tr>`,
    )
    .join('');
  const comp = pkg.completeness
    .map(
      (c) =>
        `<tr><td><code>${esc(c.point)}</code></td><td class="num">${esc(c.received)} / ${esc(c.expected)}</td><td class="num">${esc(c.coveredShare)}</td><td>${
          c.gaps.length === 0
            ? '—'
            : c.gaps
                .slice(0, 20)
                .map(
                  (g) =>
                    `${esc(g.start.slice(0, 19))} – ${esc(g.end.slice(0, 19))} ${esc(CAUSE_ZH[g.cause])} ${esc(g.cause)}`,
                )
                .join('<br>')
        }${c.gaps.length > 20 ? `<br>… ${c.gaps.length - 20} more` : ''}</td></tr>`,
    )
    .join('');
  const findings = [...pkg.findings, ...pkg.storedFindings]
    .map((f) => {
      const cls = (f.detail as { ruleClass?: string }).ruleClass;
      return `<tr><td>${esc(f.ts)}</td><td>${esc(cls ? RULE_CLASS_ZH[cls as RuleClass] : f.source)} ${esc(f.class)}</td><td>${esc(f.rule ?? f.code)}</td><td>${esc(f.severity)}</td><td>${esc(f.message.zh)}<br><small>${esc(f.message.en)}</small></td></tr>`;
    })
    .join('');
  const resolved = (pkg.resolvedFindings ?? [])
    .map(
      (f) =>
        `<tr><td>${esc(f.ts)}</td><td>${esc(f.rule ?? f.code)}</td><td>${esc(f.resolvedAt)}</td><td>${esc(seqText(f.resolution?.seqs))}</td><td>${esc(f.resolution?.message.zh)}<br><small>${esc(f.resolution?.message.en)}</small><br><small>原问题 Was: ${esc(f.message.zh)} / ${esc(f.message.en)}</small></td></tr>`,
    )
    .join('');
  const em = pkg.emissions.items
    .map(
      (e) =>
        `<tr><td>${esc(e.nameZh)}<br><small>${esc(e.nameEn)}</small></td><td>${esc(e.gas)}</td><td class="num">${esc(e.mass)}</td><td class="num">${esc(e.co2e)}</td><td><small>${esc(e.formula)}<br>${e.inputs
          .map(
            (i) =>
              `${esc(i.parameter)} = ${esc(i.value)} ${esc(i.unit)}${i.converted ? ` = ${esc(i.converted.value)} ${esc(i.converted.unit)}` : ''}`,
          )
          .join('<br>')}<br>${e.factors
          .map(
            (f) =>
              `${esc(f.id)} = ${esc(f.value)} ${esc(f.unit)}${f.confirmed ? '' : ' <b>未确认 unconfirmed</b>'} (${esc(f.source)})`,
          )
          .join('<br>')}</small></td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${esc(pkg.unit.name)} ${esc(pkg.month)} 关键参数月度存证 Monthly evidence</title>
<style>body{font:13px/1.45 system-ui,"Noto Sans CJK SC",sans-serif;margin:2em;color:#111}h1{font-size:20px}h2{font-size:15px;margin-top:1.6em;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #bbb;padding:3px 6px;vertical-align:top;text-align:left}th{background:#eee}.num{text-align:right;font-variant-numeric:tabular-nums}
.content{border:2px solid #999;padding:4px 10px;margin:.5em 0}.content-no_data{border-color:#b00}.content-incomplete{border-color:#c80}.content-complete{border-color:#070}
small{color:#444}code{font-size:12px}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{font-weight:600}@media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}</style></head>
<body><h1>关键参数月度存证 Monthly key-parameter evidence</h1>
${contentHtml(pkg)}
<dl><dt>重点排放单位 Unit</dt><dd>${esc(pkg.unit.name)} (<code>${esc(pkg.unit.id)}</code>), ${esc(pkg.unit.province)}, ${esc(pkg.unit.industry)}</dd>
<dt>月份 Month</dt><dd>${esc(pkg.month)} (${esc(pkg.period.from)} – ${esc(pkg.period.to)}, UTC+8)</dd>
<dt>报送截止 Deadline</dt><dd>${esc(pkg.deadline)} (月结束后第40个自然日 40th calendar day after month end)</dd>
<dt>生成时间 Generated</dt><dd>${esc(pkg.generatedAt)} · ${esc(pkg.generator)}</dd>
<dt>签名 Signature</dt><dd>${sig ? `${esc(sig.alg)} key <code>${esc(sig.keyId)}</code>` : '未签名 unsigned'}</dd>
<dt>原始数据摘要 Raw data digest</dt><dd>${rawDataHtml(pkg.rawData)}</dd></dl>
<h2>关键参数 Key parameters</h2><table><tr><th>参数 Parameter</th><th>数值 Value</th><th>单位 Unit</th><th>来源 Method</th><th>测点与计量器具 Points and meters</th><th>依据 Source</th></tr>${params}</table>
<h2>计量器具检定/校准 Meters and calibration</h2><table><tr><th>计量器具 Meter</th><th>本月有效期 Over the month</th><th>月末状态 At month end</th></tr>${meters}</table>
<h2>数据完整性 Completeness</h2><table><tr><th>测点 Point</th><th>实收/应收 Received / expected</th><th>覆盖率 Covered</th><th>缺口 Gaps</th></tr>${comp}</table>
<h2>校验结果 Validation findings</h2>${findings ? `<table><tr><th>时间 Time</th><th>类别 Class</th><th>规则 Rule</th><th>级别 Severity</th><th>说明 Message</th></tr>${findings}</table>` : '<p>无 None</p>'}
${resolved ? `<h2>已解决的问题 Resolved findings</h2><p><small>生成本存证前已解决，不作为未关闭问题引用 Resolved before this package was made; not cited as open.</small></p><table><tr><th>时间 Time</th><th>规则 Rule</th><th>解决时间 Resolved at</th><th>补齐批次 Batches (seq)</th><th>说明 Resolution</th></tr>${resolved}</table>` : ''}
<h2>排放量 Emissions</h2><p>排放因子包 Factor pack <code>${esc(pkg.emissions.factorPack.id)}@${esc(pkg.emissions.factorPack.packVersion)}</code>, GWP ${esc(pkg.emissions.factorPack.gwpSet)}${pkg.emissions.factorPack.digest ? `, sha256 <code>${esc(pkg.emissions.factorPack.digest)}</code>` : ''}${pkg.emissions.unconfirmedFactors?.length ? `<br><small>使用的未确认因子 Unconfirmed factors used: <code>${pkg.emissions.unconfirmedFactors.map(esc).join(', ')}</code></small>` : ''}</p>
<table><tr><th>排放源 Source</th><th>气体 Gas</th><th>质量 Mass (t)</th><th>CO2当量 CO2e (t)</th><th>公式与因子 Formula and factors</th></tr>${em}<tr><th colspan="3">合计 Total</th><th class="num">${esc(pkg.emissions.totalCo2e)}</th><th></th></tr></table>
${pkg.emissions.notes.length ? `<p><small>${pkg.emissions.notes.map(esc).join('<br>')}</small></p>` : ''}
<p><small>本页为签名 JSON 存证的打印视图；以 JSON 为准。This page renders the signed JSON package, which is authoritative.</small></p>
</body></html>
`;
}
