// Texts of the dashboard in zh-CN (default) and English, and the formats of times and numbers.
// Every user-facing string goes through t(key); a missing English text falls back to Chinese.

const DICT = {
  'zh-CN': {
    title: '碳排放数据在线监测',
    navOverview: '排放单位总览',
    navAdmin: '系统配置',
    logout: '退出登录',
    roleAdmin: '管理员',
    roleRegulator: '监管部门',
    roleEnterprise: '重点排放单位',
    scopeAll: '全部排放单位',
    // login
    loginHeading: '登录',
    loginIntro: '请输入访问令牌（由管理员用 mrv token create 创建；演示模式的令牌打印在启动输出中）。',
    tokenLabel: '访问令牌',
    loginButton: '登录',
    loginFailed: '令牌无效或已吊销',
    rateLimited: '失败次数过多，请稍后再试',
    // overview
    overviewHeading: '排放单位总览',
    overviewCaption: '范围内的重点排放单位（时间为北京时间 UTC+8）',
    colUnit: '排放单位',
    colProvince: '省份',
    colIndustry: '行业',
    colState: '状态',
    colLastData: '最新数据',
    colCompleteness: '本月数据完整率',
    colCalibration: '计量器具检定/校准',
    colFindings: '未关闭问题',
    colDeadline: '上月存证截止',
    noUnits: '范围内暂无排放单位',
    online: '在线',
    offline: '离线',
    never: '无数据',
    notAvailable: '暂不可用',
    notAvailableLong: '该功能的数据接口尚未提供（开发中），页面将在接口可用后自动显示数据。',
    overdue: '已过期',
    dueSoon: '即将到期',
    allValid: '均有效',
    daysLeftN: '剩 {n} 天',
    daysOverdueN: '已超 {n} 天',
    countN: '{n} 项',
    // unit page
    tabTrends: '实时趋势',
    tabMeters: '计量器具与检定',
    tabEvidence: '月度存证',
    tabFindings: '问题清单',
    unitId: '统一社会信用代码',
    industry: '行业',
    province: '省份',
    unregistered: '未登记',
    unregisteredHint: '该单位不在单位登记册中：名称、省份、行业仅为网关自报，未经核实',
    state: '状态',
    lastData: '最新数据',
    pointsHeading: '测点',
    pointsCaption: '最新读数（实时更新）',
    colId: '测点',
    colDescription: '说明',
    colValue: '数值',
    colQuality: '质量',
    colTime: '时间',
    colMeter: '计量器具',
    noPoints: '该单位暂无测点',
    trendHeading: '趋势',
    range: '时间范围',
    range15m: '15 分钟',
    range1h: '1 小时',
    range6h: '6 小时',
    range24h: '24 小时',
    range7d: '7 天',
    range30d: '30 天',
    range90d: '90 天',
    rawData: '原始读数',
    rollup: '汇总：每 {step} 平均值（阴影为最小–最大）',
    live: '实时',
    paused: '已缩放（双击复原）',
    trendHint: '拖动选择区间可放大，双击复原。橙色点为存疑读数，红色竖条为异常（无值）读数。',
    legendMin: '最小',
    legendMax: '最大',
    legendUncertain: '存疑',
    good: '正常',
    uncertain: '存疑',
    bad: '异常',
    showTrend: '查看趋势',
    power: '发电',
    steel: '钢铁',
    cement: '水泥熟料',
    aluminium: '电解铝',
    idle: '实时数据未连接',
    connecting: '正在连接实时数据…',
    connected: '实时数据已连接',
    reconnecting: '实时数据中断，正在重连…',
    loadFailed: '加载失败',
    forbidden: '无权查看：该排放单位不在您的令牌范围内。',
    notFound: '未找到',
    back: '返回总览',
    // meters
    metersHeading: '计量器具与检定/校准',
    metersCaption: '关键参数计量器具一览（状态按今天计算）',
    colMeterName: '名称',
    colKind: '类型',
    colModel: '型号 / 编号',
    colAccuracy: '准确度等级',
    colStatus: '检定/校准状态',
    colCertificate: '证书编号',
    colValidUntil: '有效期至',
    colDaysLeft: '剩余天数',
    colBody: '检定机构',
    colRegulation: '规程',
    colResult: '结论',
    valid: '有效',
    due_soon: '即将到期',
    expired: '已过期',
    missing: '无证书',
    noMeters: '暂无计量器具',
    verification: '检定',
    calibration: '校准',
    history: '证书记录',
    // evidence
    evidenceHeading: '月度存证（关键参数）',
    evidenceCaption: '每月数据在次月结束后 40 天内提交（北京时间）',
    colMonth: '月份',
    colEvidenceDeadline: '提交截止',
    colActions: '操作',
    open: '查看',
    evidenceDetail: '{month} 月度存证',
    download: '下载',
    verificationResult: '验证结果',
    verified: '验证通过',
    notVerified: '验证未通过',
    unknownResult: '未提供',
    keyParameters: '关键参数',
    colParameter: '参数',
    colUnitOfMeasure: '单位',
    colMethod: '方法',
    rawPackage: '完整数据包（JSON）',
    keyId: '密钥',
    generatedAt: '生成时间',
    measured: '实测',
    calculated: '计算',
    default: '缺省值',
    deadlineIn: '距截止 {n} 天',
    deadlinePassed: '已过截止 {n} 天',
    evidenceNotReady: '本月存证暂不可用',
    // findings
    findingsHeading: '问题清单',
    filterFrom: '开始',
    filterTo: '结束',
    filterSeverity: '严重程度',
    filterSource: '来源',
    filterText: '搜索',
    filterAll: '全部',
    apply: '筛选',
    colFindingTime: '数据时间',
    colSeverity: '严重程度',
    colSource: '来源',
    colCode: '代码',
    colMessage: '说明',
    colPoint: '测点',
    noFindings: '所选范围内无问题',
    filterState: '状态',
    stateOpen: '未关闭',
    stateResolved: '已解决',
    resolvedAtBy: '已于 {at} 解决（批次 {seqs}）',
    openFindingsN: '未关闭问题',
    resolvedFindingsN: '已解决问题',
    info: '提示',
    warning: '警告',
    error: '错误',
    critical: '严重',
    integrity: '完整性/真实性',
    validation: '数据校验',
    completeness: '完整率',
    // admin
    adminHeading: '系统配置（仅管理员）',
    tokensHeading: '访问令牌',
    colTokenId: '令牌 ID',
    colName: '名称',
    colRole: '角色',
    colScope: '范围',
    colCreated: '创建时间',
    revoked: '已吊销',
    active: '有效',
    configHeading: '运行配置',
    openMode: '开放模式（未启用令牌）',
  },
  en: {
    title: 'Carbon emission data online monitoring',
    navOverview: 'Units overview',
    navAdmin: 'Configuration',
    logout: 'Log out',
    roleAdmin: 'Administrator',
    roleRegulator: 'Regulator',
    roleEnterprise: 'Emitting unit',
    scopeAll: 'all units',
    loginHeading: 'Log in',
    loginIntro:
      'Enter your access token (created by an administrator with mrv token create; the demo prints one when it starts).',
    tokenLabel: 'Access token',
    loginButton: 'Log in',
    loginFailed: 'Invalid or revoked token',
    rateLimited: 'Too many failed attempts; try again later',
    overviewHeading: 'Units overview',
    overviewCaption: 'Key emitting units in your scope (times in China Standard Time, UTC+8)',
    colUnit: 'Emitting unit',
    colProvince: 'Province',
    colIndustry: 'Industry',
    colState: 'State',
    colLastData: 'Last data',
    colCompleteness: 'Completeness this month',
    colCalibration: 'Meter verification/calibration',
    colFindings: 'Open findings',
    colDeadline: "Last month's evidence due",
    noUnits: 'No emitting units in your scope',
    online: 'online',
    offline: 'offline',
    never: 'no data',
    notAvailable: 'not available yet',
    notAvailableLong:
      'The data service for this view is not available yet (in development); the page shows the data as soon as it is.',
    overdue: 'overdue',
    dueSoon: 'due soon',
    allValid: 'all valid',
    daysLeftN: '{n} days left',
    daysOverdueN: '{n} days overdue',
    countN: '{n}',
    tabTrends: 'Live trends',
    tabMeters: 'Meters & calibration',
    tabEvidence: 'Monthly evidence',
    tabFindings: 'Findings',
    unitId: 'Unified social credit code',
    industry: 'Industry',
    province: 'Province',
    unregistered: 'unregistered',
    unregisteredHint:
      'Not in the unit registry: name, province and industry are only what its gateway claims, unverified',
    state: 'State',
    lastData: 'Last data',
    pointsHeading: 'Points',
    pointsCaption: 'Newest readings (updated live)',
    colId: 'Point',
    colDescription: 'Description',
    colValue: 'Value',
    colQuality: 'Quality',
    colTime: 'Time',
    colMeter: 'Meter',
    noPoints: 'This unit has no points yet',
    trendHeading: 'Trend',
    range: 'Time range',
    range15m: '15 min',
    range1h: '1 hour',
    range6h: '6 hours',
    range24h: '24 hours',
    range7d: '7 days',
    range30d: '30 days',
    range90d: '90 days',
    rawData: 'raw readings',
    rollup: 'rollup: mean per {step} (band: min–max)',
    live: 'live',
    paused: 'zoomed (double-click to reset)',
    trendHint:
      'Drag across the chart to zoom, double-click to reset. Orange dots are uncertain readings, red bars bad readings (no value).',
    legendMin: 'min',
    legendMax: 'max',
    legendUncertain: 'uncertain',
    good: 'good',
    uncertain: 'uncertain',
    bad: 'bad',
    showTrend: 'Show trend',
    power: 'Power',
    steel: 'Steel',
    cement: 'Cement clinker',
    aluminium: 'Aluminium smelting',
    idle: 'Live data not connected',
    connecting: 'Connecting to live data…',
    connected: 'Live data connected',
    reconnecting: 'Live data interrupted, reconnecting…',
    loadFailed: 'Loading failed',
    forbidden: 'Not allowed: this unit is outside the scope of your token.',
    notFound: 'Not found',
    back: 'Back to the overview',
    metersHeading: 'Meters and verification/calibration',
    metersCaption: 'Measuring instruments of key parameters (status as of today)',
    colMeterName: 'Name',
    colKind: 'Kind',
    colModel: 'Model / serial',
    colAccuracy: 'Accuracy class',
    colStatus: 'Status',
    colCertificate: 'Certificate',
    colValidUntil: 'Valid until',
    colDaysLeft: 'Days left',
    colBody: 'Issued by',
    colRegulation: 'Regulation',
    colResult: 'Result',
    valid: 'valid',
    due_soon: 'due soon',
    expired: 'expired',
    missing: 'no certificate',
    noMeters: 'No meters yet',
    verification: 'verification',
    calibration: 'calibration',
    history: 'Certificates',
    evidenceHeading: 'Monthly evidence (key parameters)',
    evidenceCaption: "Each month's evidence is due 40 days after the month ends (China Standard Time)",
    colMonth: 'Month',
    colEvidenceDeadline: 'Due',
    colActions: 'Actions',
    open: 'Open',
    evidenceDetail: 'Evidence for {month}',
    download: 'Download',
    verificationResult: 'Verification result',
    verified: 'verified',
    notVerified: 'verification failed',
    unknownResult: 'not given',
    keyParameters: 'Key parameters',
    colParameter: 'Parameter',
    colUnitOfMeasure: 'Unit',
    colMethod: 'Method',
    rawPackage: 'Full package (JSON)',
    keyId: 'key',
    generatedAt: 'Generated',
    measured: 'measured',
    calculated: 'calculated',
    default: 'default',
    deadlineIn: '{n} days to the deadline',
    deadlinePassed: '{n} days past the deadline',
    evidenceNotReady: "This month's evidence is not available yet",
    findingsHeading: 'Findings',
    filterFrom: 'From',
    filterTo: 'To',
    filterSeverity: 'Severity',
    filterSource: 'Source',
    filterText: 'Search',
    filterAll: 'all',
    apply: 'Filter',
    colFindingTime: 'Data time',
    colSeverity: 'Severity',
    colSource: 'Source',
    colCode: 'Code',
    colMessage: 'Message',
    colPoint: 'Point',
    noFindings: 'No findings in this range',
    filterState: 'State',
    stateOpen: 'open',
    stateResolved: 'resolved',
    resolvedAtBy: 'resolved {at} (batches {seqs})',
    openFindingsN: 'Open findings',
    resolvedFindingsN: 'Resolved findings',
    info: 'info',
    warning: 'warning',
    error: 'error',
    critical: 'critical',
    integrity: 'integrity',
    validation: 'validation',
    completeness: 'completeness',
    adminHeading: 'Configuration (administrators only)',
    tokensHeading: 'Access tokens',
    colTokenId: 'Token id',
    colName: 'Name',
    colRole: 'Role',
    colScope: 'Scope',
    colCreated: 'Created',
    revoked: 'revoked',
    active: 'active',
    configHeading: 'Running configuration',
    openMode: 'open mode (no tokens)',
  },
};

/** Languages offered by the switch; the first is the default. */
export const LANGS = Object.keys(DICT);
const LANG_KEY = 'mrv.lang';
/** Calendar and clock of the carbon market: China Standard Time, whatever the browser's zone. */
export const TIME_ZONE = 'Asia/Shanghai';

function readLang() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    // storage disabled: use the default
  }
  return 'zh-CN';
}

let lang = readLang();
const listeners = new Set();

/** The current language code. */
export function currentLang() {
  return lang;
}

/** Switches the language, remembers it, and tells every listener. */
export function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  lang = next;
  try {
    localStorage.setItem(LANG_KEY, next);
  } catch {
    // not persisted; the switch still applies to this page
  }
  for (const fn of listeners) fn(lang);
}

/** Calls `fn(lang)` after every language switch; returns an unsubscribe function. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The text of `key` in the current language, with `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  let text = DICT[lang][key] ?? DICT['zh-CN'][key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, String(v));
  return text;
}

/** True when `key` has a text (used for enum values such as industries and statuses). */
export function has(key) {
  return key in DICT['zh-CN'];
}

// sv-SE formats as `2025-03-01 08:00:00`, the same in both languages.
const TIME_FORMAT = new Intl.DateTimeFormat('sv-SE', {
  timeZone: TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});
const DATE_FORMAT = new Intl.DateTimeFormat('sv-SE', {
  timeZone: TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});

/** `2025-03-01 08:00:00` in China Standard Time, or the "no data" text. */
export function formatTime(iso) {
  if (iso === null || iso === undefined || iso === '') return t('never');
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  return Number.isNaN(ms) ? String(iso) : TIME_FORMAT.format(ms);
}

/** `2025-03-01` in China Standard Time. */
export function formatDate(msOrIso) {
  const ms = typeof msOrIso === 'number' ? msOrIso : Date.parse(msOrIso);
  return Number.isNaN(ms) ? String(msOrIso) : DATE_FORMAT.format(ms);
}
