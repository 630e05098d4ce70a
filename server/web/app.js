// carbon-mrv dashboard: units, their points' newest readings and a live trend (DESIGN.md §8).
// Plain browser module, no build step. Data: /api/v1/units, /api/v1/units/{id}/points,
// /api/v1/units/{id}/points/{pid}/series and the SSE stream /api/v1/live?unit={id}.
// Values stay exact decimal strings everywhere; they become floats only to be drawn.
import uPlot from '/vendor/uplot/uPlot.esm.js';

const DICT = {
  'zh-CN': {
    title: '碳排放数据在线监测',
    unitHeading: '排放单位',
    selectUnit: '选择排放单位',
    pointsHeading: '测点',
    pointsCaption: '最新读数（实时更新，时间为北京时间 UTC+8）',
    colId: '测点',
    colDescription: '说明',
    colValue: '数值',
    colQuality: '质量',
    colTime: '时间',
    colMeter: '计量器具',
    trendHeading: '趋势（最近 15 分钟）',
    trendHint: '点击表格中的测点查看其趋势；异常读数显示为断点。',
    unitId: '统一社会信用代码',
    industry: '行业',
    province: '省份',
    state: '状态',
    lastData: '最新数据',
    online: '在线',
    offline: '离线',
    never: '无数据',
    noUnits: '暂无排放单位',
    noPoints: '该单位暂无测点',
    good: '正常',
    uncertain: '存疑',
    bad: '异常',
    power: '发电',
    steel: '钢铁',
    cement: '水泥熟料',
    aluminium: '电解铝',
    idle: '实时数据未连接',
    connecting: '正在连接实时数据…',
    connected: '实时数据已连接',
    reconnecting: '实时数据中断，正在重连…',
    loadFailed: '加载失败',
    showTrend: '查看趋势',
  },
  en: {
    title: 'Carbon emission data online monitoring',
    unitHeading: 'Emitting unit',
    selectUnit: 'Select an emitting unit',
    pointsHeading: 'Points',
    pointsCaption: 'Newest readings (updated live; times in China Standard Time, UTC+8)',
    colId: 'Point',
    colDescription: 'Description',
    colValue: 'Value',
    colQuality: 'Quality',
    colTime: 'Time',
    colMeter: 'Meter',
    trendHeading: 'Trend (last 15 minutes)',
    trendHint: 'Select a point in the table to see its trend; bad readings show as gaps.',
    unitId: 'Unified social credit code',
    industry: 'Industry',
    province: 'Province',
    state: 'State',
    lastData: 'Last data',
    online: 'online',
    offline: 'offline',
    never: 'no data',
    noUnits: 'No emitting units yet',
    noPoints: 'This unit has no points yet',
    good: 'good',
    uncertain: 'uncertain',
    bad: 'bad',
    power: 'Power',
    steel: 'Steel',
    cement: 'Cement clinker',
    aluminium: 'Aluminium smelting',
    idle: 'Live data not connected',
    connecting: 'Connecting to live data…',
    connected: 'Live data connected',
    reconnecting: 'Live data interrupted, reconnecting…',
    loadFailed: 'Loading failed',
    showTrend: 'Show trend',
  },
};
const LANGS = Object.keys(DICT);
const LANG_KEY = 'mrv.lang';
const UNIT_KEY = 'mrv.unit';
const TREND_WINDOW_S = 15 * 60;
const HISTORY_LIMIT = 10_000;
const UNITS_REFRESH_MS = 30_000;
const RECONNECT_MS = 5_000;
const TIME_ZONE = 'Asia/Shanghai';
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

const CLOCK_FORMAT = new Intl.DateTimeFormat('sv-SE', {
  timeZone: TIME_ZONE,
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});

const state = {
  lang: readLang(),
  units: [],
  unitId: null,
  /** Points of the selected unit by id, each with `last: {ts, value, quality, reason?} | null`. */
  points: new Map(),
  pointId: null,
  liveState: 'idle',
  source: null,
  reconnectTimer: null,
  hadError: false,
};

/** Trend of the selected point: x in seconds since the epoch, y as floats or null (gap). */
const trend = { plot: null, pointId: null, xs: [], ys: [], loading: false, pending: [], generation: 0 };

const $ = (id) => document.getElementById(id);

function readLang() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    // storage disabled: use the default
  }
  return 'zh-CN';
}

function t(key) {
  return DICT[state.lang][key] ?? DICT['zh-CN'][key] ?? key;
}

function formatTime(iso) {
  if (!iso) return t('never');
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : TIME_FORMAT.format(ms);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function badge(kind, text) {
  return el('span', { class: `badge ${kind}`, text });
}

function showError(message) {
  const box = $('error');
  box.textContent = message ? `${t('loadFailed')}: ${message}` : '';
  box.hidden = !message;
}

async function getJson(url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = body?.error;
    throw new Error(err ? `${err.code}: ${err.message}` : `HTTP ${res.status}`);
  }
  return body;
}

// ---- language -------------------------------------------------------------------------------

function applyLang() {
  document.documentElement.lang = state.lang;
  document.title = `${t('title')} carbon-mrv`;
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const btn of document.querySelectorAll('[data-lang]')) {
    btn.setAttribute('aria-pressed', String(btn.dataset.lang === state.lang));
  }
  renderUnitOptions();
  renderUnitInfo();
  renderPoints();
  renderLiveStatus();
  renderTrendTitle();
  // The chart's legend labels are fixed at creation: rebuild it on the data it already has.
  const p = state.points.get(trend.pointId);
  if (trend.plot && p) createPlot(p);
}

function setLang(lang) {
  if (!LANGS.includes(lang) || lang === state.lang) return;
  state.lang = lang;
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // not persisted; the switch still applies to this page
  }
  applyLang();
}

// ---- units ----------------------------------------------------------------------------------

function currentUnit() {
  return state.units.find((u) => u.id === state.unitId) ?? null;
}

function renderUnitOptions() {
  const select = $('unit-select');
  select.replaceChildren();
  if (state.units.length === 0) {
    select.append(el('option', { value: '', text: t('noUnits') }));
    select.disabled = true;
    return;
  }
  select.disabled = false;
  for (const u of state.units) {
    const label = `${u.name} · ${u.online ? t('online') : t('offline')}`;
    select.append(el('option', { value: u.id, 'data-online': String(u.online), text: label }));
  }
  if (state.unitId) select.value = state.unitId;
}

function renderUnitInfo() {
  const info = $('unit-info');
  const u = currentUnit();
  info.replaceChildren();
  if (!u) return;
  const rows = [
    ['unitId', u.id],
    ['industry', t(u.industry)],
    ['province', u.province],
    ['state', badge(u.online ? 'online' : 'offline', u.online ? t('online') : t('offline'))],
    ['lastData', el('time', { datetime: u.lastDataAt ?? undefined, text: formatTime(u.lastDataAt) })],
  ];
  for (const [key, value] of rows) {
    info.append(el('dt', { text: t(key) }), el('dd', { 'data-field': key }, value));
  }
}

async function loadUnits() {
  state.units = await getJson('/api/v1/units');
  renderUnitOptions();
  renderUnitInfo();
}

async function refreshUnits() {
  try {
    const units = await getJson('/api/v1/units');
    const signature = (list) => list.map((u) => `${u.id}|${u.name}|${u.online}`).join('\n');
    // Rebuilding the options would close the list under the user's pointer: only when it changed.
    const changed = signature(units) !== signature(state.units);
    state.units = units;
    if (changed) renderUnitOptions();
    renderUnitInfo();
  } catch {
    // keep showing the last list; the live status line tells whether the server is reachable
  }
}

async function selectUnit(unitId) {
  state.unitId = unitId;
  state.pointId = null;
  try {
    localStorage.setItem(UNIT_KEY, unitId);
  } catch {
    // not persisted
  }
  renderUnitOptions();
  renderUnitInfo();
  connectLive();
  await loadPoints();
}

// ---- points table ---------------------------------------------------------------------------

async function loadPoints() {
  const unitId = state.unitId;
  const list = await getJson(`/api/v1/units/${encodeURIComponent(unitId)}/points`);
  if (unitId !== state.unitId) return;
  state.points = new Map(list.map((p) => [p.id, p]));
  if (!state.pointId || !state.points.has(state.pointId)) {
    const first = list.find((p) => p.aggregation === 'gauge') ?? list[0];
    state.pointId = first?.id ?? null;
  }
  renderPoints();
  await showTrend(state.pointId);
}

function valueText(p) {
  const last = p.last;
  if (!last || last.value === null) return '—';
  return `${last.value} ${p.unit}`;
}

function qualityCell(td, last) {
  td.replaceChildren();
  if (!last) return;
  const b = badge(`q-${last.quality}`, t(last.quality));
  if (last.reason) b.title = last.reason;
  td.append(b);
  td.dataset.quality = last.quality;
}

function renderRow(p) {
  const selected = p.id === state.pointId;
  const button = el('button', {
    type: 'button',
    class: 'point-btn',
    'aria-pressed': String(selected),
    title: t('showTrend'),
    text: p.id,
  });
  button.addEventListener('click', () => {
    state.pointId = p.id;
    renderPoints();
    showTrend(p.id);
  });
  const quality = el('td', { 'data-field': 'quality' });
  qualityCell(quality, p.last);
  return el(
    'tr',
    { 'data-point-id': p.id, 'data-selected': String(selected) },
    el('th', { scope: 'row' }, button),
    el('td', { class: 'desc', text: p.description ?? p.parameter ?? '' }),
    el('td', { class: 'num', 'data-field': 'value', text: valueText(p) }),
    quality,
    el('td', { 'data-field': 'ts' }, el('time', { datetime: p.last?.ts, text: formatTime(p.last?.ts) })),
    el('td', { 'data-field': 'meter', text: p.meter ?? '' }),
  );
}

function renderPoints() {
  const body = $('points-body');
  body.replaceChildren();
  if (state.points.size === 0) {
    body.append(el('tr', {}, el('td', { colspan: '6', class: 'empty', text: t('noPoints') })));
    return;
  }
  for (const p of state.points.values()) body.append(renderRow(p));
}

function updateRow(p) {
  const row = document.querySelector(`tr[data-point-id="${CSS.escape(p.id)}"]`);
  if (!row) return;
  row.querySelector('[data-field="value"]').textContent = valueText(p);
  qualityCell(row.querySelector('[data-field="quality"]'), p.last);
  row
    .querySelector('[data-field="ts"]')
    .replaceChildren(el('time', { datetime: p.last.ts, text: formatTime(p.last.ts) }));
}

// ---- trend ----------------------------------------------------------------------------------

function toPoint(ts, value, quality) {
  const x = Date.parse(ts) / 1000;
  // Bad readings and empty buckets become null: uPlot draws them as gaps.
  const y = value === null || quality === 'bad' ? null : Number(value);
  return [x, Number.isFinite(y) ? y : null];
}

function renderTrendTitle() {
  const p = state.points.get(trend.pointId);
  $('trend-title').textContent = p ? `— ${p.id}${p.description ? ` ${p.description}` : ''} (${p.unit})` : '';
}

function createPlot(p) {
  const box = $('trend');
  trend.plot?.destroy();
  const opts = {
    width: Math.max(box.clientWidth, 300),
    height: 320,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), TIME_ZONE),
    scales: {
      x: {
        time: true,
        // A sliding window that ends at the newest reading, whatever the browser's clock says.
        range: (_u, _min, max) => {
          const end = max ?? Date.now() / 1000;
          return [end - TREND_WINDOW_S, end];
        },
      },
    },
    series: [
      { label: t('colTime'), value: (_u, x) => (x == null ? '—' : TIME_FORMAT.format(x * 1000)) },
      { label: p.id, stroke: '#0b6e4f', width: 1.5, spanGaps: false },
    ],
    axes: [
      { values: (_u, splits) => splits.map((x) => CLOCK_FORMAT.format(x * 1000)) },
      { label: p.unit, size: 70 },
    ],
  };
  trend.plot = new uPlot(opts, [trend.xs, trend.ys], box);
}

function appendTrend(ts, value, quality) {
  const [x, y] = toPoint(ts, value, quality);
  const lastX = trend.xs.at(-1);
  if (lastX !== undefined && x <= lastX) return false;
  trend.xs.push(x);
  trend.ys.push(y);
  return true;
}

function trimTrend() {
  const end = trend.xs.at(-1);
  if (end === undefined) return;
  let drop = 0;
  while (drop < trend.xs.length && trend.xs[drop] < end - TREND_WINDOW_S) drop++;
  if (drop > 0) {
    trend.xs.splice(0, drop);
    trend.ys.splice(0, drop);
  }
}

async function loadHistory(p) {
  const anchor = p.last ? Date.parse(p.last.ts) : Date.now();
  const base = `/api/v1/units/${encodeURIComponent(state.unitId)}/points/${encodeURIComponent(p.id)}/series`;
  const from = new Date(anchor - TREND_WINDOW_S * 1000).toISOString();
  const to = new Date(anchor + 1).toISOString();
  const range = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  let res = await getJson(`${base}?${range}&limit=${HISTORY_LIMIT}`);
  // More raw readings than one answer holds: ask for one-second buckets instead.
  if (res.points.length >= HISTORY_LIMIT) res = await getJson(`${base}?${range}&step=1s`);
  return res.points;
}

async function showTrend(pointId) {
  const p = state.points.get(pointId);
  const generation = ++trend.generation;
  trend.pointId = pointId ?? null;
  trend.xs = [];
  trend.ys = [];
  trend.pending = [];
  renderTrendTitle();
  if (!p) {
    trend.plot?.destroy();
    trend.plot = null;
    return;
  }
  trend.loading = true;
  createPlot(p);
  try {
    const history = await loadHistory(p);
    if (generation !== trend.generation) return;
    for (const h of history) appendTrend(h.ts, h.value, h.quality);
  } catch (err) {
    if (generation === trend.generation) showError(err.message);
  } finally {
    if (generation === trend.generation) {
      trend.loading = false;
      for (const r of trend.pending) appendTrend(r.ts, r.value, r.quality);
      trend.pending = [];
      trimTrend();
      trend.plot?.setData([trend.xs, trend.ys]);
    }
  }
}

// ---- live -----------------------------------------------------------------------------------

function renderLiveStatus() {
  const line = $('live-status');
  line.dataset.state = state.liveState;
  line.textContent = t(state.liveState);
}

function setLiveState(s) {
  state.liveState = s;
  renderLiveStatus();
}

function onBatch(batch) {
  if (batch.unitId !== state.unitId) return;
  let trendChanged = false;
  for (const r of batch.readings) {
    const p = state.points.get(r.point);
    if (p && (!p.last || Date.parse(r.ts) >= Date.parse(p.last.ts))) {
      p.last = { ts: r.ts, value: r.value, quality: r.quality, reason: r.reason };
      updateRow(p);
    }
    if (r.point === trend.pointId) {
      if (trend.loading) trend.pending.push(r);
      else trendChanged = appendTrend(r.ts, r.value, r.quality) || trendChanged;
    }
  }
  const u = currentUnit();
  let newest = u?.lastDataAt ?? null;
  for (const r of batch.readings) {
    if (newest === null || Date.parse(r.ts) > Date.parse(newest)) newest = r.ts;
  }
  if (u && newest && newest !== u.lastDataAt) {
    u.lastDataAt = newest;
    const cell = document.querySelector('#unit-info [data-field="lastData"]');
    cell?.replaceChildren(el('time', { datetime: newest, text: formatTime(newest) }));
  }
  if (trendChanged) {
    trimTrend();
    trend.plot?.setData([trend.xs, trend.ys]);
  }
}

function connectLive() {
  state.source?.close();
  clearTimeout(state.reconnectTimer);
  if (!state.unitId) {
    setLiveState('idle');
    return;
  }
  setLiveState(state.hadError ? 'reconnecting' : 'connecting');
  const source = new EventSource(`/api/v1/live?unit=${encodeURIComponent(state.unitId)}`);
  state.source = source;
  source.addEventListener('open', () => {
    setLiveState('connected');
    if (state.hadError) {
      // Batches stored while we were away never reach us over SSE: reload the newest values.
      state.hadError = false;
      loadPoints().catch((err) => showError(err.message));
    }
  });
  source.addEventListener('batch', (ev) => {
    try {
      onBatch(JSON.parse(ev.data));
    } catch (err) {
      console.error('bad live batch', err);
    }
  });
  source.addEventListener('error', () => {
    state.hadError = true;
    setLiveState('reconnecting');
    // EventSource retries by itself unless the server refused (e.g. 404): then retry ourselves.
    if (source.readyState === EventSource.CLOSED && state.source === source) {
      state.reconnectTimer = setTimeout(connectLive, RECONNECT_MS);
    }
  });
}

// ---- start ----------------------------------------------------------------------------------

async function start() {
  for (const btn of document.querySelectorAll('[data-lang]')) {
    btn.addEventListener('click', () => setLang(btn.dataset.lang));
  }
  $('unit-select').addEventListener('change', (ev) => {
    selectUnit(ev.target.value).catch((err) => showError(err.message));
  });
  new ResizeObserver(() => {
    const box = $('trend');
    if (trend.plot && box.clientWidth > 0) trend.plot.setSize({ width: box.clientWidth, height: 320 });
  }).observe($('trend'));
  applyLang();
  try {
    await loadUnits();
    showError('');
  } catch (err) {
    showError(err.message);
    return;
  }
  setInterval(refreshUnits, UNITS_REFRESH_MS);
  let saved = null;
  try {
    saved = localStorage.getItem(UNIT_KEY);
  } catch {
    // no saved unit
  }
  const initial = state.units.find((u) => u.id === saved) ?? state.units[0];
  if (initial) await selectUnit(initial.id).catch((err) => showError(err.message));
}

start();
