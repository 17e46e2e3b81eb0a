// The filters: one object, kept in the page's query string (so a view can be shared and a reload
// restores it) and sent as-is to every /api/dashboard endpoint. Names and values as dashboard/schema.ts's
// DashboardFilters parses them.
export const FILTER_NAMES = ['source_kind', 'from', 'to', 'version', 'min_score', 'max_score', 'hardness', 'traffic'];

/** The filters in a query string (unknown parameters are dropped). */
export function fromSearch(search) {
  const p = new URLSearchParams(search);
  const f = {};
  for (const n of FILTER_NAMES) {
    const v = p.get(n);
    if (v !== null && v.trim() !== '') f[n] = v.trim();
  }
  if (f.traffic === 'all') delete f.traffic;
  return f;
}

/** As URL parameters, in a fixed order. */
export function toParams(f) {
  const p = new URLSearchParams();
  for (const n of FILTER_NAMES) if (f[n] !== undefined && f[n] !== '') p.set(n, String(f[n]));
  return p;
}

/** The form's controls → filters. */
export function fromForm(form) {
  const fd = new FormData(form);
  const f = {};
  const kinds = fd.getAll('source_kind').map(String);
  if (kinds.length) f.source_kind = kinds.join(',');
  for (const n of ['from', 'to', 'version', 'min_score', 'max_score', 'hardness', 'traffic']) {
    const v = String(fd.get(n) ?? '').trim();
    if (v) f[n] = v;
  }
  return f;
}

/** Filters → the form's controls. */
export function toForm(form, f) {
  const kinds = new Set((f.source_kind ?? '').split(',').filter(Boolean));
  for (const box of form.querySelectorAll('input[name=source_kind]')) box.checked = kinds.has(box.value);
  for (const n of ['from', 'to', 'min_score', 'max_score']) form.elements.namedItem(n).value = f[n] ?? '';
  for (const n of ['version', 'hardness', 'traffic']) {
    const sel = form.elements.namedItem(n);
    const v = f[n] ?? '';
    if (v && ![...sel.options].some((o) => o.value === v)) sel.add(new Option(n === 'version' ? `v${v}` : v, v));
    sel.value = v;
  }
}

/** A short text of the active filters, for titles. */
export function describe(f) {
  const parts = FILTER_NAMES.filter((n) => f[n] !== undefined).map((n) => `${n}=${f[n]}`);
  return parts.length ? parts.join(' · ') : 'no filters';
}

const RANGES = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
/** `from` for a preset range ending now (ISO, seconds precision). */
export const rangeFrom = (name, now = Date.now()) => new Date(now - RANGES[name]).toISOString().replace(/\.\d{3}Z$/, 'Z');
