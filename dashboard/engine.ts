// The dashboard's figures: every panel and every drill-down computed from the in-memory indexes of
// dashboard/data.ts with one set of filter predicates, so a bar's count and the rows behind it are the
// same selection. Indexes are kept per table version; panel answers are cached per (panel, filters,
// versions of the tables it reads) and dropped when one of those versions changes.
import { listVersions, type DatasetVersion } from '../datasets/versions.js';
import { sqlString, type Stores, type TableName } from '../datasets/store.js';
import { METRICS } from '../evals/metrics.js';
import type { Embedder } from '../lib/models/types.js';
import type { Logger } from '../lib/log.js';
import {
  CATEGORIES,
  columnBatches,
  HARDNESS_LABELS,
  KINDS,
  ms,
  PairAttrs,
  PROVENANCE_LABELS,
  readAll,
  readFeedback,
  readPairTable,
  readSnapshot,
  snapshotOf,
  Tables,
  updateQueryIndex,
  VERDICTS,
  type FeedbackIndex,
  type PairTable,
  QueryIndex,
  type Snapshot,
} from './data.js';
import {
  DRILL_PANELS,
  PSI_THRESHOLD,
  type CorpusPanel,
  type DashboardFilters,
  type DriftPanel,
  type FilterName,
  type OnlinePanel,
  type PairRowOut,
  type Psi,
  type QualityPanel,
  type QueryRowOut,
  type RetrainingPanel,
  type RowsResponse,
  type Trending,
} from './schema.js';
import { BACKLOG_BATCH, normalizeQuestion, QuestionVectors, REQUEST_EMBED, TopicModel } from './topics.js';
import { fineTuneVersionOf, GATES_EVAL_LAST_KEY, GATES_LAST_KEY, RETRAIN_KEY } from '../datasets/state-keys.js';

/** An error the caller's request caused (the API answers 400/404 with it). */
export class DashboardRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Shares under this are taken as this in the PSI (a bin empty on one side). */
export const PSI_EPSILON = 1e-4;
const DAY = 86_400_000;
const MODEL_HALLUCINATION = new Set(['unsupported_claim', 'ungrounded', 'judge']);
const EVAL_KIND: Record<string, string> = { code_symbol: 'code', doc_section: 'docs', commit: 'commit', pull_request: 'pr', issue: 'issue' };

/** Filters as predicates. */
export class Filter {
  readonly kinds: Set<number> | null;
  readonly kindNames: Set<string> | null;
  readonly from: number;
  readonly to: number;
  readonly hardness: number;
  readonly pairFilters: boolean;
  readonly timed: boolean;
  constructor(
    readonly raw: DashboardFilters,
    private readonly attrs: PairAttrs,
  ) {
    this.kindNames = raw.source_kind ? new Set(raw.source_kind) : null;
    this.kinds = raw.source_kind ? new Set(raw.source_kind.map((k) => KINDS.indexOf(k))) : null;
    this.from = raw.from ? Date.parse(raw.from) : -Infinity;
    this.to = raw.to ? Date.parse(raw.to) : Infinity;
    this.timed = Boolean(raw.from || raw.to);
    this.hardness = raw.hardness ? HARDNESS_LABELS.indexOf(raw.hardness) : -1;
    this.pairFilters = Boolean(raw.source_kind || raw.min_score !== undefined || raw.max_score !== undefined || raw.hardness);
  }

  /** The pair filters (source kind, score, hardness) on a pair. */
  pair(g: number, kind = true): boolean {
    if (!this.pairFilters) return true;
    const a = this.attrs;
    if (kind && this.kinds && !this.kinds.has(a.kind[g]!)) return false;
    if (this.raw.min_score !== undefined || this.raw.max_score !== undefined) {
      const s = a.score[g]!;
      if (Number.isNaN(s)) return false;
      if (this.raw.min_score !== undefined && s < this.raw.min_score) return false;
      if (this.raw.max_score !== undefined && s > this.raw.max_score) return false;
    }
    if (this.hardness >= 0 && a.hardness[g] !== this.hardness) return false;
    return true;
  }

  time(t: number): boolean {
    if (!this.timed) return true;
    return t >= this.from && t < this.to;
  }

  traffic(synthetic: boolean): boolean {
    const t = this.raw.traffic ?? 'all';
    return t === 'all' || (t === 'synthetic') === synthetic;
  }

  /** The pair filters on a query: on its top citation (its pair's gid, -1 when unknown, and its source kind). */
  topCitation(hasTop: boolean, gid: number, kind: string | null): boolean {
    if (!this.pairFilters) return true;
    if (!hasTop) return false;
    if (this.kindNames && !(kind && this.kindNames.has(kind))) return false;
    if (this.raw.min_score !== undefined || this.raw.max_score !== undefined || this.hardness >= 0) return gid >= 0 && this.pair(gid, false);
    return true;
  }

  get set(): FilterName[] {
    return (Object.keys(this.raw) as FilterName[]).filter((k) => this.raw[k] !== undefined);
  }
}

/** Which filters restricted a panel. */
class Applied {
  private s = new Set<FilterName>();
  constructor(private readonly f: Filter) {}
  pair(): void {
    for (const k of ['source_kind', 'min_score', 'max_score', 'hardness'] as const) if (this.f.raw[k] !== undefined) this.s.add(k);
  }
  time(): void {
    for (const k of ['from', 'to'] as const) if (this.f.raw[k] !== undefined) this.s.add(k);
  }
  add(...ks: FilterName[]): void {
    for (const k of ks) if (this.f.raw[k] !== undefined) this.s.add(k);
  }
  list(): FilterName[] {
    return (['source_kind', 'from', 'to', 'version', 'min_score', 'max_score', 'hardness', 'traffic'] as const).filter((k) => this.s.has(k));
  }
}

const inc = (m: Map<string, number>, k: string, by = 1) => m.set(k, (m.get(k) ?? 0) + by);
const barsOf = (m: Map<string, number>, order?: readonly string[]) => {
  const items = [...m].map(([key, count]) => ({ key, count }));
  if (order) items.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key) || (a.key < b.key ? -1 : 1));
  else items.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
  return items;
};
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const DAYS = new Map<number, string>();
/** The UTC day of a time, as YYYY-MM-DD. */
const dayOf = (t: number) => {
  if (!Number.isFinite(t)) return 'unknown';
  const d = Math.floor(t / DAY);
  let s = DAYS.get(d);
  if (s === undefined) DAYS.set(d, (s = new Date(d * DAY).toISOString().slice(0, 10)));
  return s;
};
const ratio = (a: number, b: number) => (b ? a / b : null);
/** Nearest-rank p50 and p95 (as evals/metrics.ts nearestRank), on one numeric sort. */
const pcts = (xs: number[]) => {
  if (!xs.length) return { p50: null, p95: null };
  const a = Float64Array.from(xs).sort();
  const at = (q: number) => round(a[Math.min(a.length - 1, Math.ceil(q * a.length) - 1)]!);
  return { p50: at(0.5), p95: at(0.95) };
};
const round = (x: number) => Math.round(x * 1000) / 1000;
const iso = (t: number) => new Date(t).toISOString();

/** Population stability index of `actual` against `expected`, each share at least PSI_EPSILON. */
export function psiOf(actual: Map<string, number>, expected: Map<string, number>): Psi {
  const keys = [...new Set([...actual.keys(), ...expected.keys()])].sort();
  const na = sum(actual);
  const ne = sum(expected);
  const bins = keys.map((key) => {
    const a = actual.get(key) ?? 0;
    const e = expected.get(key) ?? 0;
    const as = Math.max(na ? a / na : 0, PSI_EPSILON);
    const es = Math.max(ne ? e / ne : 0, PSI_EPSILON);
    return { key, actual: a, expected: e, actual_share: round(na ? a / na : 0), expected_share: round(ne ? e / ne : 0), contribution: (as - es) * Math.log(as / es) };
  });
  const psi = na && ne ? bins.reduce((s, b) => s + b.contribution, 0) : null;
  const drifting = psi !== null && psi > PSI_THRESHOLD;
  // Named: the bins that carry the drift (each at least a quarter of the threshold), largest first; at least the largest.
  const ranked = [...bins].sort((a, b) => b.contribution - a.contribution);
  const named = drifting ? ranked.filter((b) => b.contribution >= PSI_THRESHOLD / 4).map((b) => b.key) : [];
  if (drifting && !named.length) named.push(ranked[0]!.key);
  return { psi: psi === null ? null : round(psi), threshold: PSI_THRESHOLD, drifting, drifting_keys: named, actual_rows: na, expected_rows: ne, bins: bins.map((b) => ({ ...b, contribution: round(b.contribution) })) };
}

interface CacheEntry {
  value: unknown;
  at: number;
}

type PairSel = { table: PairTable; rows: number[] };

/** One view of the data: the tables as of the filter's version (or the latest). */
interface View {
  tv: Record<string, number>;
  corpus: PairTable;
  snap: Snapshot;
  staging: PairTable;
  rejected: PairTable;
  versions: DatasetVersion[];
  /** Versions up to the filter's. */
  upTo: DatasetVersion[];
  tablesAt: Record<string, number> | null;
}

export interface TrendingResult extends Trending {
  /** Query row indexes of each cluster in the recent window. */
  members: Map<string, number[]>;
  previousCounts: Map<string, number>;
}

export class DashboardEngine {
  readonly attrs = new PairAttrs();
  private readonly tables: Tables;
  private pairTables = new Map<string, PairTable>();
  private snapshots = new Map<number, Snapshot>();
  private queries: QueryIndex | null = null;
  private feedbackIdx: FeedbackIndex | null = null;
  private small = new Map<string, { version: number; value: unknown }>();
  /** The table versions the pair labels were loaded at (-1: not yet). */
  private labelVersions = { hardness: -1, provenance_checks: -1 };
  private cache = new Map<string, CacheEntry>();
  readonly vectors: QuestionVectors;
  private loading = new Map<string, Promise<unknown>>();

  constructor(
    private readonly stores: Stores,
    embedder: Embedder | null,
    private readonly log?: Logger,
  ) {
    this.tables = new Tables(stores);
    this.vectors = new QuestionVectors(embedder);
  }

  private stopped = false;

  /** Stops background work: the backlog stops between batches, the warm-up before its next panel. */
  stop(): void {
    this.stopped = true;
  }

  close(): void {
    this.stopped = true;
    this.tables.close();
  }

  /** One load at a time per key. */
  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const p = this.loading.get(key) as Promise<T> | undefined;
    if (p) return p;
    const run = fn().finally(() => this.loading.delete(key));
    this.loading.set(key, run);
    return run;
  }

  async versionsOf(names: TableName[]): Promise<Record<string, number>> {
    // Together: each is a LanceDB manifest check when the handle is older than Tables' freshness window.
    const vs = await Promise.all(names.map((n) => this.tables.version(n)));
    return Object.fromEntries(names.map((n, i) => [n, vs[i]!]));
  }

  /** A pair table at a LanceDB version (the latest when version is null). */
  private async pairTable(name: PairTable['name'], version: number | null): Promise<PairTable> {
    const latest = await this.tables.get(name);
    const v = version ?? latest?.version ?? 0;
    const key = `${name}@${v}`;
    const hit = this.pairTables.get(key);
    if (hit) return hit;
    return this.once(key, async () => {
      const empty: PairTable = { name, version: v, n: 0, gid: new Int32Array(), status: [], at: new Float64Array(), retiredAt: new Float64Array(), run: [], reasons: [] };
      const t0 = performance.now();
      const table = !latest ? empty : v === latest.version ? await readPairTable(latest.t, name, v, this.attrs) : await this.tables.at(name, v, (t) => readPairTable(t, name, v, this.attrs));
      this.log?.debug({ table: name, version: v, rows: table.n, ms: Math.round(performance.now() - t0) }, 'dashboard index read');
      // Latest versions of a table are replaced by the next; old versions never change.
      for (const k of [...this.pairTables.keys()]) if (k.startsWith(`${name}@`) && this.pairTables.size > 9) this.pairTables.delete(k);
      this.pairTables.set(key, table);
      return table;
    });
  }

  private async snapshot(version: number): Promise<Snapshot> {
    const hit = this.snapshots.get(version);
    if (hit) return hit;
    const latest = await this.tables.get('corpus');
    if (latest && latest.version === version) {
      const s = snapshotOf(await this.pairTable('corpus', version));
      this.snapshots.set(version, s);
      return s;
    }
    return this.once(`snap@${version}`, async () => {
      let s: Snapshot;
      try {
        s = await this.tables.at('corpus', version, (t) => readSnapshot(t, version, this.attrs));
      } catch (e) {
        this.log?.warn({ version, err: (e as Error).message }, 'dashboard: corpus version not readable');
        s = { version, active: new Int32Array(), retired: new Int32Array() };
      }
      this.snapshots.set(version, s);
      return s;
    });
  }

  /** A small table read whole, per version. */
  private async smallTable<T>(name: TableName, cols: string[], map: (rows: Record<string, unknown>[]) => T, version?: number): Promise<T> {
    const latest = await this.tables.get(name);
    const v = version ?? latest?.version ?? 0;
    const key = `${name}@${v}:${cols.join(',')}`;
    const hit = this.small.get(key);
    if (hit) return hit.value as T;
    return this.once(key, async () => {
      const rows = !latest ? [] : v === latest.version ? await readAll(latest.t, cols) : await this.tables.at(name, v, (t) => readAll(t, cols));
      const value = map(rows);
      if (this.small.size > 64) this.small.clear();
      this.small.set(key, { version: v, value });
      return value;
    });
  }

  /** Per-pair labels from a small table (id → value), reloaded when its version changes. */
  private async pairLabels(name: 'hardness' | 'provenance_checks', column: string, reset: () => void, set: (g: number, value: unknown) => void): Promise<void> {
    const v = await this.tables.version(name);
    if (v === this.labelVersions[name]) return;
    const rows = await this.smallTable(name, ['id', column], (r) => r);
    reset();
    // The gid first: taking one may grow (replace) the columns `set` writes.
    for (const r of rows) set(this.attrs.gid(r.id as string), r[column]);
    this.labelVersions[name] = v;
  }

  private hardness(): Promise<void> {
    return this.pairLabels('hardness', 'label', () => this.attrs.clearHardness(), (g, label) => (this.attrs.hardness[g] = HARDNESS_LABELS.indexOf(label as never)));
  }

  private provenanceChecks(): Promise<void> {
    return this.pairLabels('provenance_checks', 'resolved', () => this.attrs.clearProvenance(), (g, resolved) => (this.attrs.provenance[g] = resolved ? 1 : 0));
  }

  private async versionList(): Promise<DatasetVersion[]> {
    const tv = await this.versionsOf(['versions', 'tags']);
    const key = `versions:${tv.versions}:${tv.tags}`;
    const hit = this.small.get(key);
    if (hit) return hit.value as DatasetVersion[];
    // listVersions reads through the service's own handles: move them to the versions just seen, or a
    // stale list would be cached under the new versions' key.
    if (tv.versions) for (const name of ['versions', 'tags'] as const) await (await this.stores.table(name)).checkoutLatest();
    const value = tv.versions ? await listVersions(this.stores) : [];
    this.small.set(key, { version: tv.versions!, value });
    return value;
  }

  /** The filter, checked against what exists (a version that is not a dataset version is a 400). */
  async filter(raw: DashboardFilters): Promise<Filter> {
    if (raw.version !== undefined) {
      const vs = await this.versionList();
      if (!vs.some((v) => v.version === raw.version))
        throw new DashboardRequestError(400, 'invalid_filter', `version: no dataset version ${raw.version} (${vs.length ? `versions ${vs.map((v) => v.version).join(', ')}` : 'no version yet: run qaforge promote'})`);
    }
    return new Filter(raw, this.attrs);
  }

  private async view(f: Filter): Promise<View> {
    const versions = await this.versionList();
    await this.hardness();
    await this.provenanceChecks();
    const V = f.raw.version;
    const rec = V === undefined ? null : versions.find((v) => v.version === V)!;
    const tablesAt = rec ? rec.tables : null;
    const corpus = await this.pairTable('corpus', rec ? rec.version : null);
    const staging = await this.pairTable('staging', tablesAt?.staging ?? null);
    const rejected = await this.pairTable('rejected', tablesAt?.rejected ?? null);
    const snap = await this.snapshot(corpus.version);
    return {
      tv: { corpus: corpus.version, staging: staging.version, rejected: rejected.version, versions: await this.tables.version('versions'), ...this.labelVersions },
      corpus,
      snap,
      staging,
      rejected,
      versions,
      upTo: V === undefined ? versions : versions.filter((v) => v.version <= V),
      tablesAt,
    };
  }

  /** Cached per (panel, filters, versions of what it reads). */
  private async cached<T extends { computed_ms: number; cached: boolean }>(panel: string, f: Filter, deps: TableName[], fn: () => Promise<T>): Promise<T> {
    const tv = await this.versionsOf(deps);
    // Answers with trending topics depend on how many questions are clustered yet, too.
    const topics = deps.includes('queries') ? this.topics.assigned : 0;
    const key = `${panel}|${JSON.stringify(f.raw)}|${JSON.stringify(tv)}|${topics}`;
    const hit = this.cache.get(key);
    if (hit) return { ...(hit.value as T), cached: true };
    const t0 = performance.now();
    const value = await this.once(key, fn);
    value.computed_ms = round(performance.now() - t0);
    if (this.cache.size > 300) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { value, at: Date.now() });
    return { ...value, cached: false };
  }

  // ------------------------------------------------------------------ selections
  /** Corpus rows (active and retired) passing the pair and time filters. */
  private corpusRows(v: View, f: Filter, status: 'active' | 'retired'): number[] {
    const t = v.corpus;
    const out: number[] = [];
    for (let i = 0; i < t.n; i++) if (t.status[i] === status && f.pair(t.gid[i]!) && f.time(t.at[i]!)) out.push(i);
    return out;
  }

  private tableRows(t: PairTable, f: Filter, keep: (i: number) => boolean = () => true): number[] {
    const out: number[] = [];
    for (let i = 0; i < t.n; i++) if (f.pair(t.gid[i]!) && f.time(t.at[i]!) && keep(i)) out.push(i);
    return out;
  }

  /** Per version (up to the filter's, in its time range): the filtered pairs it added, retired, and left active. */
  private async versionFigures(v: View, f: Filter): Promise<{ version: DatasetVersion; added: number[]; retired: number[]; active: number }[]> {
    const out: { version: DatasetVersion; added: number[]; retired: number[]; active: number }[] = [];
    let prev: Snapshot | null = null;
    const mark = new Uint8Array(this.attrs.ids.length + 1);
    for (const ver of v.upTo) {
      const s = await this.snapshot(ver.version);
      const inPrev = new Uint8Array(this.attrs.ids.length + 1);
      if (prev) for (const g of prev.active) inPrev[g] = 1;
      mark.fill(0);
      const added: number[] = [];
      let active = 0;
      for (const g of s.active) {
        mark[g] = 1;
        if (!f.pair(g)) continue;
        active++;
        if (!inPrev[g]) added.push(g);
      }
      const retired: number[] = [];
      if (prev) for (const g of prev.active) if (!mark[g] && f.pair(g)) retired.push(g);
      prev = s;
      if (f.time(ms(ver.at))) out.push({ version: ver, added, retired, active });
    }
    return out;
  }

  private async runs(v: View): Promise<{ run_id: string; command: string; started: number; finished: number; finished_at: string }[]> {
    return this.smallTable(
      'runs',
      ['run_id', 'command', 'started_at', 'finished_at'],
      (rows) =>
        rows
          .map((r) => ({ run_id: r.run_id as string, command: r.command as string, started: ms(r.started_at as string), finished: ms(r.finished_at as string), finished_at: r.finished_at as string }))
          .sort((a, b) => (a.finished_at < b.finished_at ? -1 : a.finished_at > b.finished_at ? 1 : 0)),
      v.tablesAt?.runs,
    );
  }

  private async skips(v: View): Promise<Map<string, Map<string, number>>> {
    const latest = await this.tables.get('skipped');
    const ver = v.tablesAt?.skipped ?? latest?.version ?? 0;
    const key = `skipped@${ver}`;
    const hit = this.small.get(key);
    if (hit) return hit.value as Map<string, Map<string, number>>;
    const out = new Map<string, Map<string, number>>();
    const read = async (t: import('@lancedb/lancedb').Table) => {
      for await (const { n, c } of columnBatches(t, ['run_id', 'reason'])) {
        for (let i = 0; i < n; i++) {
          const run = (c.run_id!.get(i) as string) ?? '';
          let m = out.get(run);
          if (!m) out.set(run, (m = new Map()));
          inc(m, c.reason!.get(i) as string);
        }
      }
    };
    if (latest) await (ver === latest.version ? read(latest.t) : this.tables.at('skipped', ver, read));
    this.small.set(key, { version: ver, value: out });
    return out;
  }

  private async queryIndex(): Promise<QueryIndex> {
    const h = await this.tables.get('queries');
    if (!h) return (this.queries ??= new QueryIndex());
    if (this.queries && this.queries.version === h.version) return this.queries;
    return this.once('queries', async () => {
      const t0 = performance.now();
      this.queries = await updateQueryIndex(h.t, h.version, this.queries);
      this.log?.debug({ rows: this.queries.n, ms: Math.round(performance.now() - t0) }, 'dashboard query index');
      return this.queries;
    });
  }

  private async feedback(): Promise<FeedbackIndex> {
    const h = await this.tables.get('feedback');
    if (!h) return { version: 0, n: 0, fid: [], qid: [], at: [], rating: [], reason: [], synthetic: [] };
    if (this.feedbackIdx && this.feedbackIdx.version === h.version) return this.feedbackIdx;
    return this.once('feedback', async () => (this.feedbackIdx = await readFeedback(h.t, h.version)));
  }

  /** The span of corpus versions that counts as dataset version V: from it to the next recorded version. */
  private versionSpan(versions: DatasetVersion[], V: number | undefined): [number, number] | null {
    if (V === undefined) return null;
    const next = versions.find((x) => x.version > V);
    return [V, next ? next.version : Infinity];
  }

  /** Query rows passing every filter. */
  private async queryRows(f: Filter): Promise<{ q: QueryIndex; rows: number[] }> {
    const q = await this.queryIndex();
    await this.hardness();
    if (f.pairFilters) await this.pairTable('corpus', null);
    const span = this.versionSpan(await this.versionList(), f.raw.version);
    const r = this.resolve(q);
    const rows: number[] = [];
    const all = (f.raw.traffic ?? 'all') === 'all' && !f.timed && !span && !f.pairFilters;
    for (let i = 0; i < q.n; i++) {
      if (all) {
        rows.push(i);
        continue;
      }
      if (!f.traffic(q.synthetic[i]!) || !f.time(q.at[i]!)) continue;
      if (span && !(q.corpusVersion[i]! >= span[0] && q.corpusVersion[i]! < span[1])) continue;
      if (!f.topCitation(q.topPair[i] !== null, r.topGid[i]!, q.topKind[i]!)) continue;
      rows.push(i);
    }
    return { q, rows };
  }

  private resolved: { q: QueryIndex; n: number; attrs: number; topGid: Int32Array; textId: Int32Array } | null = null;
  private textIds = new Map<string, number>();
  private texts: string[] = [];
  private examples: string[] = [];
  private topics = new TopicModel();

  /** Per query row: its top citation's gid and its normalised question's text id, resolved once per row. */
  private resolve(q: QueryIndex): { topGid: Int32Array; textId: Int32Array } {
    let r = this.resolved;
    if (r && r.q === q && r.n === q.n && r.attrs === this.attrs.ids.length) return r;
    const from = r && r.q === q && r.attrs === this.attrs.ids.length ? r.n : 0;
    const topGid = new Int32Array(q.n);
    const textId = new Int32Array(q.n);
    if (from && r) {
      topGid.set(r.topGid);
      textId.set(r.textId);
    }
    for (let i = from; i < q.n; i++) {
      const p = q.topPair[i];
      topGid[i] = p ? (this.attrs.map.get(p) ?? -1) : -1;
      const t = normalizeQuestion(q.question[i]!);
      let id = this.textIds.get(t);
      if (id === undefined) {
        id = this.texts.length;
        this.textIds.set(t, id);
        this.texts.push(t);
        this.examples.push(q.question[i]!);
      }
      textId[i] = id;
    }
    r = this.resolved = { q, n: q.n, attrs: this.attrs.ids.length, topGid, textId };
    return r;
  }

  /** Feedback rows passing every filter (query-based ones through the query it is on). */
  private async feedbackRows(f: Filter): Promise<{ fb: FeedbackIndex; rows: number[]; q: QueryIndex }> {
    const fb = await this.feedback();
    const needQuery = f.pairFilters || f.raw.version !== undefined;
    const { q, rows: qrows } = needQuery ? await this.queryRows(new Filter({ ...f.raw, from: undefined, to: undefined, traffic: undefined }, this.attrs)) : { q: await this.queryIndex(), rows: [] };
    const ok = new Uint8Array(q.n);
    for (const i of qrows) ok[i] = 1;
    const rows: number[] = [];
    for (let i = 0; i < fb.n; i++) {
      if (!f.traffic(fb.synthetic[i]!) || !f.time(fb.at[i]!)) continue;
      if (needQuery) {
        const qi = q.byId.get(fb.qid[i]!);
        if (qi === undefined || !ok[qi]) continue;
      }
      rows.push(i);
    }
    return { fb, rows, q };
  }

  // ------------------------------------------------------------------ panels
  async corpus(raw: DashboardFilters): Promise<CorpusPanel> {
    const f = await this.filter(raw);
    return this.cached('corpus', f, ['corpus', 'staging', 'rejected', 'versions', 'tags', 'runs', 'hardness'], async () => {
      const v = await this.view(f);
      const ap = new Applied(f);
      ap.pair();
      ap.time();
      ap.add('version');
      const active = this.corpusRows(v, f, 'active');
      const retired = this.corpusRows(v, f, 'retired');
      const byKind = new Map<string, number>();
      const byCat = new Map<string, number>();
      const byKC = new Map<string, number>();
      const byDay = new Map<string, number>();
      const kc = new Map<number, number>();
      for (const i of active) {
        const g = v.corpus.gid[i]!;
        const key = (this.attrs.kind[g]! + 1) * 1000 + this.attrs.category[g]! + 1;
        kc.set(key, (kc.get(key) ?? 0) + 1);
        inc(byDay, dayOf(v.corpus.at[i]!));
      }
      for (const [key, n] of kc) {
        const k = KINDS[Math.floor(key / 1000) - 1] ?? 'unknown';
        const c = CATEGORIES[(key % 1000) - 1] ?? 'unknown';
        inc(byKind, k, n);
        inc(byCat, c, n);
        inc(byKC, `${k}/${c}`, n);
      }
      let cum = 0;
      const days = [...byDay].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, count]) => ({ key, count, cumulative: (cum += count) }));
      const figures = await this.versionFigures(v, f);
      const staging = this.tableRows(v.staging, f);
      const byStatus = new Map<string, number>();
      const stagingByKind = new Map<string, number>();
      for (const i of staging) {
        inc(byStatus, v.staging.status[i]!);
        if (v.staging.status[i] !== 'retired') inc(stagingByKind, KINDS[this.attrs.kind[v.staging.gid[i]!]!] ?? 'unknown');
      }
      const runs = (await this.runs(v)).filter((r) => f.time(r.finished));
      const totals = this.runTotals(v, f, runs);
      const runItems = runs.map((r) => ({ key: r.run_id, run_id: r.run_id, command: r.command, finished_at: r.finished_at, ...totals.get(r.run_id)! }));
      return {
        rows: active.length + retired.length + staging.length,
        filters: f.raw,
        applied: ap.list(),
        table_versions: v.tv,
        computed_ms: 0,
        cached: false,
        active: active.length,
        retired: retired.length,
        corpus_version: v.corpus.version,
        by_source_kind: { rows: active.length, drill: 'corpus.source_kind', items: barsOf(byKind, KINDS) },
        by_category: { rows: active.length, drill: 'corpus.category', items: barsOf(byCat, CATEGORIES) },
        by_kind_category: { rows: active.length, drill: 'corpus.kind_category', items: barsOf(byKC) },
        growth_by_version: {
          rows: figures.length,
          drill: 'corpus.version',
          items: figures.map((x) => ({
            key: String(x.version.version),
            version: x.version.version,
            at: x.version.at,
            kind: x.version.kind,
            added: x.added.length,
            retired: x.retired.length,
            active: x.active,
            recorded: { inserted: x.version.inserted, retired: x.version.retired, active: x.version.active },
          })),
        },
        growth_by_day: { rows: active.length, drill: 'corpus.day', items: days },
        runs: { rows: runItems.length, drill: 'corpus.run_added', items: runItems },
        staging_by_status: { rows: staging.length, drill: 'staging.status', items: barsOf(byStatus, ['pending', 'validated', 'promoted', 'retired']) },
        staging_by_source_kind: { rows: staging.length, drill: 'staging.source_kind', items: barsOf(stagingByKind, KINDS) },
      };
    });
  }

  private runSel(v: View, f: Filter, r: { run_id: string; started: number; finished: number }, what: 'added' | 'retired' | 'rejected'): PairSel {
    if (what === 'added') return { table: v.staging, rows: this.runRows(v.staging, f, (i) => v.staging.run[i] === r.run_id) };
    if (what === 'rejected') return { table: v.rejected, rows: this.runRows(v.rejected, f, (i) => v.rejected.run[i] === r.run_id) };
    const t = v.corpus;
    return { table: t, rows: this.runRows(t, f, (i) => t.status[i] === 'retired' && t.retiredAt[i]! >= r.started && t.retiredAt[i]! <= r.finished) };
  }

  /** Rows of a run: the pair filters only (the run is in the time range, or not at all). */
  private runRows(t: PairTable, f: Filter, keep: (i: number) => boolean): number[] {
    const out: number[] = [];
    for (let i = 0; i < t.n; i++) if (keep(i) && f.pair(t.gid[i]!)) out.push(i);
    return out;
  }

  /** Per run, in one pass over each table: what runSel selects, counted. */
  private runTotals(v: View, f: Filter, runs: { run_id: string; started: number; finished: number }[]): Map<string, { added: number; retired: number; rejected: number }> {
    const out = new Map(runs.map((r) => [r.run_id, { added: 0, retired: 0, rejected: 0 }]));
    const st = v.staging;
    for (let i = 0; i < st.n; i++) {
      const o = out.get(st.run[i]!);
      if (o && f.pair(st.gid[i]!)) o.added++;
    }
    const rj = v.rejected;
    for (let i = 0; i < rj.n; i++) {
      const o = out.get(rj.run[i]!);
      if (o && f.pair(rj.gid[i]!)) o.rejected++;
    }
    const c = v.corpus;
    for (let i = 0; i < c.n; i++) {
      if (c.status[i] !== 'retired') continue;
      const t = c.retiredAt[i]!;
      let hit = false;
      for (const r of runs)
        if (t >= r.started && t <= r.finished) {
          if (!hit && !f.pair(c.gid[i]!)) break;
          hit = true;
          out.get(r.run_id)!.retired++;
        }
    }
    return out;
  }

  async quality(raw: DashboardFilters): Promise<QualityPanel> {
    const f = await this.filter(raw);
    return this.cached('quality', f, ['corpus', 'staging', 'rejected', 'skipped', 'runs', 'hardness', 'provenance_checks', 'queries', 'feedback', 'corrections', 'versions'], async () => {
      const v = await this.view(f);
      const ap = new Applied(f);
      ap.pair();
      ap.time();
      ap.add('version');
      const A = this.attrs;
      const verdicts = new Map<string, number>();
      const scores = new Map<string, number>();
      let judged = 0;
      let passed = 0;
      const prov = new Map<string, number>();
      let modelRejected = 0;
      let caught = 0;
      const modelReasons = new Map<string, number>();
      const stagingRows = this.tableRows(v.staging, f);
      for (const i of stagingRows) {
        const g = v.staging.gid[i]!;
        if (A.verdict[g]! >= 0) {
          judged++;
          inc(verdicts, VERDICTS[A.verdict[g]!]!);
          if (A.judgeScore[g]) inc(scores, String(A.judgeScore[g]));
        }
        if (A.model[g] && v.staging.status[i] !== 'retired') passed++;
        if (A.provenance[g]! >= 0 && v.staging.status[i] !== 'retired') inc(prov, PROVENANCE_LABELS[A.provenance[g]!]!);
      }
      const rejectedRows = this.tableRows(v.rejected, f);
      const reasons = new Map<string, number>();
      const reasonsByDay = new Map<string, Map<string, number>>();
      for (const i of rejectedRows) {
        const g = v.rejected.gid[i]!;
        if (A.verdict[g]! >= 0) {
          judged++;
          inc(verdicts, VERDICTS[A.verdict[g]!]!);
          if (A.judgeScore[g]) inc(scores, String(A.judgeScore[g]));
        }
        const rs = v.rejected.reasons[i]!;
        const day = dayOf(v.rejected.at[i]!);
        let m = reasonsByDay.get(day);
        if (!m) reasonsByDay.set(day, (m = new Map()));
        for (const r of rs) {
          inc(reasons, r);
          inc(m, r);
        }
        if (A.model[g]) {
          modelRejected++;
          for (const r of rs) inc(modelReasons, r);
          if (rs.some((r) => MODEL_HALLUCINATION.has(r))) caught++;
        }
      }
      const modelTotal = passed + modelRejected;
      const active = this.corpusRows(v, f, 'active');
      const hist = Array.from({ length: 10 }, () => 0);
      let scored = 0;
      let inClusters = 0;
      const clusters = new Set<string>();
      const hard = new Map<string, number>();
      for (const i of active) {
        const g = v.corpus.gid[i]!;
        const s = A.score[g]!;
        if (!Number.isNaN(s)) {
          hist[Math.min(9, Math.max(0, Math.floor(s * 10)))]!++;
          scored++;
        }
        if (A.dup[g]) {
          inClusters++;
          clusters.add(A.dup[g]!);
        }
        if (A.hardness[g]! >= 0) inc(hard, HARDNESS_LABELS[A.hardness[g]!]!);
      }
      // Skips: by the time of their run (a skipped file has no source kind).
      const skips = await this.skips(v);
      const runs = await this.runs(v);
      const runTime = new Map(runs.map((r) => [r.run_id, r.finished]));
      const skipBars = new Map<string, number>();
      const skipDays = new Map<string, Map<string, number>>();
      let skipRows = 0;
      for (const [run, m] of skips) {
        const t = runTime.get(run) ?? NaN;
        if (!f.time(t)) continue;
        const day = dayOf(t);
        let d = skipDays.get(day);
        if (!d) skipDays.set(day, (d = new Map()));
        for (const [reason, n] of m) {
          inc(skipBars, reason, n);
          inc(d, reason, n);
          skipRows += n;
        }
      }
      const { fb, rows: fbRows } = await this.feedbackRows(f);
      if (fb.n) ap.add('traffic');
      const byRating = new Map<string, number>();
      const byReason = new Map<string, number>();
      for (const i of fbRows) {
        inc(byRating, fb.rating[i]!);
        inc(byReason, fb.reason[i] ?? 'none');
      }
      const corr = await this.corrections();
      const byStatus = new Map<string, number>(['pending', 'proposed', 'accepted', 'rejected'].map((s) => [s, 0]));
      let down = 0;
      for (const i of fbRows) {
        if (fb.rating[i] !== 'down') continue;
        down++;
        inc(byStatus, corr.get(fb.fid[i]!) ?? 'pending');
      }
      const overTime = (m: Map<string, Map<string, number>>) =>
        [...m]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([key, counts]) => ({ key, counts: Object.fromEntries(counts), total: sum(counts) }));
      return {
        rows: stagingRows.length + rejectedRows.length + active.length + skipRows + fbRows.length,
        filters: f.raw,
        applied: ap.list(),
        table_versions: { ...v.tv, feedback: fb.version, corrections: await this.tables.version('corrections') },
        computed_ms: 0,
        cached: false,
        judge: {
          judged,
          verdicts: { rows: judged, drill: 'quality.judge_verdict', items: barsOf(verdicts, VERDICTS) },
          scores: { rows: sum(scores), drill: 'quality.judge_score', items: barsOf(scores, ['1', '2', '3', '4', '5']) },
        },
        quality_scores: { rows: scored, drill: 'quality.score', items: hist.map((count, b) => ({ key: (b / 10).toFixed(1), lo: b / 10, hi: (b + 1) / 10, count })) },
        model_written: {
          total: modelTotal,
          passed,
          pass_rate: ratio(passed, modelTotal),
          hallucinations_caught: caught,
          hallucination_detection_rate: ratio(caught, modelTotal),
          reject_reasons: { rows: modelRejected, drill: 'quality.model_reject_reason', items: barsOf(modelReasons) },
        },
        reject_reasons: { rows: rejectedRows.length, drill: 'quality.reject_reason', items: barsOf(reasons) },
        reject_reasons_by_day: { rows: rejectedRows.length, drill: null, items: overTime(reasonsByDay) },
        skip_reasons: { rows: skipRows, drill: null, items: barsOf(skipBars) },
        skip_reasons_by_day: { rows: skipRows, drill: null, items: overTime(skipDays) },
        near_duplicates: { rows: active.length, in_clusters: inClusters, clusters: clusters.size, rate: ratio(inClusters, active.length) },
        provenance: (() => {
          const checked = sum(prov);
          const resolved = prov.get('resolved') ?? 0;
          return {
            rows: checked,
            drill: 'quality.provenance',
            items: barsOf(prov, PROVENANCE_LABELS),
            checked,
            resolved,
            rate: ratio(resolved, checked),
            note: checked ? null : 'no checked pair among these: qaforge verify (or qaforge report) checks a sample and records it',
          };
        })(),
        hardness: { rows: sum(hard), drill: 'quality.hardness', items: barsOf(hard, HARDNESS_LABELS) },
        feedback: { rows: fbRows.length, by_rating: { rows: fbRows.length, drill: 'quality.feedback_rating', items: barsOf(byRating, ['up', 'down']) }, by_reason: { rows: fbRows.length, drill: 'quality.feedback_reason', items: barsOf(byReason) } },
        corrections: { rows: down, by_status: { rows: down, drill: 'quality.correction_status', items: barsOf(byStatus, ['pending', 'proposed', 'accepted', 'rejected']) }, proposed: byStatus.get('proposed') ?? 0, accepted: byStatus.get('accepted') ?? 0 },
      };
    });
  }

  private async corrections(): Promise<Map<string, string>> {
    return this.smallTable('corrections', ['feedback_id', 'status'], (rows) => new Map(rows.map((r) => [r.feedback_id as string, r.status as string])));
  }

  async retraining(raw: DashboardFilters): Promise<RetrainingPanel> {
    const f = await this.filter(raw);
    return this.cached('retraining', f, ['corpus', 'versions', 'tags', 'evals', 'state', 'hardness'], async () => {
      const v = await this.view(f);
      const ap = new Applied(f);
      ap.time();
      ap.add('version');
      if (v.upTo.length) ap.pair();
      const figures = await this.versionFigures(v, f);
      const fts = await this.smallTable('state', ['key', 'value'], (rows) => rows);
      const finetunes = new Map<number, { kind: string; detail: string; at: string | null }>();
      let lastRetrain: RetrainingPanel['last_retrain'] = null;
      const gates: RetrainingPanel['gates'] = { promotion: null, eval: null };
      for (const r of fts) {
        const ftVersion = fineTuneVersionOf(r.key as string);
        try {
          if (ftVersion !== null) {
            const x = JSON.parse(r.value as string) as { kind?: string; detail?: string; at?: string };
            finetunes.set(ftVersion, { kind: x.kind ?? 'unknown', detail: x.detail ?? '', at: x.at ?? null });
          } else if (r.key === GATES_LAST_KEY) {
            const x = JSON.parse(r.value as string) as { at?: string; passed?: boolean; reasons?: string[] };
            gates.promotion = { at: x.at ?? null, passed: Boolean(x.passed), reasons: x.reasons ?? [] };
          } else if (r.key === GATES_EVAL_LAST_KEY) {
            const x = JSON.parse(r.value as string) as { at?: string; passed?: boolean; version?: number; reason?: string | null; rollback?: unknown };
            gates.eval = { at: x.at ?? null, passed: Boolean(x.passed), version: x.version ?? null, reason: x.reason ?? null, rolled_back: Boolean(x.rollback) };
          } else if (r.key === RETRAIN_KEY) {
            const x = JSON.parse(r.value as string) as { at: string; accepted: number; version: number | null };
            lastRetrain = { at: x.at, accepted: x.accepted, version: x.version };
          }
        } catch {
          // A value this qaforge cannot read: left out.
        }
      }
      const versionItems = figures.map((x) => {
        const e = x.version.evalSummary as Record<string, unknown> | null;
        return {
          key: String(x.version.version),
          version: x.version.version,
          at: x.version.at,
          kind: x.version.kind,
          run_id: x.version.runId,
          inserted: x.version.inserted,
          retired: x.version.retired,
          active: x.version.active,
          added_filtered: x.added.length,
          retired_filtered: x.retired.length,
          active_filtered: x.active,
          tags: x.version.tags,
          rolled_back_to: x.version.rolledBackTo,
          undone_by: x.version.undoneBy,
          reason: x.version.reason,
          eval:
            e && typeof e.recall_at_10 === 'number'
              ? { recall_at_10: e.recall_at_10, mrr_at_10: Number(e.mrr_at_10 ?? 0), ndcg_at_10: Number(e.ndcg_at_10 ?? 0), set_id: String(e.set_id ?? ''), mode: String(e.mode ?? '') }
              : null,
          finetune: finetunes.get(x.version.version) ?? null,
        };
      });
      const shown = new Set(figures.map((x) => x.version.version));
      const ftItems = [...finetunes]
        .filter(([ver]) => (f.raw.version === undefined || ver <= f.raw.version) && (shown.has(ver) || !v.versions.some((x) => x.version === ver)) && f.time(ms(finetunes.get(ver)!.at)))
        .sort(([a], [b]) => a - b)
        .map(([version, x]) => ({ key: String(version), version, kind: x.kind, outcome: (x.kind === 'none' ? 'not_configured' : 'triggered') as 'triggered' | 'not_configured', detail: x.detail, at: x.at }));
      const evals = await this.evalRows(f);
      if (f.raw.source_kind && evals.rows) ap.add('source_kind');
      return {
        rows: figures.length + ftItems.length + evals.items.length,
        filters: f.raw,
        applied: ap.list(),
        table_versions: { ...v.tv, evals: await this.tables.version('evals'), state: await this.tables.version('state') },
        computed_ms: 0,
        cached: false,
        versions: { rows: figures.length, drill: 'corpus.version', items: versionItems },
        finetunes: { rows: ftItems.length, drill: null, items: ftItems },
        gates: {
          promotion: gates.promotion && f.time(ms(gates.promotion.at)) ? gates.promotion : null,
          eval: gates.eval && (f.raw.version === undefined || (gates.eval.version ?? 0) <= f.raw.version) && f.time(ms(gates.eval.at)) ? gates.eval : null,
        },
        last_retrain: lastRetrain && (f.raw.version === undefined || (lastRetrain.version ?? 0) <= f.raw.version) && f.time(ms(lastRetrain.at)) ? lastRetrain : null,
        evals: { rows: evals.rows, drill: null, items: evals.items },
      };
    });
  }

  private async evalRows(f: Filter): Promise<{ rows: number; items: RetrainingPanel['evals']['items'] }> {
    const rows = await this.smallTable('evals', ['corpus_version', 'set_id', 'mode', 'embedder', 'questions', ...METRICS, 'created_at', 'detail'], (r) => r);
    const kinds = f.raw.source_kind?.map((k) => EVAL_KIND[k]!) ?? null;
    type Fig = { recall_at_10: number; mrr_at_10: number; ndcg_at_10: number };
    const picked: { row: Record<string, unknown>; fig: Fig; questions: number }[] = [];
    for (const r of rows) {
      if (f.raw.version !== undefined && (r.corpus_version as number) > f.raw.version) continue;
      if (!f.time(ms(r.created_at as string))) continue;
      let fig: Fig = { recall_at_10: r.recall_at_10 as number, mrr_at_10: r.mrr_at_10 as number, ndcg_at_10: r.ndcg_at_10 as number };
      let questions = r.questions as number;
      if (kinds) {
        // The per-kind figures of the eval, weighted by their questions.
        let byKind: Record<string, { questions: number } & Record<string, { mean: number }>> = {};
        try {
          byKind = (JSON.parse(r.detail as string) as { byKind?: typeof byKind }).byKind ?? {};
        } catch {
          byKind = {};
        }
        const parts = kinds.map((k) => byKind[k]).filter((x): x is NonNullable<typeof x> => Boolean(x));
        questions = parts.reduce((s, p) => s + p.questions, 0);
        if (!questions) continue;
        const w = (m: keyof Fig) => parts.reduce((s, p) => s + p[m]!.mean * p.questions, 0) / questions;
        fig = { recall_at_10: w('recall_at_10'), mrr_at_10: w('mrr_at_10'), ndcg_at_10: w('ndcg_at_10') };
      }
      picked.push({ row: r, fig, questions });
    }
    picked.sort((a, b) => (a.row.corpus_version as number) - (b.row.corpus_version as number) || ((a.row.created_at as string) < (b.row.created_at as string) ? -1 : 1));
    const items = picked.map((p, idx) => {
      const r = p.row;
      const before = [...picked.slice(0, idx)].reverse().find((x) => x.row.set_id === r.set_id && x.row.mode === r.mode && x.row.embedder === r.embedder && (x.row.corpus_version as number) < (r.corpus_version as number));
      return {
        key: `${r.corpus_version}/${r.set_id}/${r.mode}`,
        corpus_version: r.corpus_version as number,
        set_id: r.set_id as string,
        mode: r.mode as string,
        embedder: r.embedder as string,
        questions: p.questions,
        created_at: r.created_at as string,
        kind: kinds ? kinds.join(',') : null,
        ...Object.fromEntries(Object.entries(p.fig).map(([k, x]) => [k, round(x)])),
        delta: before ? { recall_at_10: round(p.fig.recall_at_10 - before.fig.recall_at_10), mrr_at_10: round(p.fig.mrr_at_10 - before.fig.mrr_at_10), ndcg_at_10: round(p.fig.ndcg_at_10 - before.fig.ndcg_at_10) } : null,
        before_version: before ? (before.row.corpus_version as number) : null,
      } as RetrainingPanel['evals']['items'][number];
    });
    return { rows: items.length, items };
  }

  /** Bucket width for a time span: the smallest of 1 min … 1 day that makes at most 120 buckets. */
  static bucketMs(span: number): number {
    for (const b of [60_000, 300_000, 900_000, 3_600_000, 6 * 3_600_000, DAY]) if (span / b <= 120) return b;
    return 7 * DAY;
  }

  private bucketing(q: QueryIndex, rows: number[], f: Filter): { size: number; of: (i: number) => number } {
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of rows) {
      lo = Math.min(lo, q.at[i]!);
      hi = Math.max(hi, q.at[i]!);
    }
    if (Number.isFinite(f.from) && Number.isFinite(f.to)) [lo, hi] = [f.from, f.to];
    const size = DashboardEngine.bucketMs(Number.isFinite(hi - lo) ? hi - lo : 0);
    return { size, of: (i) => Math.floor(q.at[i]! / size) * size };
  }

  async online(raw: DashboardFilters): Promise<OnlinePanel> {
    const f = await this.filter(raw);
    return this.cached('online', f, ['queries', 'corpus', 'hardness', 'versions'], async () => {
      const { q, rows } = await this.queryRows(f);
      const ap = new Applied(f);
      ap.time();
      ap.add('traffic', 'version');
      ap.pair();
      const { size, of } = this.bucketing(q, rows, f);
      // Rows grouped by bucket (a counting sort), then each bucket's latencies sorted once for its percentiles.
      const bucketOf = new Float64Array(rows.length);
      const counts = new Map<number, number>();
      for (let j = 0; j < rows.length; j++) {
        const k = of(rows[j]!);
        bucketOf[j] = k;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const starts = [...counts.keys()].sort((a, b) => a - b);
      const offset = new Map<number, number>();
      let acc = 0;
      for (const k of starts) {
        offset.set(k, acc);
        acc += counts.get(k)!;
      }
      const fill = new Map(offset);
      const order = new Int32Array(rows.length);
      for (let j = 0; j < rows.length; j++) {
        const k = bucketOf[j]!;
        const at = fill.get(k)!;
        order[at] = rows[j]!;
        fill.set(k, at + 1);
      }
      const byStatus = new Map<string, number>();
      const byRoute = new Map<string, number>();
      const statusN = new Map<number, number>();
      const routeN = new Map<string, number>();
      const part = (lo: number, hi: number) => {
        const n = hi - lo;
        const r = new Float64Array(n);
        const t = new Float64Array(n);
        const g: number[] = [];
        let errors = 0;
        let abstained = 0;
        let synthetic = 0;
        for (let j = lo; j < hi; j++) {
          const i = order[j]!;
          r[j - lo] = q.retrieve[i]!;
          t[j - lo] = q.total[i]!;
          if (q.generate[i]! > 0) g.push(q.generate[i]!);
          if (q.status[i]! >= 400) errors++;
          if (q.abstained[i]) abstained++;
          if (q.synthetic[i]) synthetic++;
        }
        const p = (a: Float64Array) => {
          if (!a.length) return { p50: null, p95: null };
          a.sort();
          const at = (x: number) => round(a[Math.min(a.length - 1, Math.ceil(x * a.length) - 1)]!);
          return { p50: at(0.5), p95: at(0.95) };
        };
        return { requests: n, errors, abstained, synthetic, latency: { retrieve: p(r), generate: p(Float64Array.from(g)), total: p(t) } };
      };
      for (const i of rows) {
        statusN.set(q.status[i]!, (statusN.get(q.status[i]!) ?? 0) + 1);
        routeN.set(q.route[i]!, (routeN.get(q.route[i]!) ?? 0) + 1);
      }
      for (const [k, n] of statusN) byStatus.set(String(k), n);
      for (const [k, n] of routeN) byRoute.set(k, n);
      const series = starts.map((start) => {
        const lo = offset.get(start)!;
        const b = part(lo, lo + counts.get(start)!);
        return { key: iso(start), requests: b.requests, per_minute: round(b.requests / (size / 60_000)), errors: b.errors, abstained: b.abstained, synthetic: b.synthetic, real: b.requests - b.synthetic, latency: b.latency };
      });
      const all = part(0, rows.length);
      const trending = await this.trending(f, q, rows);
      const { members: _m, previousCounts: _p, ...trend } = trending;
      return {
        rows: rows.length,
        filters: f.raw,
        applied: ap.list(),
        table_versions: { queries: q.version },
        computed_ms: 0,
        cached: false,
        totals: { requests: all.requests, errors: all.errors, error_rate: ratio(all.errors, all.requests), abstained: all.abstained, abstention_rate: ratio(all.abstained, all.requests), synthetic: all.synthetic, real: all.requests - all.synthetic, latency: all.latency },
        bucket_ms: size,
        series: { rows: rows.length, drill: 'online.bucket', items: series },
        by_status: { rows: rows.length, drill: 'online.status', items: barsOf(byStatus) },
        by_route: { rows: rows.length, drill: 'online.route', items: barsOf(byRoute) },
        trending: trend,
      };
    });
  }

  /** The recent window (up to 24 h, at most half the filtered traffic's span) and the one before it. */
  private windows(q: QueryIndex, rows: number[]): { recent: [number, number]; previous: [number, number] } | null {
    if (!rows.length) return null;
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of rows) {
      lo = Math.min(lo, q.at[i]!);
      hi = Math.max(hi, q.at[i]!);
    }
    const end = hi + 1;
    const w = Math.max(1, Math.min(DAY, (end - lo) / 2));
    return { recent: [end - w, end], previous: [end - 2 * w, end - w] };
  }

  private trendCache = new Map<string, TrendingResult>();

  async trending(f: Filter, q: QueryIndex, rows: number[]): Promise<TrendingResult> {
    const key = `${q.version}|${q.n}|${this.topics.assigned}|${JSON.stringify(f.raw)}`;
    const hit = this.trendCache.get(key);
    if (hit) return hit;
    const { textId } = this.resolve(q);
    const win = this.windows(q, rows);
    const recent: number[] = [];
    const previous: number[] = [];
    if (win)
      for (const i of rows) {
        const t = q.at[i]!;
        if (t >= win.recent[0] && t < win.recent[1]) recent.push(i);
        else if (t >= win.previous[0] && t < win.previous[1]) previous.push(i);
      }
    // The windows' questions not clustered yet, most asked first: embedded (cached by text) and added to the topics.
    const freq = new Map<number, number>();
    for (const i of recent) if (this.topics.clusterOf(textId[i]!) < 0) freq.set(textId[i]!, (freq.get(textId[i]!) ?? 0) + 1);
    for (const i of previous) if (this.topics.clusterOf(textId[i]!) < 0) freq.set(textId[i]!, (freq.get(textId[i]!) ?? 0) + 1);
    const fresh = [...freq].sort((a, b) => b[1] - a[1] || (this.texts[a[0]]! < this.texts[b[0]]! ? -1 : 1)).slice(0, REQUEST_EMBED).map(([t]) => t);
    await this.cluster(fresh);
    const clusters = this.topics.clusters;
    const members = new Map<string, number[]>();
    const prevCounts = new Map<string, number>();
    let unclustered = 0;
    for (const i of recent) {
      const c = this.topics.clusterOf(textId[i]!);
      if (c < 0) unclustered++;
      else {
        const k = clusters[c]!.key;
        let m = members.get(k);
        if (!m) members.set(k, (m = []));
        m.push(i);
      }
    }
    for (const i of previous) {
      const c = this.topics.clusterOf(textId[i]!);
      if (c < 0) unclustered++;
      else inc(prevCounts, clusters[c]!.key);
    }
    const seeds = new Map(clusters.map((c) => [c.key, c.seed]));
    const items = [...new Set([...members.keys(), ...prevCounts.keys()])]
      .map((k) => {
        const count = members.get(k)?.length ?? 0;
        const prev = prevCounts.get(k) ?? 0;
        const seed = seeds.get(k)!;
        return { key: k, count, previous: prev, growth: prev ? round((count - prev) / prev) : null, example: this.examples[this.textIds.get(seed)!] ?? seed };
      })
      .sort((a, b) => b.count - a.count || b.previous - a.previous || (a.key < b.key ? -1 : 1));
    const out: TrendingResult = {
      rows: recent.length + previous.length,
      drill: 'online.cluster',
      window: win ? { from: iso(win.recent[0]), to: iso(win.recent[1]) } : null,
      previous: win ? { from: iso(win.previous[0]), to: iso(win.previous[1]) } : null,
      embedder: this.vectors.model,
      threshold: this.topics.threshold,
      unclustered,
      items,
      members,
      previousCounts: prevCounts,
    };
    if (this.trendCache.size > 64) this.trendCache.clear();
    this.trendCache.set(key, out);
    return out;
  }

  /** The batch a version added (the given one, else the latest promotion) and the corpus before it. */
  private async batch(v: View, f: Filter): Promise<{ version: number | null; against: number | null; added: number[]; before: number[] }> {
    const promos = v.upTo.filter((x) => x.kind === 'promotion');
    const cur = promos.at(-1);
    if (!cur) return { version: null, against: null, added: [], before: [] };
    const idx = v.versions.findIndex((x) => x.version === cur.version);
    const prevVer = idx > 0 ? v.versions[idx - 1]! : null;
    const s = await this.snapshot(cur.version);
    const p = prevVer ? await this.snapshot(prevVer.version) : null;
    const inPrev = new Uint8Array(this.attrs.ids.length + 1);
    if (p) for (const g of p.active) inPrev[g] = 1;
    const added: number[] = [];
    for (const g of s.active) if (!inPrev[g] && f.pair(g)) added.push(g);
    const before: number[] = [];
    if (p) for (const g of p.active) if (f.pair(g)) before.push(g);
    return { version: cur.version, against: prevVer?.version ?? null, added, before };
  }

  async drift(raw: DashboardFilters): Promise<DriftPanel> {
    const f = await this.filter(raw);
    return this.cached('drift', f, ['corpus', 'versions', 'hardness', 'queries'], async () => {
      const v = await this.view(f);
      const ap = new Applied(f);
      ap.pair();
      ap.add('version');
      const b = await this.batch(v, f);
      const mix = (gs: number[], names: readonly string[], col: ArrayLike<number>) => {
        const m = new Map<string, number>();
        for (const g of gs) inc(m, names[col[g]!] ?? 'unknown');
        return m;
      };
      const kindPsi = psiOf(mix(b.added, KINDS, this.attrs.kind), mix(b.before, KINDS, this.attrs.kind));
      const catPsi = psiOf(mix(b.added, CATEGORIES, this.attrs.category), mix(b.before, CATEGORIES, this.attrs.category));
      const { q, rows } = await this.queryRows(f);
      ap.time();
      ap.add('traffic');
      const t = await this.trending(f, q, rows);
      const recent = new Map([...t.members].map(([k, m]) => [k, m.length] as [string, number]).filter(([, n]) => n > 0));
      const topicPsi = psiOf(recent, t.previousCounts);
      const ex = new Map(t.items.map((c) => [c.key, c.example]));
      return {
        rows: b.added.length + b.before.length + t.rows,
        filters: f.raw,
        applied: ap.list(),
        table_versions: { ...v.tv, queries: q.version },
        computed_ms: 0,
        cached: false,
        epsilon: PSI_EPSILON,
        batch: { version: b.version, against_version: b.against, source_kind: kindPsi, category: catPsi, drifting_categories: catPsi.drifting_keys },
        topics: { window: t.window, previous: t.previous, psi: topicPsi, drifting_topics: topicPsi.drifting_keys.map((key) => ({ key, example: ex.get(key) ?? '' })) },
      };
    });
  }

  // ------------------------------------------------------------------ drill-down
  async rows(raw: DashboardFilters, panel: string, key: string, limit: number, offset: number): Promise<RowsResponse> {
    const f = await this.filter(raw);
    const kind = (DRILL_PANELS as Record<string, 'pairs' | 'queries'>)[panel];
    if (!kind) throw new DashboardRequestError(400, 'invalid_field', `panel: unknown drill-down panel ${JSON.stringify(panel)} (one of ${Object.keys(DRILL_PANELS).join(', ')})`);
    const base = { panel, key, offset, limit, filters: f.raw };
    if (kind === 'queries') {
      const sel = await this.querySelection(f, panel, key);
      const page = sel.rows.sort((a, b) => sel.q.at[b]! - sel.q.at[a]! || a - b).slice(offset, offset + limit);
      return { ...base, kind: 'queries', total: sel.rows.length, items: await this.queryItems(sel.q, page) };
    }
    const sels = await this.pairSelection(f, panel, key);
    const all = sels.flatMap((s) => s.rows.map((i) => ({ table: s.table, i })));
    // Newest first, then in the order the pairs were first read.
    const atOf = (x: { table: PairTable; i: number }) => x.table.at[x.i] || 0;
    all.sort((a, b) => atOf(b) - atOf(a) || a.table.gid[a.i]! - b.table.gid[b.i]!);
    return { ...base, kind: 'pairs', total: all.length, items: await this.pairItems(all.slice(offset, offset + limit)) };
  }

  private async pairSelection(f: Filter, panel: string, key: string): Promise<PairSel[]> {
    const v = await this.view(f);
    const A = this.attrs;
    const c = v.corpus;
    const active = () => this.corpusRows(v, f, 'active');
    const where = (t: PairTable, rows: number[], keep: (g: number, i: number) => boolean): PairSel => ({ table: t, rows: rows.filter((i) => keep(t.gid[i]!, i)) });
    switch (panel) {
      case 'corpus.active':
        return [{ table: c, rows: active() }];
      case 'corpus.source_kind':
        return [where(c, active(), (g) => KINDS[A.kind[g]!] === key)];
      case 'corpus.category':
        return [where(c, active(), (g) => CATEGORIES[A.category[g]!] === key)];
      case 'corpus.kind_category':
        return [where(c, active(), (g) => `${KINDS[A.kind[g]!]}/${CATEGORIES[A.category[g]!]}` === key)];
      case 'corpus.day':
        return [where(c, active(), (_g, i) => dayOf(c.at[i]!) === key)];
      case 'corpus.version':
      case 'drift.category':
      case 'drift.source_kind': {
        let gids: number[];
        let ver: number;
        if (panel === 'corpus.version') {
          const n = Number(key);
          const fig = (await this.versionFigures(v, f)).find((x) => x.version.version === n);
          if (!fig) return [];
          gids = fig.added;
          ver = n;
        } else {
          const b = await this.batch(v, f);
          if (b.version === null) return [];
          gids = b.added.filter((g) => (panel === 'drift.category' ? CATEGORIES[A.category[g]!] : KINDS[A.kind[g]!]) === key);
          ver = b.version;
        }
        return [await this.rowsOfGids(gids, ver)];
      }
      case 'corpus.run_added':
      case 'corpus.run_retired': {
        const r = (await this.runs(v)).find((x) => x.run_id === key && f.time(x.finished));
        return r ? [this.runSel(v, f, r, panel === 'corpus.run_added' ? 'added' : 'retired')] : [];
      }
      case 'staging.status':
        return [{ table: v.staging, rows: this.tableRows(v.staging, f, (i) => v.staging.status[i] === key) }];
      case 'staging.source_kind':
        return [{ table: v.staging, rows: this.tableRows(v.staging, f, (i) => v.staging.status[i] !== 'retired' && KINDS[A.kind[v.staging.gid[i]!]!] === key) }];
      case 'quality.judge_verdict':
      case 'quality.judge_score': {
        const keep = (g: number) => (panel === 'quality.judge_verdict' ? A.verdict[g]! >= 0 && VERDICTS[A.verdict[g]!] === key : A.judgeScore[g] !== 0 && String(A.judgeScore[g]) === key);
        return [v.staging, v.rejected].map((t) => ({ table: t, rows: this.tableRows(t, f, (i) => keep(t.gid[i]!)) }));
      }
      case 'quality.score':
        return [where(c, active(), (g) => !Number.isNaN(A.score[g]!) && (Math.min(9, Math.max(0, Math.floor(A.score[g]! * 10))) / 10).toFixed(1) === key)];
      case 'quality.reject_reason':
        return [{ table: v.rejected, rows: this.tableRows(v.rejected, f, (i) => v.rejected.reasons[i]!.includes(key)) }];
      case 'quality.model_reject_reason':
        return [{ table: v.rejected, rows: this.tableRows(v.rejected, f, (i) => A.model[v.rejected.gid[i]!] === 1 && (key === '' || v.rejected.reasons[i]!.includes(key))) }];
      case 'quality.near_dup':
        return [where(c, active(), (g) => A.dup[g] !== null && (key === '' || A.dup[g] === key))];
      case 'quality.hardness':
        return [where(c, active(), (g) => A.hardness[g]! >= 0 && HARDNESS_LABELS[A.hardness[g]!] === key)];
      case 'quality.provenance':
        return [{ table: v.staging, rows: this.tableRows(v.staging, f, (i) => v.staging.status[i] !== 'retired' && A.provenance[v.staging.gid[i]!]! >= 0 && PROVENANCE_LABELS[A.provenance[v.staging.gid[i]!]!] === key) }];
      default:
        return [];
    }
  }

  /** Corpus rows (at a version) of given gids. */
  private async rowsOfGids(gids: number[], version: number): Promise<PairSel> {
    const t = await this.pairTable('corpus', version);
    const want = new Set(gids);
    const rows: number[] = [];
    for (let i = 0; i < t.n; i++) if (want.has(t.gid[i]!)) rows.push(i);
    return { table: t, rows };
  }

  private async querySelection(f: Filter, panel: string, key: string): Promise<{ q: QueryIndex; rows: number[] }> {
    if (panel === 'quality.feedback_rating' || panel === 'quality.feedback_reason' || panel === 'quality.correction_status') {
      const { fb, rows, q } = await this.feedbackRows(f);
      const corr = panel === 'quality.correction_status' ? await this.corrections() : null;
      const keep = (i: number) =>
        panel === 'quality.feedback_rating' ? fb.rating[i] === key : panel === 'quality.feedback_reason' ? (fb.reason[i] ?? 'none') === key : fb.rating[i] === 'down' && (corr!.get(fb.fid[i]!) ?? 'pending') === key;
      const ids = new Set(rows.filter(keep).map((i) => fb.qid[i]!));
      const out: number[] = [];
      for (const id of ids) {
        const i = q.byId.get(id);
        if (i !== undefined) out.push(i);
      }
      return { q, rows: out };
    }
    const { q, rows } = await this.queryRows(f);
    switch (panel) {
      case 'online.all':
        return { q, rows };
      case 'online.status':
        return { q, rows: rows.filter((i) => String(q.status[i]) === key) };
      case 'online.route':
        return { q, rows: rows.filter((i) => q.route[i] === key) };
      case 'online.bucket': {
        const { of } = this.bucketing(q, rows, f);
        const t = Date.parse(key);
        return { q, rows: rows.filter((i) => of(i) === t) };
      }
      case 'online.cluster': {
        const t = await this.trending(f, q, rows);
        return { q, rows: [...(t.members.get(key) ?? [])] };
      }
      default:
        return { q, rows: [] };
    }
  }

  private async pairItems(page: { table: PairTable; i: number }[]): Promise<PairRowOut[]> {
    const byTable = new Map<PairTable, number[]>();
    for (const p of page) byTable.set(p.table, [...(byTable.get(p.table) ?? []), p.i]);
    const details = new Map<string, Record<string, unknown>>();
    for (const [t, idx] of byTable) {
      const ids = idx.map((i) => this.attrs.ids[t.gid[i]!]!);
      const cols = ['id', 'question', 'path', 'start_line', 'end_line'];
      const read = async (h: import('@lancedb/lancedb').Table) => {
        for (const r of await readAll(h, cols, `id IN (${ids.map(sqlString).join(',')})`)) details.set(`${t.name}:${r.id as string}`, r);
      };
      const latest = await this.tables.get(t.name);
      if (!latest) continue;
      await (latest.version === t.version ? read(latest.t) : this.tables.at(t.name, t.version, read));
    }
    return page.map(({ table: t, i }) => {
      const g = t.gid[i]!;
      const id = this.attrs.ids[g]!;
      const d = details.get(`${t.name}:${id}`) ?? {};
      const s = this.attrs.score[g]!;
      return {
        id,
        table: t.name,
        status: t.status[i]!,
        question: (d.question as string) ?? '',
        category: CATEGORIES[this.attrs.category[g]!]!,
        source_kind: KINDS[this.attrs.kind[g]!]!,
        path: (d.path as string | null) ?? null,
        start_line: (d.start_line as number | null) ?? null,
        end_line: (d.end_line as number | null) ?? null,
        quality_score: Number.isNaN(s) ? null : s,
        hardness: this.attrs.hardness[g]! >= 0 ? HARDNESS_LABELS[this.attrs.hardness[g]!]! : null,
        at: Number.isFinite(t.at[i]!) ? iso(t.at[i]!) : null,
        reasons: t.name === 'rejected' ? t.reasons[i]! : null,
      };
    });
  }

  private async queryItems(q: QueryIndex, page: number[]): Promise<QueryRowOut[]> {
    const fb = await this.feedback();
    const rating = new Map<string, { rating: string; reason: string | null }>();
    const want = new Set(page.map((i) => q.qid[i]!));
    for (let i = 0; i < fb.n; i++) if (want.has(fb.qid[i]!) && !rating.has(fb.qid[i]!)) rating.set(fb.qid[i]!, { rating: fb.rating[i]!, reason: fb.reason[i]! });
    return page.map((i) => ({
      query_id: q.qid[i]!,
      at: iso(q.at[i]!),
      route: q.route[i]!,
      question: q.question[i]!,
      abstained: q.abstained[i]!,
      status: q.status[i]!,
      synthetic: q.synthetic[i]!,
      latency_total: round(q.total[i]!),
      corpus_version: q.corpusVersion[i]! >= 0 ? q.corpusVersion[i]! : null,
      top_pair_id: q.topPair[i]!,
      top_source_kind: q.topKind[i]!,
      rating: (rating.get(q.qid[i]!)?.rating as 'up' | 'down' | undefined) ?? null,
      reason: rating.get(q.qid[i]!)?.reason ?? null,
    }));
  }

  /** Embeds (cached by text) and clusters the given text ids not clustered yet, in order. */
  private async cluster(textIds: number[]): Promise<void> {
    const todo = textIds.filter((t) => this.topics.clusterOf(t) < 0);
    if (!todo.length) return;
    await this.vectors.ensure(todo.map((t) => this.texts[t]!));
    for (const t of todo) if (this.topics.clusterOf(t) < 0) this.topics.assign(t, this.texts[t]!, this.vectors.get(this.texts[t]!)!);
  }

  /** Clusters the log's questions not clustered yet, most asked first, a batch at a time (up to `max`). */
  async clusterBacklog(max = 2048): Promise<number> {
    const q = await this.queryIndex();
    const { textId } = this.resolve(q);
    const freq = new Map<number, number>();
    for (let i = 0; i < q.n; i++) if (this.topics.clusterOf(textId[i]!) < 0) freq.set(textId[i]!, (freq.get(textId[i]!) ?? 0) + 1);
    const todo = [...freq].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, max).map(([t]) => t);
    for (let i = 0; i < todo.length && !this.stopped; i += BACKLOG_BATCH) {
      await this.cluster(todo.slice(i, i + BACKLOG_BATCH));
      // Room for requests between batches: the model takes every core while it runs.
      await new Promise((ok) => setTimeout(ok, 25));
    }
    return todo.length;
  }

  /**
   * Builds what the panels read (the latest indexes and the default views), so a request after a
   * promotion or a log flush finds them warm; clusters the questions the requests left (unless
   * `backlog: false`), then the default views again if that changed them.
   */
  async warm(opts: { backlog?: boolean } = {}): Promise<void> {
    const none: DashboardFilters = {};
    for (const panel of ['corpus', 'quality', 'retraining', 'online', 'drift'] as const) {
      if (this.stopped) return;
      await this[panel](none);
    }
    if (opts.backlog === false) return;
    if (!this.stopped && (await this.clusterBacklog()) && !this.stopped) {
      await this.online(none);
      await this.drift(none);
    }
  }
}
