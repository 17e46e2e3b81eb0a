// Drill-down: the rows behind a bar or point (GET /api/dashboard/rows?panel=&key=&<filters>), and a pair
// with its provenance (GET /api/dashboard/pair/:id): the cited source lines with their numbers, the
// commit, and the GitHub permalink.
import { ApiError, getJson } from './api.js';
import { el, fmt } from './charts.js';

const dialog = () => /** @type {HTMLDialogElement} */ (document.getElementById('drill'));
const body = () => document.getElementById('drill-body');
const title = (t) => (document.getElementById('drill-title').textContent = t);
const PAGE = 50;
let current = null;

export function initDrill() {
  document.getElementById('drill-close').addEventListener('click', () => dialog().close());
  dialog().addEventListener('click', (e) => e.target === dialog() && dialog().close());
}

function show() {
  if (!dialog().open) dialog().showModal();
}

function failed(e) {
  body().replaceChildren(el('p', { class: 'state error', text: e instanceof ApiError ? `${e.message} (${e.status || 'no answer'})` : String(e) }));
}

/** The rows of drill-down `panel` for bar `key` under the filters. */
export async function openRows(panel, key, label, filters, offset = 0) {
  current = { panel, key, label, filters };
  title(`${label}`);
  body().replaceChildren(el('p', { class: 'state', text: 'loading rows…' }));
  show();
  const p = new URLSearchParams(filters);
  p.set('panel', panel);
  p.set('key', key);
  p.set('limit', String(PAGE));
  p.set('offset', String(offset));
  let r;
  try {
    r = await getJson('rows', p);
  } catch (e) {
    return failed(e);
  }
  if (current?.panel !== panel || current.key !== key) return;
  const b = body();
  b.replaceChildren(el('p', { class: 'note', 'data-total': r.total, text: `${fmt.n(r.total)} ${r.kind} · drill-down ${panel}${key ? ` = ${key}` : ''}` }));
  if (!r.items.length) {
    b.append(el('p', { class: 'state', text: 'no rows for these filters' }));
    return;
  }
  b.append(r.kind === 'pairs' ? pairsTable(r.items, filters) : queriesTable(r.items, filters));
  if (r.total > PAGE) {
    const pager = el('div', { class: 'pager' });
    if (offset > 0) pager.append(el('button', { type: 'button', class: 'back', text: '← previous', onclick: () => openRows(panel, key, label, filters, Math.max(0, offset - PAGE)) }));
    pager.append(el('span', { text: `${offset + 1}–${Math.min(offset + r.items.length, r.total)} of ${fmt.n(r.total)}` }));
    if (offset + r.items.length < r.total) pager.append(el('button', { type: 'button', class: 'back', text: 'next →', onclick: () => openRows(panel, key, label, filters, offset + PAGE) }));
    b.append(pager);
  }
}

function pairsTable(items, filters) {
  const t = el('table', { class: 'rows-table', 'data-kind': 'pairs' });
  t.append(el('thead', {}, el('tr', {}, ['question', 'kind', 'category', 'where', 'score', 'hardness', 'status'].map((h) => el('th', { text: h })))));
  const tb = el('tbody');
  for (const p of items) {
    const where = p.path ? `${p.path}${p.start_line ? `:${p.start_line}${p.end_line && p.end_line !== p.start_line ? `-${p.end_line}` : ''}` : ''}` : '–';
    const tr = el('tr', { 'data-drill': '', 'data-pair': p.id, tabindex: 0, title: 'open the pair with its source lines' },
      el('td', { text: p.question }), el('td', { text: p.source_kind }), el('td', { text: p.category }), el('td', { text: where }),
      el('td', { class: 'n', text: fmt.n(p.quality_score) }), el('td', { text: p.hardness ?? '–' }),
      el('td', { text: `${p.table}${p.status && p.status !== p.table ? ` · ${p.status}` : ''}${p.reasons?.length ? ` (${p.reasons.join(', ')})` : ''}` }));
    const open = () => openPair(p.id, () => reopen(filters));
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (e) => e.key === 'Enter' && open());
    tb.append(tr);
  }
  t.append(tb);
  return t;
}

function queriesTable(items, filters) {
  const t = el('table', { class: 'rows-table', 'data-kind': 'queries' });
  t.append(el('thead', {}, el('tr', {}, ['at', 'question', 'route', 'status', 'latency', 'traffic', 'feedback', 'top citation'].map((h) => el('th', { text: h })))));
  const tb = el('tbody');
  for (const q of items) {
    const tr = el('tr', { 'data-query': q.query_id, ...(q.top_pair_id ? { 'data-drill': '', 'data-pair': q.top_pair_id, tabindex: 0, title: 'open the pair it cited first' } : {}) },
      el('td', { text: fmt.time(q.at) }), el('td', { text: q.question }), el('td', { text: q.route }),
      el('td', { text: `${q.status}${q.abstained ? ' · abstained' : ''}` }), el('td', { class: 'n', text: fmt.ms(q.latency_total) }),
      el('td', { text: q.synthetic ? 'synthetic' : 'real' }), el('td', { text: q.rating ? `${q.rating}${q.reason ? ` (${q.reason})` : ''}` : '–' }),
      el('td', { text: q.top_source_kind ?? '–' }));
    if (q.top_pair_id) {
      const open = () => openPair(q.top_pair_id, () => reopen(filters));
      tr.addEventListener('click', open);
      tr.addEventListener('keydown', (e) => e.key === 'Enter' && open());
    }
    tb.append(tr);
  }
  t.append(tb);
  return t;
}

function reopen(filters) {
  if (current) void openRows(current.panel, current.key, current.label, filters);
}

/** One pair with its provenance. */
export async function openPair(id, back) {
  title('Pair');
  body().replaceChildren(el('p', { class: 'state', text: 'loading the pair…' }));
  show();
  let p;
  try {
    p = await getJson(`pair/${encodeURIComponent(id)}`);
  } catch (e) {
    return failed(e);
  }
  const v = p.provenance;
  const lines = v.start_line ? `${v.start_line}${v.end_line && v.end_line !== v.start_line ? `–${v.end_line}` : ''}` : null;
  const box = el('article', { class: 'pair', 'data-pair': p.id });
  if (back) box.append(el('button', { type: 'button', class: 'back', text: '← rows', onclick: back }));
  box.append(
    el('h3', { class: 'question', text: p.question }),
    el('div', { class: 'answer', text: p.answer }),
    el('dl', {},
      el('dt', { text: 'pair' }), el('dd', { text: `${p.id} · ${p.table} · ${p.status}${p.retired_reason ? ` (${p.retired_reason})` : ''}${p.reasons?.length ? ` · ${p.reasons.join(', ')}` : ''}` }),
      el('dt', { text: 'kind' }), el('dd', { text: `${p.source_kind} · ${p.category}` }),
      el('dt', { text: 'repo' }), el('dd', { text: v.repo }),
      el('dt', { text: 'source' }), el('dd', { class: 'where', text: [v.path, lines && `lines ${lines}`, v.qualname].filter(Boolean).join(' · ') || (v.pr ? `PR #${v.pr}` : v.issue ? `issue #${v.issue}` : '–') }),
      el('dt', { text: 'commit' }), el('dd', {}, el('code', { class: 'commit', text: p.commit })),
      el('dt', { text: 'permalink' }), el('dd', {}, p.permalink ? el('a', { class: 'permalink', href: p.permalink, target: '_blank', rel: 'noopener noreferrer', text: p.permalink }) : '–'),
      el('dt', { text: 'generator' }), el('dd', { text: [p.generator.name, p.generator.version, p.generator.model].filter(Boolean).join(' · ') }),
      el('dt', { text: 'quality' }), el('dd', { text: p.quality ? `${fmt.n(p.quality.score)}${p.quality.reasons.length ? ` (${p.quality.reasons.join(', ')})` : ''}` : '–' }),
      el('dt', { text: 'hardness' }), el('dd', { text: p.hardness ?? '–' }),
      el('dt', { text: 'provenance check' }), el('dd', { class: 'provenance-check', text: p.provenance_check ? `${p.provenance_check.resolved ? 'resolves' : `does not resolve: ${p.provenance_check.reason}`} at ${p.provenance_check.commit.slice(0, 12)} · ${fmt.time(p.provenance_check.checked_at)}` : 'not checked' }),
      ...(p.feedback ? [el('dt', { text: 'from feedback' }), el('dd', { text: `query ${p.feedback.query_id} · feedback ${p.feedback.feedback_id}` })] : []),
    ),
  );
  const src = el('table', {});
  for (const l of p.lines) src.append(el('tr', { class: l.cited ? 'cited' : undefined, 'data-line': l.n ?? '' }, el('td', { class: 'ln', text: l.n ?? '' }), el('td', { text: l.text })));
  box.append(el('div', { class: 'source', 'aria-label': 'source lines' }, src));
  if (p.verdicts.length) {
    const vt = el('table', { class: 'verdicts' });
    vt.append(el('thead', {}, el('tr', {}, ['check', 'pass', 'reason'].map((h) => el('th', { text: h })))));
    for (const x of p.verdicts) vt.append(el('tr', {}, el('td', { text: x.check }), el('td', { text: x.pass ? 'yes' : 'no' }), el('td', { text: [x.reason, x.detail].filter(Boolean).join(': ') || '' })));
    box.append(el('details', {}, el('summary', { text: `verdicts (${p.verdicts.length})` }), vt));
  }
  body().replaceChildren(box);
}
