// A unit's points with their newest readings (updated live over SSE) and the trend of one point.
// Short ranges (≤ 1 h) draw raw readings and follow the live stream; longer ranges, up to months, draw
// the server's rollups (series route with `step`: mean with a min–max band), refreshed every minute.
// Quality is on the chart: bad readings (no value) are gaps marked by red bars, uncertain readings
// orange dots. Drag to zoom, double-click to go back to the whole range.

import uPlot from '/vendor/uplot/uPlot.esm.js';
import { displayValue } from '../format.js';
import { formatTime, TIME_ZONE, t } from '../i18n.js';
import { api, badge, el, errorNotice, notice, timeEl, unitPath } from '../lib.js';
import { dataTable, loadUnit, unitHeader } from './common.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Time ranges: width, and the rollup step (null: raw readings). About 700 buckets at most. */
const RANGES = [
  { key: '15m', label: 'range15m', ms: 15 * MIN, step: null },
  { key: '1h', label: 'range1h', ms: HOUR, step: null },
  { key: '6h', label: 'range6h', ms: 6 * HOUR, step: '30s' },
  { key: '24h', label: 'range24h', ms: DAY, step: '2m' },
  { key: '7d', label: 'range7d', ms: 7 * DAY, step: '15m' },
  { key: '30d', label: 'range30d', ms: 30 * DAY, step: '1h' },
  { key: '90d', label: 'range90d', ms: 90 * DAY, step: '3h' },
];
const RAW_LIMIT = 10_000;
const ROLLUP_REFRESH_MS = 60_000;
const RECONNECT_MS = 5_000;
const CHART_HEIGHT = 340;

const CLOCK = new Intl.DateTimeFormat('sv-SE', {
  timeZone: TIME_ZONE,
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});
const DAY_ONLY = new Intl.DateTimeFormat('sv-SE', { timeZone: TIME_ZONE, month: '2-digit', day: '2-digit' });
const DAY_CLOCK = new Intl.DateTimeFormat('sv-SE', {
  timeZone: TIME_ZONE,
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});

function valueText(p) {
  const last = p.last;
  if (!last || last.value === null) return '—';
  return `${displayValue(last.value)} ${p.unit}`;
}

function qualityBadge(last) {
  if (!last) return '';
  const b = badge(`q-${last.quality}`, t(last.quality));
  if (last.reason) b.title = last.reason;
  return b;
}

/** Red bars at the x of bad readings, drawn over the plot area. */
function badMarkers(trend) {
  return (u) => {
    if (trend.badXs.length === 0) return;
    const { ctx } = u;
    const { top, height } = u.bbox;
    ctx.save();
    ctx.fillStyle = 'rgba(200, 30, 30, 0.55)';
    const w = Math.max(2, devicePixelRatio * 2);
    for (const x of trend.badXs) {
      const px = u.valToPos(x, 'x', true);
      if (px >= u.bbox.left && px <= u.bbox.left + u.bbox.width) ctx.fillRect(px - w / 2, top, w, height);
    }
    ctx.restore();
  };
}

/** Renders the unit page. */
export async function render(view, params, ctx) {
  const unit = await loadUnit(view, params.unitId);
  if (!unit) return;
  view.append(unitHeader(unit, 'trends'));

  const rangeKey = RANGES.some((r) => r.key === ctx.query.get('range')) ? ctx.query.get('range') : '15m';
  const range = RANGES.find((r) => r.key === rangeKey);
  const points = new Map();
  const list = await api(unitPath(unit.id, '/points'));
  for (const p of list) points.set(p.id, p);
  const requested = ctx.query.get('point');
  const pointId = points.has(requested)
    ? requested
    : ((list.find((p) => p.aggregation === 'gauge') ?? list[0])?.id ?? null);

  // ---- points table ----
  const tbody = el('tbody', { id: 'points-body' });
  const go = (query) =>
    ctx.navigate(
      `/units/${encodeURIComponent(unit.id)}`,
      { point: pointId, range: rangeKey, ...query },
      { replace: true },
    );
  for (const p of list) {
    const selected = p.id === pointId;
    tbody.append(
      el(
        'tr',
        { 'data-point-id': p.id, 'data-selected': String(selected) },
        el(
          'th',
          { scope: 'row' },
          el('button', {
            type: 'button',
            class: 'point-btn',
            'aria-pressed': String(selected),
            title: t('showTrend'),
            text: p.id,
            'on:click': () => go({ point: p.id }),
          }),
        ),
        el('td', { class: 'desc', text: p.description ?? p.parameter ?? '' }),
        el('td', { class: 'num', 'data-field': 'value', text: valueText(p), title: p.last?.value ?? '' }),
        el('td', { 'data-field': 'quality' }, qualityBadge(p.last)),
        el('td', { 'data-field': 'ts' }, timeEl(p.last?.ts)),
        el('td', { 'data-field': 'meter', text: p.meter ?? '' }),
      ),
    );
  }
  if (list.length === 0)
    tbody.append(el('tr', {}, el('td', { colspan: '6', class: 'empty', text: t('noPoints') })));
  const heads = ['colId', 'colDescription', 'colValue', 'colQuality', 'colTime', 'colMeter'];

  // ---- trend ----
  const p = points.get(pointId);
  const chartBox = el('div', {
    id: 'trend',
    class: 'trend-chart',
    role: 'img',
    'aria-label': t('trendHeading'),
  });
  const lastOut = el('output', { id: 'trend-last', class: 'trend-last' });
  const modeOut = el('span', { id: 'trend-mode', class: 'trend-mode' });
  const rangeButtons = el(
    'div',
    { class: 'ranges', role: 'group', 'aria-label': t('range') },
    ...RANGES.map((r) =>
      el('button', {
        type: 'button',
        'data-range': r.key,
        'aria-pressed': String(r.key === rangeKey),
        text: t(r.label),
        'on:click': () => go({ range: r.key }),
      }),
    ),
  );
  const trendSection = el(
    'section',
    { class: 'panel trend', 'aria-labelledby': 'trend-heading' },
    el(
      'h3',
      { id: 'trend-heading' },
      `${t('trendHeading')} `,
      el('span', {
        id: 'trend-title',
        text: p ? `${p.id}${p.description ? ` ${p.description}` : ''} (${p.unit})` : '',
      }),
    ),
    el('div', { class: 'trend-bar' }, rangeButtons, modeOut, lastOut),
    chartBox,
    el('p', { class: 'hint', text: t('trendHint') }),
  );
  view.append(
    trendSection,
    el(
      'section',
      { class: 'panel points', 'aria-labelledby': 'points-heading' },
      el('h3', { id: 'points-heading', text: t('pointsHeading') }),
      dataTable({ id: 'points-table' }, `${t('pointsCaption')} · UTC+8`, heads, tbody),
    ),
  );

  const trend = {
    xs: [],
    ys: [],
    mins: [],
    maxs: [],
    unc: [],
    badXs: [],
    plot: null,
    zoomed: false,
    loading: true,
    pending: [],
    end: null,
  };
  const anchor = () => {
    let end = Date.parse(unit.lastDataAt ?? '') || Date.now();
    if (p?.last) end = Math.max(end, Date.parse(p.last.ts));
    return end;
  };

  const showLast = () => {
    let i = trend.xs.length - 1;
    while (i >= 0 && trend.ys[i] === null) i--;
    if (i < 0) {
      lastOut.textContent = '';
      return;
    }
    const v = range.step ? trend.ys[i].toPrecision(6) : trend.raw[i];
    lastOut.dataset.value = String(v);
    lastOut.dataset.ts = String(trend.xs[i]);
    lastOut.textContent = `${v} ${p.unit} · ${formatTime(trend.xs[i] * 1000)}`;
  };
  const setWindow = () => {
    if (!trend.plot || trend.zoomed) return;
    const end = (trend.end ?? anchor()) / 1000;
    trend.plot.setScale('x', { min: end - range.ms / 1000, max: end });
  };
  const redraw = () => {
    if (!trend.plot) return;
    const data = [trend.xs, trend.ys];
    if (range.step) data.push(trend.mins, trend.maxs);
    else data.push(trend.unc);
    trend.plot.setData(data);
    setWindow();
    showLast();
    modeOut.textContent = trend.zoomed
      ? t('paused')
      : range.step
        ? t('rollup', { step: range.step })
        : `${t('rawData')} · ${t('live')}`;
    modeOut.dataset.zoomed = String(trend.zoomed);
  };

  const createPlot = () => {
    const series = [
      { label: t('colTime'), value: (_u, x) => (x == null ? '—' : formatTime(x * 1000)) },
      { label: `${p.id} (${p.unit})`, stroke: '#0b6e4f', width: 1.5, spanGaps: false },
    ];
    const bands = [];
    if (range.step) {
      series.push(
        { label: t('legendMin'), stroke: 'rgba(11,110,79,0.35)', width: 1, spanGaps: false },
        { label: t('legendMax'), stroke: 'rgba(11,110,79,0.35)', width: 1, spanGaps: false },
      );
      bands.push({ series: [3, 2], fill: 'rgba(11,110,79,0.12)' });
    } else {
      series.push({
        label: t('legendUncertain'),
        stroke: '#d98e04',
        fill: '#f2b233',
        paths: () => null,
        points: { show: true, size: 7, stroke: '#d98e04', fill: '#f2b233' },
      });
    }
    const axisFormat = range.ms > 2 * DAY ? DAY_ONLY : range.ms > 6 * HOUR ? DAY_CLOCK : CLOCK;
    trend.plot = new uPlot(
      {
        width: Math.max(chartBox.clientWidth, 300),
        height: CHART_HEIGHT,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), TIME_ZONE),
        series,
        bands,
        scales: { x: { time: true } },
        axes: [
          { space: 90, values: (_u, splits) => splits.map((x) => axisFormat.format(x * 1000)) },
          { label: p.unit, size: 70 },
        ],
        cursor: {
          // The zoom is applied by the setSelect hook below, so it is known to be the user's.
          drag: { x: true, y: false, setScale: false },
          bind: {
            dblclick: () => () => {
              trend.zoomed = false;
              redraw();
              return null;
            },
          },
        },
        hooks: {
          draw: [badMarkers(trend)],
          setSelect: [
            (u) => {
              if (u.select.width < 5) return;
              const min = u.posToVal(u.select.left, 'x');
              const max = u.posToVal(u.select.left + u.select.width, 'x');
              trend.zoomed = true;
              u.setScale('x', { min, max });
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              modeOut.textContent = t('paused');
              modeOut.dataset.zoomed = 'true';
            },
          ],
        },
      },
      [[], [], []].concat(range.step ? [[]] : []),
      chartBox,
    );
  };

  const push = (ts, value, quality, min, max) => {
    const x = Date.parse(ts) / 1000;
    const last = trend.xs.at(-1);
    if (last !== undefined && x <= last) return false;
    const num = value === null || quality === 'bad' ? null : Number(value);
    const y = Number.isFinite(num) ? num : null;
    trend.xs.push(x);
    trend.ys.push(y);
    trend.raw.push(value);
    trend.mins.push(min === undefined || min === null ? null : Number(min));
    trend.maxs.push(max === undefined || max === null ? null : Number(max));
    trend.unc.push(quality === 'uncertain' ? y : null);
    if (quality === 'bad') trend.badXs.push(x);
    trend.end = Math.max(trend.end ?? 0, x * 1000);
    return true;
  };
  const trim = () => {
    const end = trend.xs.at(-1);
    if (end === undefined) return;
    let drop = 0;
    while (drop < trend.xs.length && trend.xs[drop] < end - range.ms / 1000) drop++;
    if (drop === 0) return;
    for (const a of [trend.xs, trend.ys, trend.raw, trend.mins, trend.maxs, trend.unc]) a.splice(0, drop);
    const first = trend.xs[0];
    trend.badXs = trend.badXs.filter((x) => x >= first);
  };

  const load = async () => {
    const end = anchor();
    const base = unitPath(unit.id, `/points/${encodeURIComponent(p.id)}/series`);
    const from = new Date(end - range.ms).toISOString();
    const to = new Date(end + 1).toISOString();
    const q = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    let res = await api(range.step ? `${base}?${q}&step=${range.step}` : `${base}?${q}&limit=${RAW_LIMIT}`);
    // More raw readings than one answer holds: ask for 1 s buckets instead.
    if (!range.step && res.points.length >= RAW_LIMIT) res = await api(`${base}?${q}&step=1s`);
    for (const k of ['xs', 'ys', 'raw', 'mins', 'maxs', 'unc', 'badXs']) trend[k] = [];
    for (const b of res.points) {
      if (range.step) push(b.ts, b.count > 0 ? b.value : null, b.count > 0 ? 'good' : 'none', b.min, b.max);
      else push(b.ts, b.value, b.quality ?? 'good');
    }
  };

  trend.raw = [];
  let refreshTimer = null;
  const resize = new ResizeObserver(() => {
    if (trend.plot && chartBox.clientWidth > 0)
      trend.plot.setSize({ width: chartBox.clientWidth, height: CHART_HEIGHT });
  });
  if (p) {
    createPlot();
    resize.observe(chartBox);
    try {
      await load();
    } catch (err) {
      trendSection.append(errorNotice(err));
    }
    trend.loading = false;
    for (const r of trend.pending) push(r.ts, r.value, r.quality);
    trend.pending = [];
    trim();
    redraw();
    if (range.step) {
      refreshTimer = setInterval(async () => {
        if (trend.zoomed) return;
        trend.loading = true;
        await load().catch(() => {});
        trend.loading = false;
        redraw();
      }, ROLLUP_REFRESH_MS);
    }
  } else {
    chartBox.replaceWith(notice('empty', t('noPoints')));
  }

  // ---- live ----
  let source = null;
  let reconnectTimer = null;
  let hadError = false;
  const onBatch = (batch) => {
    if (batch.unitId !== unit.id) return;
    let changed = false;
    for (const r of batch.readings) {
      const q = points.get(r.point);
      if (q && (!q.last || Date.parse(r.ts) >= Date.parse(q.last.ts))) {
        q.last = { ts: r.ts, value: r.value, quality: r.quality, reason: r.reason };
        const row = tbody.querySelector(`tr[data-point-id="${CSS.escape(q.id)}"]`);
        if (row) {
          row.querySelector('[data-field="value"]').textContent = valueText(q);
          row.querySelector('[data-field="value"]').title = q.last?.value ?? '';
          row.querySelector('[data-field="quality"]').replaceChildren(qualityBadge(q.last));
          row.querySelector('[data-field="ts"]').replaceChildren(timeEl(q.last.ts));
        }
      }
      if (p && r.point === p.id && !range.step) {
        if (trend.loading) trend.pending.push(r);
        else changed = push(r.ts, r.value, r.quality) || changed;
      }
      if (!unit.lastDataAt || Date.parse(r.ts) > Date.parse(unit.lastDataAt)) unit.lastDataAt = r.ts;
    }
    const cell = view.querySelector('.unit-info [data-field="lastData"]');
    cell?.replaceChildren(timeEl(unit.lastDataAt));
    if (changed) {
      trim();
      redraw();
    }
  };
  const connect = () => {
    source?.close();
    ctx.setLiveState(hadError ? 'reconnecting' : 'connecting');
    const s = new EventSource(`/api/v1/live?unit=${encodeURIComponent(unit.id)}`);
    source = s;
    s.addEventListener('open', () => {
      ctx.setLiveState('connected');
      if (hadError) {
        // Batches stored while we were away never come over SSE: reload the chart.
        hadError = false;
        if (p && !range.step)
          load().then(
            () => redraw(),
            () => {},
          );
      }
    });
    s.addEventListener('batch', (ev) => {
      try {
        onBatch(JSON.parse(ev.data));
      } catch (err) {
        console.error('bad live batch', err);
      }
    });
    s.addEventListener('error', () => {
      hadError = true;
      ctx.setLiveState('reconnecting');
      if (s.readyState === EventSource.CLOSED && source === s)
        reconnectTimer = setTimeout(connect, RECONNECT_MS);
    });
  };
  connect();

  return () => {
    source?.close();
    source = null;
    clearTimeout(reconnectTimer);
    clearInterval(refreshTimer);
    resize.disconnect();
    trend.plot?.destroy();
  };
}
