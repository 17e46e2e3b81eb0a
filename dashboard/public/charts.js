// Charts (ECharts, canvas): bars, stacked bars, histograms and time series from one spec, each in a
// <figure> with its title, the number of rows it was computed from, and the same numbers as a table
// (readable without the canvas; its rows drill down like the bars). No HTML tooltips: the page's CSP
// allows no inline style, so tooltips are drawn on the canvas (richText).
import * as echarts from '/dashboard/vendor/echarts.esm.min.mjs';

const PALETTE = ['#2b5797', '#e08a1e', '#3a9d5d', '#b3261e', '#7b4fa6', '#1b9aaa', '#c45c9a', '#8a7f3c', '#5b6b82', '#d4a017', '#4f8fd6', '#9b4f2f'];
const instances = new Map();

/** The charts drawn, by name, and where a bar or point of one is on the page (for scripted clicks). */
export const registry = {
  names: () => [...instances.keys()],
  option: (name) => instances.get(name)?.chart.getOption() ?? null,
  /** Page coordinates of the middle of bar / point `index` of series `series` of chart `name` (as drawn). */
  pointOf(name, series, index) {
    const it = instances.get(name);
    if (!it) return null;
    const { chart } = it;
    const layout = chart.getModel().getSeriesByIndex(series)?.getData().getItemLayout(index);
    if (!layout) return null;
    // A bar's layout is its rectangle; a line's point is [x, y].
    const [px, py] = Array.isArray(layout) ? layout : [layout.x + layout.width / 2, layout.y + layout.height / 2];
    const r = chart.getDom().getBoundingClientRect();
    return { x: r.left + px, y: r.top + py };
  },
};
globalThis.qaforgeDashboard = { charts: registry };

export function disposeWithin(el) {
  for (const [name, it] of instances) if (el.contains(it.chart.getDom())) {
    it.chart.dispose();
    instances.delete(name);
  }
}
addEventListener('resize', () => { for (const it of instances.values()) it.chart.resize(); });

export const fmt = {
  n: (v) => (v === null || v === undefined ? '–' : Number.isInteger(v) ? v.toLocaleString('en-US') : (Math.round(v * 1000) / 1000).toLocaleString('en-US')),
  pct: (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)}%`),
  ms: (v) => (v === null || v === undefined ? '–' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`),
  time: (iso) => (iso ? iso.replace('T', ' ').replace(/(\.\d+)?Z$/, 'Z') : '–'),
};

export const rowsText = (n) => `${fmt.n(n)} row${n === 1 ? '' : 's'}`;

export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/**
 * One chart. spec: { name, title, rows, x: keys, labels?: x labels, series: [{ name, data, type?: 'bar'|'line',
 * stack?, axis?: 0|1, color? }], drill?: (key, seriesIndex) => void, horizontal?, time?, wide?, pct?, markLine?: {value, label},
 * note? }
 */
export function chart(parent, spec) {
  const fig = el('figure', { class: `chart${spec.wide ? ' wide' : ''}`, 'data-chart': spec.name, 'data-rows': spec.rows });
  fig.append(el('figcaption', {}, el('span', { text: spec.title }), el('small', { text: rowsText(spec.rows) })));
  parent.append(fig);
  const empty = !spec.x.length || spec.series.every((s) => s.data.every((v) => !v));
  if (empty) {
    fig.append(el('div', { class: 'empty', text: spec.rows ? 'nothing to show for these filters' : 'no rows for these filters' }));
  } else {
    const plot = el('div', { class: 'plot' });
    if (spec.height) plot.style.height = `${spec.height}px`;
    fig.append(plot);
    const c = echarts.init(plot, null, { renderer: 'canvas' });
    c.setOption(optionOf(spec));
    if (spec.drill) c.on('click', (p) => {
      if (p.componentType === 'series' && p.dataIndex !== undefined) spec.drill(spec.x[p.dataIndex], p.seriesIndex);
    });
    instances.set(spec.name, { chart: c, spec });
  }
  if (spec.note) fig.append(el('p', { class: 'note', text: spec.note }));
  fig.append(table(spec));
  return fig;
}

function optionOf(spec) {
  const labels = spec.labels ?? spec.x;
  const two = spec.series.some((s) => s.axis === 1);
  const valueAxis = (i) => ({ type: 'value', minInterval: spec.pct ? undefined : 1, max: spec.pct && spec.pctMax && i === 0 ? spec.pctMax : undefined, axisLabel: { formatter: spec.pct && i === 0 ? (v) => `${Math.round(v * 100)}%` : undefined, fontSize: 10 }, splitLine: { show: i === 0 } });
  const times = spec.time ? spec.x.map((k) => Date.parse(k)) : [];
  const pad = spec.bucketMs ?? 60_000;
  const catAxis = spec.time
    ? { type: 'time', min: Math.min(...times) - pad, max: Math.max(...times) + pad, axisLabel: { fontSize: 10, hideOverlap: true } }
    : { type: 'category', data: labels, axisLabel: { fontSize: 10, interval: 'auto', hideOverlap: true, width: spec.horizontal ? (spec.labelWidth ?? 110) : 80, overflow: 'truncate' } };
  return {
    animation: false,
    color: PALETTE,
    grid: { left: spec.horizontal ? (spec.labelWidth ?? 110) + 10 : 44, right: two ? 44 : 14, top: spec.series.length > 1 ? 28 : 10, bottom: spec.time || spec.horizontal ? 24 : 44, containLabel: false },
    legend: spec.series.length > 1 ? { top: 0, type: 'scroll', textStyle: { fontSize: 10 }, itemWidth: 12, itemHeight: 8 } : undefined,
    tooltip: { trigger: 'item', renderMode: 'richText', confine: true },
    xAxis: spec.horizontal ? valueAxis(0) : catAxis,
    yAxis: spec.horizontal ? { ...catAxis, inverse: true } : two ? [valueAxis(0), valueAxis(1)] : valueAxis(0),
    series: spec.series.map((s, i) => ({
      name: s.name,
      type: s.type ?? 'bar',
      stack: s.stack,
      yAxisIndex: spec.horizontal ? undefined : s.axis ?? 0,
      data: spec.time ? s.data.map((v, j) => [Date.parse(spec.x[j]), v]) : s.data,
      itemStyle: s.color ? { color: s.color } : undefined,
      barMaxWidth: 38,
      showSymbol: true,
      symbolSize: 6,
      cursor: spec.drill ? 'pointer' : 'default',
      markLine: i === 0 && spec.markLine ? { silent: true, symbol: 'none', lineStyle: { color: '#b3261e', type: 'dashed' }, label: { formatter: spec.markLine.label, fontSize: 10, position: 'insideEndTop' }, data: [spec.horizontal ? { xAxis: spec.markLine.value } : { yAxis: spec.markLine.value }] } : undefined,
    })),
  };
}

function table(spec) {
  const labels = spec.labels ?? spec.x;
  const t = el('table', { class: 'data' });
  t.append(el('thead', {}, el('tr', {}, el('th', { text: spec.xName ?? '' }), spec.series.map((s) => el('th', { class: 'n', text: s.name })))));
  const body = el('tbody');
  spec.x.forEach((key, i) => {
    const tr = el('tr', { 'data-key': key, ...(spec.drill ? { 'data-drill': '', tabindex: 0, title: 'open the rows behind it' } : {}) });
    tr.append(el('td', { text: labels[i] }));
    for (const s of spec.series) tr.append(el('td', { class: 'n', 'data-series': s.name, 'data-value': s.data[i] ?? '', text: spec.pct && !s.axis ? fmt.pct(s.data[i]) : fmt.n(s.data[i]) }));
    if (spec.drill) {
      const open = () => spec.drill(key, 0);
      tr.addEventListener('click', open);
      tr.addEventListener('keydown', (e) => e.key === 'Enter' && open());
    }
    body.append(tr);
  });
  t.append(body);
  return el('details', {}, el('summary', { text: 'numbers' }), t);
}

/** A figure tile: label, value (raw in data-value), optional drill. */
export function tile(label, value, { metric, format = fmt.n, cls, drill, title } = {}) {
  const t = el('div', { class: `tile${cls ? ` ${cls}` : ''}`, 'data-metric': metric, 'data-value': value ?? '', title, ...(drill ? { 'data-drill': '', tabindex: 0, role: 'button' } : {}) }, el('div', { class: 'v', text: format(value) }), el('div', { class: 'k', text: label }));
  if (drill) {
    t.addEventListener('click', drill);
    t.addEventListener('keydown', (e) => e.key === 'Enter' && drill());
  }
  return t;
}
