// The five panels, each drawn from its /api/dashboard/<panel> response (dashboard/schema.ts): figures as
// tiles, charts with their row counts, and every bar / point / tile that has rows behind it opening them.
import { chart, el, fmt, tile } from './charts.js';

const KIND_LABEL = { code_symbol: 'code', doc_section: 'docs', commit: 'commits', pull_request: 'PRs', issue: 'issues' };
const SERIES_COLOR = { added: '#3a9d5d', retired: '#b3261e', rejected: '#e08a1e', active: '#2b5797', real: '#2b5797', synthetic: '#e08a1e', errors: '#b3261e', abstained: '#7b4fa6' };

/** Single-series bars of a `{rows, drill, items: [{key, count}]}` chart. */
function bars(parent, ctx, name, title, c, o = {}) {
  return chart(parent, {
    name,
    title,
    rows: c.rows,
    x: c.items.map((i) => i.key),
    labels: o.labels ? c.items.map((i) => o.labels(i)) : undefined,
    series: [{ name: o.series ?? 'count', data: c.items.map((i) => i.count), color: o.color }],
    drill: c.drill ? (key) => ctx.drill(c.drill, key, `${title}: ${o.labels ? o.labels(c.items.find((i) => i.key === key)) : key}`) : null,
    horizontal: o.horizontal,
    wide: o.wide,
    xName: o.xName,
    note: o.note,
  });
}

/** Stacked bars over time of a `{items: [{key, counts: {reason: n}, total}]}` chart. */
function overTime(parent, name, title, c) {
  const names = [...new Set(c.items.flatMap((i) => Object.keys(i.counts)))].sort();
  return chart(parent, { name, title, rows: c.rows, x: c.items.map((i) => i.key), series: names.map((n) => ({ name: n, data: c.items.map((i) => i.counts[n] ?? 0), stack: 'all' })), xName: 'day' });
}

const section = (body, title) => {
  const s = el('div', { class: 'charts' });
  body.append(title ? el('h3', { class: 'sub', text: title }) : '', s);
  return s;
};
const tiles = (body, ...ts) => body.append(el('div', { class: 'tiles' }, ...ts));

// ------------------------------------------------------------------------------------------- corpus
export function corpus(body, d, ctx) {
  tiles(body,
    tile('active pairs', d.active, { metric: 'active', drill: () => ctx.drill('corpus.active', '', 'Active pairs') }),
    tile('retired pairs', d.retired, { metric: 'retired' }),
    tile('corpus table version', d.corpus_version, { metric: 'corpus_version' }),
  );
  const g = section(body);
  bars(g, ctx, 'corpus.by_source_kind', 'Active pairs by source kind', d.by_source_kind, { labels: (i) => KIND_LABEL[i.key] ?? i.key, horizontal: true });
  // Source kind × category as stacked bars: one bar per kind, a segment per category.
  const kc = d.by_kind_category;
  const kinds = [...new Set(kc.items.map((i) => i.key.split('/')[0]))];
  const cats = [...new Set(kc.items.map((i) => i.key.split('/')[1]))];
  const count = (k, c) => kc.items.find((i) => i.key === `${k}/${c}`)?.count ?? 0;
  chart(g, {
    name: 'corpus.by_kind_category', title: 'Active pairs by kind and category', rows: kc.rows, x: kinds, labels: kinds.map((k) => KIND_LABEL[k] ?? k),
    series: cats.map((c) => ({ name: c, data: kinds.map((k) => count(k, c)), stack: 'kind' })),
    drill: kc.drill ? (k, s) => ctx.drill(kc.drill, `${k}/${cats[s]}`, `Active ${KIND_LABEL[k] ?? k} pairs, category ${cats[s]}`) : null,
    horizontal: true, xName: 'kind',
  });
  bars(g, ctx, 'corpus.by_category', 'Active pairs by category', d.by_category, { horizontal: true });
  bars(g, ctx, 'corpus.staging_by_status', 'Staging by status', d.staging_by_status, { horizontal: true });
  if (d.staging_by_source_kind) bars(g, ctx, 'corpus.staging_by_source_kind', 'Staged pairs (unretired) by source kind', d.staging_by_source_kind, { labels: (i) => KIND_LABEL[i.key] ?? i.key, horizontal: true });
  const gv = d.growth_by_version;
  chart(g, {
    name: 'corpus.growth_by_version', title: 'Growth per corpus version', rows: gv.rows, x: gv.items.map((i) => i.key), labels: gv.items.map((i) => `v${i.version}${i.kind === 'rollback' ? ' ↺' : ''}`),
    series: [
      { name: 'added', data: gv.items.map((i) => i.added), color: SERIES_COLOR.added },
      { name: 'retired', data: gv.items.map((i) => i.retired), color: SERIES_COLOR.retired },
      { name: 'active', data: gv.items.map((i) => i.active), type: 'line', axis: 1, color: SERIES_COLOR.active },
    ],
    drill: gv.drill ? (key) => ctx.drill(gv.drill, key, `Pairs added by version ${key}`) : null, xName: 'version',
  });
  const gd = d.growth_by_day;
  chart(g, {
    name: 'corpus.growth_by_day', title: 'Active pairs by day promoted (UTC)', rows: gd.rows, x: gd.items.map((i) => i.key), time: true, bucketMs: 86400e3,
    series: [{ name: 'promoted', data: gd.items.map((i) => i.count), color: SERIES_COLOR.added }, { name: 'cumulative', data: gd.items.map((i) => i.cumulative), type: 'line', axis: 1, color: SERIES_COLOR.active }],
    drill: gd.drill ? (key) => ctx.drill(gd.drill, key, `Pairs promoted on ${key}`) : null, xName: 'day',
  });
  const runs = d.runs;
  chart(g, {
    name: 'corpus.runs', title: 'Pairs added and retired per run', rows: runs.rows, x: runs.items.map((i) => i.key), labels: runs.items.map((i) => `${i.command} ${fmt.time(i.finished_at).slice(5, 16)}`), wide: true,
    series: [
      { name: 'added', data: runs.items.map((i) => i.added), color: SERIES_COLOR.added },
      { name: 'retired', data: runs.items.map((i) => i.retired), color: SERIES_COLOR.retired },
      { name: 'rejected', data: runs.items.map((i) => i.rejected), color: SERIES_COLOR.rejected },
    ],
    drill: (key, s) => (s === 0 ? ctx.drill('corpus.run_added', key, `Pairs run ${key} added`) : s === 1 ? ctx.drill('corpus.run_retired', key, `Pairs run ${key} retired`) : ctx.drill('quality.reject_reason', '', 'Rejected pairs')),
    xName: 'run',
  });
}

// ------------------------------------------------------------------------------------------ quality
export function quality(body, d, ctx) {
  const m = d.model_written;
  tiles(body,
    tile('judged by the model', d.judge.judged, { metric: 'judged' }),
    tile('model-written pairs', m.total, { metric: 'model_written' }),
    tile('pass rate of model-written', m.pass_rate, { metric: 'pass_rate', format: fmt.pct }),
    tile('hallucination-detection rate', m.hallucination_detection_rate, { metric: 'hallucination_detection_rate', format: fmt.pct, title: `${m.hallucinations_caught} of ${m.total} model-written pairs rejected as unsupported, ungrounded or by the judge` }),
    tile('near-duplicate rate', d.near_duplicates.rate, { metric: 'near_duplicate_rate', format: fmt.pct, drill: () => ctx.drill('quality.near_dup', '', 'Near-duplicate pairs') }),
    tile('provenance verified', d.provenance.rate, { metric: 'provenance_rate', format: fmt.pct, title: d.provenance.note ?? `${d.provenance.resolved} of ${d.provenance.checked} checked pairs resolve`, drill: d.provenance.checked > d.provenance.resolved ? () => ctx.drill('quality.provenance', 'not_resolved', 'Pairs whose provenance did not resolve') : undefined }),
    tile('feedback', d.feedback.rows, { metric: 'feedback' }),
    tile('corrections proposed', d.corrections.proposed, { metric: 'corrections_proposed' }),
    tile('corrections accepted', d.corrections.accepted, { metric: 'corrections_accepted', cls: 'good' }),
  );
  const g = section(body);
  bars(g, ctx, 'quality.judge_verdicts', 'Judge verdicts', d.judge.verdicts);
  bars(g, ctx, 'quality.judge_scores', 'Judge scores (1–5)', d.judge.scores);
  bars(g, ctx, 'quality.quality_scores', 'Quality score histogram (active)', d.quality_scores, { labels: (i) => `${i.lo.toFixed(1)}–${i.hi.toFixed(1)}`, xName: 'score' });
  bars(g, ctx, 'quality.hardness', 'Retrieval hardness', d.hardness);
  bars(g, ctx, 'quality.provenance', 'Provenance checks (last check of each pair)', d.provenance, { note: d.provenance.note ?? undefined });
  bars(g, ctx, 'quality.model_reject_reasons', 'Model-written pairs rejected, by reason', m.reject_reasons, { horizontal: true, color: SERIES_COLOR.rejected });
  bars(g, ctx, 'quality.reject_reasons', 'Rejected pairs by reason', d.reject_reasons, { horizontal: true, color: SERIES_COLOR.rejected });
  overTime(g, 'quality.reject_reasons_by_day', 'Reject reasons by day', d.reject_reasons_by_day);
  bars(g, ctx, 'quality.skip_reasons', 'Skipped files by reason', d.skip_reasons, { horizontal: true, color: '#5b6b82' });
  overTime(g, 'quality.skip_reasons_by_day', 'Skip reasons by day', d.skip_reasons_by_day);
  bars(g, ctx, 'quality.feedback_by_rating', 'Feedback by rating', d.feedback.by_rating);
  bars(g, ctx, 'quality.feedback_by_reason', 'Feedback by reason', d.feedback.by_reason);
  bars(g, ctx, 'quality.corrections_by_status', 'Corrections by review state', d.corrections.by_status);
}

// --------------------------------------------------------------------------------------- retraining
/** A gate as recorded: passed / failed, with when and why in its title. */
function gateTile(label, gate, metric, why) {
  const value = gate ? (gate.passed ? 'passed' : 'failed') : null;
  return tile(label, value, { metric, format: (x) => x ?? '–', cls: gate ? (gate.passed ? 'good' : 'bad') : undefined, title: gate ? [fmt.time(gate.at), why(gate)].filter(Boolean).join(' · ') : 'not recorded yet' });
}

export function retraining(body, d, ctx) {
  const v = d.versions;
  tiles(body,
    tile('corpus versions', v.items.length, { metric: 'versions' }),
    tile('rollbacks', v.items.filter((i) => i.kind === 'rollback').length, { metric: 'rollbacks' }),
    tile('fine-tune triggers', d.finetunes.items.length, { metric: 'finetunes' }),
    tile('last feedback retrain', d.last_retrain ? fmt.time(d.last_retrain.at) : null, { metric: 'last_retrain', format: (x) => x ?? '–' }),
    gateTile('last promotion gate', d.gates?.promotion, 'promotion_gate', (x) => x.reasons.join(', ')),
    gateTile('last eval gate', d.gates?.eval, 'eval_gate', (x) => [x.version !== null ? `v${x.version}` : '', x.reason ?? '', x.rolled_back ? 'rolled back' : ''].filter(Boolean).join(' · ')),
  );
  const g = section(body);
  chart(g, {
    name: 'retraining.versions', title: 'Corpus versions: pairs added / retired, active after', rows: v.rows, x: v.items.map((i) => i.key), labels: v.items.map((i) => `v${i.version}${i.kind === 'rollback' ? ' ↺' : ''}${i.tags.length ? ` [${i.tags.join(',')}]` : ''}`), wide: true,
    series: [
      { name: 'added', data: v.items.map((i) => i.added_filtered), color: SERIES_COLOR.added },
      { name: 'retired', data: v.items.map((i) => i.retired_filtered), color: SERIES_COLOR.retired },
      { name: 'active', data: v.items.map((i) => i.active_filtered), type: 'line', axis: 1, color: SERIES_COLOR.active },
    ],
    drill: v.drill ? (key) => ctx.drill(v.drill, key, `Pairs added by version ${key}`) : null, xName: 'version',
  });
  const e = d.evals;
  chart(g, {
    name: 'retraining.evals', title: 'Retrieval evals per version (recall@10, MRR, nDCG)', rows: e.rows, x: e.items.map((i) => i.key), labels: e.items.map((i) => `v${i.corpus_version} ${i.set_id}/${i.mode}`), wide: true, pct: true, pctMax: 1,
    series: [
      { name: 'recall@10', data: e.items.map((i) => i.recall_at_10), type: 'line' },
      { name: 'MRR@10', data: e.items.map((i) => i.mrr_at_10), type: 'line' },
      { name: 'nDCG@10', data: e.items.map((i) => i.ndcg_at_10), type: 'line' },
    ],
    drill: (key) => ctx.drill('corpus.version', String(e.items.find((i) => i.key === key)?.corpus_version ?? ''), `Pairs added by version ${e.items.find((i) => i.key === key)?.corpus_version}`),
    xName: 'eval',
  });
  // The timeline as a table: tags, rollbacks, the gate's eval, the fine-tune trigger.
  const t = el('table', { class: 'timeline', 'data-table': 'versions' });
  t.append(el('thead', {}, el('tr', {}, ['version', 'at', 'kind', '+added', '−retired', 'active', 'tags', 'eval (recall@10 / MRR / nDCG)', 'fine-tune'].map((h) => el('th', { text: h })))));
  const tb = el('tbody');
  for (const i of [...v.items].reverse()) {
    const tr = el('tr', { 'data-key': i.key, 'data-drill': '', tabindex: 0 },
      el('td', { text: `v${i.version}` }), el('td', { text: fmt.time(i.at) }),
      el('td', { text: i.kind === 'rollback' ? `rollback to v${i.rolled_back_to}${i.reason ? ` (${i.reason})` : ''}` : i.undone_by !== null ? `promotion (undone by v${i.undone_by})` : 'promotion' }),
      el('td', { class: 'n', 'data-series': 'added', 'data-value': i.added_filtered, text: fmt.n(i.added_filtered) }), el('td', { class: 'n', 'data-series': 'retired', 'data-value': i.retired_filtered, text: fmt.n(i.retired_filtered) }),
      el('td', { class: 'n', 'data-series': 'active', 'data-value': i.active_filtered, text: fmt.n(i.active_filtered) }), el('td', { text: i.tags.join(', ') }),
      el('td', { text: i.eval ? `${fmt.pct(i.eval.recall_at_10)} / ${fmt.n(i.eval.mrr_at_10)} / ${fmt.n(i.eval.ndcg_at_10)} (${i.eval.set_id})` : '–' }),
      el('td', { text: i.finetune ? `${i.finetune.kind}: ${i.finetune.detail}` : '–' }));
    tr.addEventListener('click', () => ctx.drill('corpus.version', i.key, `Pairs added by version ${i.key}`));
    tb.append(tr);
  }
  t.append(tb);
  body.append(el('h3', { class: 'sub', text: 'Timeline' }), t);
  const et = el('table', { class: 'evals', 'data-table': 'evals' });
  et.append(el('thead', {}, el('tr', {}, ['version', 'set / mode', 'embedder', 'questions', 'recall@10', 'MRR@10', 'nDCG@10', 'change from', 'Δ recall', 'Δ MRR', 'Δ nDCG'].map((h) => el('th', { text: h })))));
  const sgn = (x) => (x === null || x === undefined ? '–' : `${x >= 0 ? '+' : ''}${(Math.round(x * 1000) / 1000).toFixed(3)}`);
  const eb = el('tbody');
  for (const i of e.items)
    eb.append(el('tr', { 'data-key': i.key },
      el('td', { text: `v${i.corpus_version}` }), el('td', { text: `${i.set_id} / ${i.mode}${i.kind ? ` (${i.kind})` : ''}` }), el('td', { text: i.embedder }), el('td', { class: 'n', text: i.questions }),
      el('td', { class: 'n', 'data-series': 'recall_at_10', 'data-value': i.recall_at_10, text: fmt.n(i.recall_at_10) }), el('td', { class: 'n', 'data-series': 'mrr_at_10', 'data-value': i.mrr_at_10, text: fmt.n(i.mrr_at_10) }),
      el('td', { class: 'n', 'data-series': 'ndcg_at_10', 'data-value': i.ndcg_at_10, text: fmt.n(i.ndcg_at_10) }), el('td', { text: i.before_version !== null ? `v${i.before_version}` : '–' }),
      el('td', { class: 'n', text: sgn(i.delta?.recall_at_10) }), el('td', { class: 'n', text: sgn(i.delta?.mrr_at_10) }), el('td', { class: 'n', text: sgn(i.delta?.ndcg_at_10) })));
  et.append(eb);
  body.append(el('h3', { class: 'sub', text: 'Evals before / after each version' }), e.items.length ? et : el('p', { class: 'note', text: 'no evals recorded for these filters (qaforge eval retrieval records one)' }));
  const ft = el('table', { class: 'finetunes', 'data-table': 'finetunes' });
  ft.append(el('thead', {}, el('tr', {}, ['version', 'kind', 'outcome', 'detail', 'at'].map((h) => el('th', { text: h })))));
  const fb = el('tbody');
  for (const f of d.finetunes.items) fb.append(el('tr', { 'data-key': f.key }, el('td', { text: `v${f.version}` }), el('td', { text: f.kind }), el('td', { text: f.outcome }), el('td', { text: f.detail }), el('td', { text: fmt.time(f.at) })));
  ft.append(fb);
  body.append(el('h3', { class: 'sub', text: 'Fine-tune triggers' }), d.finetunes.items.length ? ft : el('p', { class: 'note', text: 'no fine-tune triggers for these filters' }));
}

// ------------------------------------------------------------------------------------------- online
export function online(body, d, ctx) {
  const t = d.totals;
  tiles(body,
    tile('requests', t.requests, { metric: 'requests', drill: () => ctx.drill('online.all', '', 'All requests') }),
    tile('errors', t.errors, { metric: 'errors', cls: t.errors ? 'bad' : undefined }),
    tile('error rate', t.error_rate, { metric: 'error_rate', format: fmt.pct }),
    tile('abstained', t.abstained, { metric: 'abstained' }),
    tile('abstention rate', t.abstention_rate, { metric: 'abstention_rate', format: fmt.pct }),
    tile('real', t.real, { metric: 'real' }),
    tile('synthetic', t.synthetic, { metric: 'synthetic' }),
    tile('latency p50 (total)', t.latency.total.p50, { metric: 'latency_p50', format: fmt.ms }),
    tile('latency p95 (total)', t.latency.total.p95, { metric: 'latency_p95', format: fmt.ms }),
  );
  const s = d.series;
  const x = s.items.map((i) => i.key);
  const bucket = d.bucket_ms >= 3600e3 ? `${d.bucket_ms / 3600e3} h` : `${d.bucket_ms / 60e3} min`;
  const drillBucket = (key) => ctx.drill(s.drill ?? 'online.bucket', key, `Requests from ${fmt.time(key)} (${bucket})`);
  const g = section(body);
  chart(g, {
    name: 'online.requests', title: `Requests per minute (buckets of ${bucket}), real and synthetic`, rows: s.rows, x, time: true, bucketMs: d.bucket_ms, wide: true,
    series: [
      { name: 'real', data: s.items.map((i) => i.real), stack: 'traffic', color: SERIES_COLOR.real },
      { name: 'synthetic', data: s.items.map((i) => i.synthetic), stack: 'traffic', color: SERIES_COLOR.synthetic },
      { name: 'per minute', data: s.items.map((i) => i.per_minute), type: 'line', axis: 1, color: '#5b6b82' },
    ],
    drill: drillBucket, xName: 'bucket',
  });
  chart(g, {
    name: 'online.latency', title: 'Latency p50 / p95 per part (ms)', rows: s.rows, x, time: true, bucketMs: d.bucket_ms, wide: true,
    series: ['retrieve', 'generate', 'total'].flatMap((part) => ['p50', 'p95'].map((p) => ({ name: `${part} ${p}`, data: s.items.map((i) => i.latency[part][p]), type: 'line' }))),
    drill: drillBucket, xName: 'bucket',
  });
  chart(g, {
    name: 'online.errors', title: 'Errors and abstentions', rows: s.rows, x, time: true, bucketMs: d.bucket_ms,
    series: [{ name: 'errors', data: s.items.map((i) => i.errors), color: SERIES_COLOR.errors }, { name: 'abstained', data: s.items.map((i) => i.abstained), color: SERIES_COLOR.abstained }],
    drill: drillBucket, xName: 'bucket',
  });
  bars(g, ctx, 'online.by_status', 'Requests by status', d.by_status);
  bars(g, ctx, 'online.by_route', 'Requests by route', d.by_route);
  const tr = d.trending;
  // The top clusters as the API orders them (the chart), every cluster in the table below it.
  const top = tr.items.slice(0, TOP_CLUSTERS);
  chart(g, {
    name: 'online.trending', title: `Trending questions: the top ${top.length} of ${tr.items.length} clusters, this window and the previous one`, rows: tr.rows, x: top.map((i) => i.key), labels: top.map((i) => clip(i.example, 70)), horizontal: true, wide: true, height: 120 + 24 * top.length, labelWidth: 330,
    series: [{ name: 'count', data: top.map((i) => i.count), color: SERIES_COLOR.active }, { name: 'previous window', data: top.map((i) => i.previous), color: '#9aa5b8' }],
    drill: (key) => ctx.drill(tr.drill, key, `Questions like “${clip(tr.items.find((i) => i.key === key)?.example ?? key, 60)}”`), xName: 'cluster',
    note: `${tr.window ? `window ${fmt.time(tr.window.from)} → ${fmt.time(tr.window.to)}` : 'no window'}${tr.previous ? `, against ${fmt.time(tr.previous.from)} → ${fmt.time(tr.previous.to)}` : ''}; embedded with ${tr.embedder}, joined at cosine ≥ ${tr.threshold}${tr.unclustered ? `; ${tr.unclustered} questions past the cap not clustered` : ''}`,
  });
  const ct = el('table', { class: 'trending', 'data-table': 'trending' });
  ct.append(el('thead', {}, el('tr', {}, ['example question', 'count', 'previous window', 'growth'].map((h) => el('th', { text: h })))));
  const cb = el('tbody');
  for (const c of tr.items) {
    const row = el('tr', { 'data-key': c.key, 'data-drill': '', tabindex: 0 }, el('td', { text: c.example }), el('td', { class: 'n', 'data-series': 'count', 'data-value': c.count, text: c.count }), el('td', { class: 'n', 'data-series': 'previous', 'data-value': c.previous, text: c.previous }), el('td', { class: 'n', text: c.growth === null ? 'new' : `${c.growth >= 0 ? '+' : ''}${fmt.pct(c.growth)}` }));
    row.addEventListener('click', () => ctx.drill(tr.drill, c.key, `Questions like “${clip(c.example, 60)}”`));
    cb.append(row);
  }
  ct.append(cb);
  if (tr.items.length) body.append(el('details', { class: 'more', open: tr.items.length <= TOP_CLUSTERS }, el('summary', { text: `all ${tr.items.length} clusters (example, count, previous window, growth)` }), ct));
}

const TOP_CLUSTERS = 10;
const MAX_NAMED = 5;
const named = (list) => (list.length > MAX_NAMED ? `${list.slice(0, MAX_NAMED).join(', ')} and ${list.length - MAX_NAMED} more` : list.join(', '));
const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

// -------------------------------------------------------------------------------------------- drift
/** Shares of each bin, new against reference; past `maxBins` bins, those contributing most to the PSI. */
function psiChart(parent, ctx, name, title, psi, drill, labels = null, maxBins = 24) {
  const bins = psi.bins.length > maxBins ? [...psi.bins].sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution)).slice(0, maxBins) : psi.bins;
  const fig = chart(parent, {
    name, title, rows: psi.actual_rows + psi.expected_rows, x: bins.map((b) => b.key), labels: labels ? bins.map((b) => clip(labels[b.key] ?? b.key, 24)) : undefined, pct: true,
    series: [{ name: 'new', data: bins.map((b) => b.actual_share), color: '#e08a1e' }, { name: 'reference', data: bins.map((b) => b.expected_share), color: '#2b5797' }],
    note: bins.length < psi.bins.length ? `the ${bins.length} of ${psi.bins.length} bins that contribute most to the PSI` : undefined,
    drill: drill ? (key) => ctx.drill(drill, key, `${title}: ${key}`) : null, xName: 'bin',
  });
  const flag = psi.psi === null ? 'no data' : psi.drifting ? 'drifting' : 'stable';
  fig.insertBefore(
    el('div', { class: 'psi', 'data-psi': psi.psi ?? '', 'data-drifting': psi.drifting },
      el('span', { text: `PSI ${psi.psi === null ? '–' : psi.psi.toFixed(3)}` }), el('span', { class: 'note', text: `threshold ${psi.threshold}` }),
      el('span', { class: `flag ${psi.psi === null ? 'nodata' : psi.drifting ? 'drifting' : 'stable'}`, text: flag, title: psi.psi === null ? 'nothing to compare against' : undefined }),
      el('span', { class: 'note', text: `(${psi.actual_rows} new vs ${psi.expected_rows} reference rows)` }),
      psi.drifting_keys.length ? el('span', { class: 'named', text: `drifting: ${named(psi.drifting_keys.map((k) => clip(labels?.[k] ?? k, 60)))}` }) : ''),
    fig.children[1],
  );
  return fig;
}

export function drift(body, d, ctx) {
  const b = d.batch;
  const all = [['batch source kind', b.source_kind], ['batch category', b.category], ['query topics', d.topics.psi]];
  const g = section(body);
  chart(g, {
    name: 'drift.psi', title: 'Population stability index (threshold dashed)', rows: d.rows, x: all.map(([n]) => n),
    series: [{ name: 'PSI', data: all.map(([, p]) => p.psi ?? 0), color: '#7b4fa6' }],
    markLine: { value: all[0][1].threshold, label: `drift ≥ ${all[0][1].threshold}` }, xName: 'mix',
  });
  const against = b.against_version === null ? 'the first batch: no corpus before it to compare with' : `against the corpus at v${b.against_version}`;
  g.append(el('div', { class: 'drifting-named' },
    el('p', { 'data-drifting-categories': b.drifting_categories.join(','), text: b.drifting_categories.length ? `Drifting categories in batch v${b.version} (${against}): ${named(b.drifting_categories)}` : `No drifting category in ${b.version === null ? 'the latest batch' : `batch v${b.version}`} (${against}).` }),
    el('p', { 'data-drifting-topics': d.topics.drifting_topics.map((t) => t.key).join(','), text: d.topics.drifting_topics.length ? `Drifting query topics: ${named(d.topics.drifting_topics.map((t) => `“${clip(t.example, 50)}”`))}` : 'No drifting query topic against the previous window.' }),
  ));
  psiChart(g, ctx, 'drift.source_kind', `Batch v${b.version ?? '–'} vs ${b.against_version === null ? 'nothing before it' : `corpus v${b.against_version}`}: source kinds`, b.source_kind, 'drift.source_kind');
  psiChart(g, ctx, 'drift.category', `Batch v${b.version ?? '–'} vs ${b.against_version === null ? 'nothing before it' : `corpus v${b.against_version}`}: categories`, b.category, 'drift.category');
  const topicLabels = { ...(ctx.clusterExamples ?? {}), ...Object.fromEntries(d.topics.drifting_topics.map((t) => [t.key, t.example])) };
  psiChart(g, ctx, 'drift.topics', 'Query topics: recent vs previous window', d.topics.psi, 'online.cluster', topicLabels, 16);
}
