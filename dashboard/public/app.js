// The dashboard: filters from the URL, the five panels from /api/dashboard/<panel> with those filters,
// drill-down on every bar, point and figure that has rows behind it.
import { ApiError, askForKey, forgetKey, getJson } from './api.js';
import { disposeWithin, el, fmt, rowsText } from './charts.js';
import { initDrill, openRows } from './drill.js';
import { describe, fromForm, fromSearch, rangeFrom, toForm, toParams } from './filters.js';
import * as render from './panels.js';

const PANELS = ['corpus', 'quality', 'retraining', 'online', 'drift'];
const form = /** @type {HTMLFormElement} */ (document.getElementById('filters'));
const status = (t) => (document.getElementById('status').textContent = t);
let filters = fromSearch(location.search);
let generation = 0;
let versionsKnown = false;

const ctx = {
  drill: (panel, key, label) => openRows(panel, key, label, toParams(filters)),
};

function panelEl(name) {
  return document.getElementById(`panel-${name}`);
}

async function loadPanel(name, gen, fetched) {
  const sec = panelEl(name);
  const body = sec.querySelector('.body');
  sec.classList.add('loading');
  sec.removeAttribute('data-loaded');
  try {
    const d = await fetched[name];
    // The drift panel names query topics by the example questions of the online panel's clusters.
    const more = name === 'drift' ? { clusterExamples: await fetched.online.then((o) => Object.fromEntries(o.trending.items.map((c) => [c.key, c.example])), () => ({})) } : {};
    if (gen !== generation) return;
    disposeWithin(body);
    body.replaceChildren();
    sec.querySelector('[data-rows]').textContent = `computed from ${rowsText(d.rows)}`;
    sec.dataset.rows = String(d.rows);
    const applied = d.applied ?? [];
    // Which of the set filters shaped this panel, and which do not concern its rows (said, not silently ignored).
    const set = Object.keys(filters).map((n) => (n === 'min_score' || n === 'max_score' ? 'score' : n));
    const used = applied.map((n) => (n === 'min_score' || n === 'max_score' ? 'score' : n));
    const unused = [...new Set(set.filter((n) => !used.includes(n)))];
    sec.querySelector('.applied').textContent = [used.length ? `filtered by ${[...new Set(used)].join(', ')}` : '', unused.length ? `${unused.join(', ')}: not applicable here` : ''].filter(Boolean).join(' · ');
    sec.dataset.applied = applied.join(',');
    if (!d.rows) body.append(el('p', { class: 'state empty', text: 'No rows for these filters.' }));
    render[name](body, d, { ...ctx, ...more });
    sec.dataset.loaded = String(gen);
    return d;
  } catch (e) {
    if (gen !== generation) return;
    disposeWithin(body);
    sec.querySelector('[data-rows]').textContent = '';
    sec.dataset.rows = '';
    const msg = e instanceof ApiError ? e.message : `could not draw the panel: ${e.message}`;
    const box = el('div', { class: 'state error', role: 'alert', 'data-error': e instanceof ApiError ? e.code : 'render' }, el('p', { text: msg }));
    if (e instanceof ApiError && e.status === 401) box.append(el('button', { type: 'button', class: 'back', text: 'enter an admin key', onclick: () => askForKey('The dashboard API needs an admin key.').then(loadAll, () => {}) }));
    body.replaceChildren(box);
    sec.dataset.loaded = String(gen);
    if (e instanceof ApiError && e.status === 400) showFilterError(e.message);
    if (!(e instanceof ApiError)) console.warn(e);
    return null;
  } finally {
    if (gen === generation) sec.classList.remove('loading');
  }
}

function showFilterError(msg) {
  const p = document.getElementById('filter-error');
  p.textContent = msg ? `The filters were refused: ${msg}` : '';
  p.hidden = !msg;
}

/** The version choices: every version the retraining panel lists (unfiltered), newest first. */
function fillVersions(retraining) {
  if (!retraining || versionsKnown) return;
  const sel = form.elements.namedItem('version');
  const have = new Set([...sel.options].map((o) => o.value));
  for (const v of [...retraining.versions.items].reverse()) {
    const value = String(v.version);
    if (!have.has(value)) sel.add(new Option(`v${v.version} · ${fmt.time(v.at).slice(0, 16)}${v.kind === 'rollback' ? ' (rollback)' : ''}`, value));
  }
  // Sort newest first after "latest".
  const opts = [...sel.options].slice(1).sort((a, b) => Number(b.value) - Number(a.value));
  for (const o of opts) sel.add(o);
  sel.value = filters.version ?? '';
  versionsKnown = !filters.version && !filters.to && !filters.from;
}

async function loadAll() {
  const gen = ++generation;
  showFilterError('');
  document.body.dataset.state = 'loading';
  status(`loading · ${describe(filters)}`);
  const t0 = performance.now();
  const params = toParams(filters);
  const fetched = Object.fromEntries(PANELS.map((p) => [p, getJson(p, params)]));
  const results = await Promise.all(PANELS.map((p) => loadPanel(p, gen, fetched)));
  if (gen !== generation) return;
  fillVersions(results[2]);
  const failed = results.filter((r) => r === null).length;
  status(`${describe(filters)} · ${failed ? `${failed} panel${failed > 1 ? 's' : ''} failed` : `updated ${new Date().toISOString().slice(11, 19)}Z in ${Math.round(performance.now() - t0)} ms`}`);
  document.body.dataset.state = failed ? 'error' : 'ready';
  document.body.dataset.generation = String(gen);
}

/** New filters: into the URL (a new history entry), then every panel. */
function apply(next) {
  filters = next;
  const qs = toParams(filters).toString();
  const url = `${location.pathname}${qs ? `?${qs}` : ''}`;
  if (url !== `${location.pathname}${location.search}`) history.pushState(null, '', url);
  toForm(form, filters);
  void loadAll();
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  apply(fromForm(form));
});
form.addEventListener('change', (e) => {
  // Text inputs apply on submit (Enter); checkboxes and selects at once.
  if (e.target.matches('select, input[type=checkbox]')) apply(fromForm(form));
});
for (const b of form.querySelectorAll('[data-range]'))
  b.addEventListener('click', () => {
    form.elements.namedItem('from').value = rangeFrom(b.dataset.range);
    form.elements.namedItem('to').value = '';
    apply(fromForm(form));
  });
document.getElementById('reset').addEventListener('click', () => apply({}));
document.getElementById('change-key').addEventListener('click', () => {
  forgetKey();
  askForKey('Enter an admin key for the dashboard API.').then(loadAll, () => {});
});
addEventListener('popstate', () => {
  filters = fromSearch(location.search);
  toForm(form, filters);
  void loadAll();
});

// Auto-refresh for watching live traffic: every panel every 30 s, not while a dialog is open or the tab is hidden.
const LIVE = 'qaforge.dashboard.live';
const live = /** @type {HTMLInputElement} */ (document.getElementById('live'));
let liveTimer = null;
function setLive(on, remember = true) {
  live.checked = on;
  if (remember) sessionStorage.setItem(LIVE, on ? '1' : '0');
  clearInterval(liveTimer);
  liveTimer = on ? setInterval(() => {
    if (!document.hidden && !document.querySelector('dialog[open]') && document.body.dataset.state !== 'loading') void loadAll();
  }, 30_000) : null;
}
live.addEventListener('change', () => setLive(live.checked));
setLive(sessionStorage.getItem(LIVE) === '1', false);

initDrill();
toForm(form, filters);
void loadAll();
