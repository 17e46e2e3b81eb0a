// The dashboard's in-memory indexes over the stores: one column-projected scan of a table per LanceDB
// version of it (old versions never change, so their indexes are kept; the query log is appended to,
// so its index grows by the rows written since), with the figures every panel filters and counts.
// Pair ids map to small integers (`gid`) whose attributes (kind, category, scores, judge verdict) are
// content-determined: a pair id hashes its question, answer and context, so they hold in every table
// and every version.
import type * as lancedb from '@lancedb/lancedb';
import { Category, RejectReason, SourceKind } from '../datasets/schemas.js';
import { sqlString, type Stores, type TableName } from '../datasets/store.js';

export const KINDS = SourceKind.options;
export const CATEGORIES = Category.options;
export const REASONS = RejectReason.options;
export const VERDICTS = ['supported', 'partially', 'unsupported'] as const;
export const HARDNESS_LABELS = ['easy', 'medium', 'hard'] as const;
/** Indexed by PairAttrs.provenance (0: the last check failed, 1: it resolved). */
export const PROVENANCE_LABELS = ['not_resolved', 'resolved'] as const;

type Vec = { get(i: number): unknown } | null;

/** Streams the chosen columns of a table, batch by batch, as Arrow vectors (no per-row objects). */
export async function* columnBatches(t: lancedb.Table, cols: string[], where?: string): AsyncGenerator<{ n: number; c: Record<string, Vec> }> {
  let q = t.query().select(cols);
  if (where) q = q.where(where);
  for await (const b of q) {
    const c: Record<string, Vec> = {};
    for (const name of cols) c[name] = fastStrings(b.getChild(name) as ArrowVector | null);
    yield { n: b.numRows, c };
  }
}

interface ArrowChunk {
  length: number;
  offset: number;
  values: Uint8Array;
  valueOffsets?: Int32Array;
  nullBitmap?: Uint8Array;
  nullCount: number;
  type: { typeId: number };
}
type ArrowVector = { get(i: number): unknown; data: ArrowChunk[]; type: { typeId: number } };
const UTF8 = 5;
const decoder = new TextDecoder();

/**
 * A Utf8 column of one chunk, decoded in one call when it is ASCII (byte offsets are then character
 * offsets): per-value decoding is most of the time a scan of 100,000 rows takes otherwise.
 */
function fastStrings(v: ArrowVector | null): Vec {
  if (!v || v.type.typeId !== UTF8 || v.data.length !== 1) return v;
  const d = v.data[0]!;
  const offs = d.valueOffsets;
  if (!offs || d.offset !== 0) return v;
  const bytes = d.values.subarray(0, offs[d.length]!);
  const text = decoder.decode(bytes);
  // As many characters as bytes: all ASCII (a multi-byte character is fewer UTF-16 units than bytes).
  if (text.length !== bytes.length) return v;
  const bitmap = d.nullCount ? d.nullBitmap : undefined;
  return { get: (i: number) => (bitmap && !(bitmap[i >> 3]! & (1 << (i & 7))) ? null : text.slice(offs[i]!, offs[i + 1]!)) };
}

const str = (v: Vec, i: number) => (v ? ((v.get(i) as string | null) ?? null) : null);
const num = (v: Vec, i: number) => (v ? ((v.get(i) as number | null) ?? null) : null);
export const ms = (s: string | null | undefined) => (s ? Date.parse(s) : NaN);

/** Pair attributes by gid: typed columns grown by doubling. */
export class PairAttrs {
  readonly map = new Map<string, number>();
  readonly ids: string[] = [];
  private cap = 0;
  kind = new Int8Array(0);
  category = new Int8Array(0);
  /** Quality (value) score, NaN when none. */
  score = new Float64Array(0);
  /** Index into VERDICTS, -1 when the judge did not see it. */
  verdict = new Int8Array(0);
  /** Judge score 1–5, 0 when none. */
  judgeScore = new Int8Array(0);
  model = new Uint8Array(0);
  dup: (string | null)[] = [];
  /** Index into HARDNESS_LABELS, -1 when unlabelled (set from the hardness table). */
  hardness = new Int8Array(0);
  /** The last provenance check (provenance_checks): 1 resolved, 0 did not, -1 not checked. */
  provenance = new Int8Array(0);
  known = new Uint8Array(0);

  private grow(): void {
    const cap = Math.max(1024, this.cap * 2);
    const g = <T extends Int8Array | Uint8Array | Float64Array>(a: T, fill: number): T => {
      const b = new (a.constructor as new (n: number) => T)(cap);
      b.fill(fill);
      b.set(a);
      return b;
    };
    this.kind = g(this.kind, -1);
    this.category = g(this.category, -1);
    this.score = g(this.score, NaN);
    this.verdict = g(this.verdict, -1);
    this.judgeScore = g(this.judgeScore, 0);
    this.model = g(this.model, 0);
    this.hardness = g(this.hardness, -1);
    this.provenance = g(this.provenance, -1);
    this.known = g(this.known, 0);
    this.cap = cap;
  }

  get size(): number {
    return this.ids.length;
  }

  gid(id: string): number {
    let g = this.map.get(id);
    if (g === undefined) {
      g = this.ids.length;
      if (g >= this.cap) this.grow();
      this.map.set(id, g);
      this.ids.push(id);
      this.dup.push(null);
    }
    return g;
  }

  /** Every pair unlabelled (before the hardness table is read again). */
  clearHardness(): void {
    this.hardness.fill(-1);
  }

  /** Every pair unchecked (before the provenance_checks table is read again). */
  clearProvenance(): void {
    this.provenance.fill(-1);
  }

  /** Sets a pair's attributes from its row (once: they are the same wherever it is stored). */
  fill(g: number, kind: string, category: string, record: string | null, dup: string | null): void {
    if (this.known[g]) return;
    this.known[g] = 1;
    this.kind[g] = KINDS.indexOf(kind as never);
    this.category[g] = CATEGORIES.indexOf(category as never);
    this.dup[g] = dup;
    if (!record) return;
    const m = /"quality":\{"score":(-?[0-9.eE+-]+)/.exec(record);
    if (m) this.score[g] = Number(m[1]);
    else if (record.includes('"quality":')) {
      const q = (JSON.parse(record) as { quality?: { score?: number } }).quality;
      if (typeof q?.score === 'number') this.score[g] = q.score;
    }
    this.model[g] = record.includes('"model":"') ? 1 : 0;
    if (record.includes('"judge"')) {
      const r = JSON.parse(record) as { passed?: string[]; verdicts?: { check: string; pass: boolean; detail: string | null }[] };
      const v = r.verdicts?.find((x) => x.check === 'judge');
      const d = v?.detail ? /: (supported|partially|unsupported), ([1-5])\/5/.exec(v.detail) : null;
      if (d) {
        this.verdict[g] = VERDICTS.indexOf(d[1] as never);
        this.judgeScore[g] = Number(d[2]);
      } else if (v) this.verdict[g] = v.pass ? 0 : 2;
      else if (r.passed?.includes('judge')) this.verdict[g] = 0;
    }
  }
}

/** One pair table at one LanceDB version, row by row. */
export interface PairTable {
  name: 'corpus' | 'staging' | 'rejected';
  version: number;
  n: number;
  gid: Int32Array;
  status: string[];
  /** corpus: promoted_at; staging, rejected: updated_at (ms). */
  at: Float64Array;
  /** corpus only: retired_at (ms, NaN when active). */
  retiredAt: Float64Array;
  run: string[];
  /** rejected only: its reasons. */
  reasons: string[][];
}

const PAIR_COLS: Record<PairTable['name'], string[]> = {
  corpus: ['id', 'status', 'source_kind', 'category', 'promoted_at', 'retired_at', 'run_id', 'near_dup_cluster', 'record'],
  staging: ['id', 'status', 'source_kind', 'category', 'updated_at', 'run_id', 'near_dup_cluster', 'record'],
  rejected: ['id', 'source_kind', 'category', 'updated_at', 'run_id', 'near_dup_cluster', 'record', 'reasons'],
};

const ATTR_COLS = ['id', 'source_kind', 'category', 'near_dup_cluster', 'record'];

/**
 * One pair table, row by row. The pair attributes (kind, category, scores) of ids already known — a
 * staging row of a promoted pair, whose corpus row was read — are not read again: the light columns
 * first, then the attribute columns of the unknown ids only (or everything in one pass when most are).
 */
export async function readPairTable(t: lancedb.Table, name: PairTable['name'], version: number, attrs: PairAttrs): Promise<PairTable> {
  const gid: number[] = [];
  const status: string[] = [];
  const at: number[] = [];
  const retiredAt: number[] = [];
  const run: string[] = [];
  const reasons: string[][] = [];
  const atCol = name === 'corpus' ? 'promoted_at' : 'updated_at';
  const rows = await t.countRows();
  const light = PAIR_COLS[name].filter((c) => !ATTR_COLS.includes(c) || c === 'id');
  const oneScan = attrs.size < rows / 2;
  const unknown: string[] = [];
  for await (const { n, c } of columnBatches(t, oneScan ? PAIR_COLS[name] : light)) {
    for (let i = 0; i < n; i++) {
      const id = str(c.id!, i)!;
      const g = attrs.gid(id);
      if (!attrs.known[g]) {
        if (oneScan) attrs.fill(g, str(c.source_kind!, i) ?? '', str(c.category!, i) ?? '', str(c.record!, i), str(c.near_dup_cluster!, i));
        else unknown.push(id);
      }
      gid.push(g);
      status.push(name === 'rejected' ? 'rejected' : (str(c.status!, i) ?? ''));
      at.push(ms(str(c[atCol]!, i)));
      retiredAt.push(name === 'corpus' ? ms(str(c.retired_at!, i)) : NaN);
      run.push(str(c.run_id!, i) ?? '');
      if (name === 'rejected') reasons.push((str(c.reasons!, i) ?? '').split(',').filter(Boolean));
    }
  }
  await fillAttrs(t, unknown, attrs);
  return { name, version, n: gid.length, gid: Int32Array.from(gid), status, at: Float64Array.from(at), retiredAt: Float64Array.from(retiredAt), run, reasons };
}

/** Reads the attribute columns of the given ids (2,000 per filter). */
async function fillAttrs(t: lancedb.Table, ids: string[], attrs: PairAttrs): Promise<void> {
  for (let i = 0; i < ids.length; i += 2000) {
    const part = ids.slice(i, i + 2000);
    for await (const { n, c } of columnBatches(t, ATTR_COLS, `id IN (${part.map(sqlString).join(',')})`))
      for (let j = 0; j < n; j++) attrs.fill(attrs.gid(str(c.id!, j)!), str(c.source_kind!, j) ?? '', str(c.category!, j) ?? '', str(c.record!, j), str(c.near_dup_cluster!, j));
  }
}

/** The active and retired pairs of the corpus at one version. */
export interface Snapshot {
  version: number;
  active: Int32Array;
  retired: Int32Array;
}

export function snapshotOf(t: PairTable): Snapshot {
  const active: number[] = [];
  const retired: number[] = [];
  for (let i = 0; i < t.n; i++) (t.status[i] === 'active' ? active : t.status[i] === 'retired' ? retired : []).push(t.gid[i]!);
  return { version: t.version, active: Int32Array.from(active), retired: Int32Array.from(retired) };
}

/** A snapshot of an old corpus version: ids and status, and the attributes of ids not seen before. */
export async function readSnapshot(t: lancedb.Table, version: number, attrs: PairAttrs): Promise<Snapshot> {
  const active: number[] = [];
  const retired: number[] = [];
  const unknown: string[] = [];
  for await (const { n, c } of columnBatches(t, ['id', 'status'])) {
    for (let i = 0; i < n; i++) {
      const id = str(c.id!, i)!;
      const g = attrs.gid(id);
      if (!attrs.known[g]) unknown.push(id);
      const s = str(c.status!, i);
      if (s === 'active') active.push(g);
      else if (s === 'retired') retired.push(g);
    }
  }
  await fillAttrs(t, unknown, attrs);
  return { version, active: Int32Array.from(active), retired: Int32Array.from(retired) };
}

/** The query log, row by row; grows by the rows written since it was read. */
export class QueryIndex {
  version = -1;
  n = 0;
  readonly byId = new Map<string, number>();
  qid: string[] = [];
  at: number[] = [];
  route: string[] = [];
  abstained: boolean[] = [];
  status: number[] = [];
  synthetic: boolean[] = [];
  retrieve: number[] = [];
  generate: number[] = [];
  total: number[] = [];
  corpusVersion: number[] = [];
  /** The top citation's pair id and source kind, null without citations. */
  topPair: (string | null)[] = [];
  topKind: (string | null)[] = [];
  question: string[] = [];
  maxAt = -Infinity;

  static readonly COLS = ['query_id', 'at', 'route', 'abstained', 'status', 'synthetic', 'latency_retrieve', 'latency_generate', 'latency_total', 'corpus_version', 'citations', 'question'];

  add(c: Record<string, Vec>, i: number): void {
    const id = str(c.query_id!, i)!;
    if (this.byId.has(id)) return;
    this.byId.set(id, this.n++);
    this.qid.push(id);
    const at = ms(str(c.at!, i));
    this.at.push(at);
    if (at > this.maxAt) this.maxAt = at;
    this.route.push(str(c.route!, i) ?? '');
    this.abstained.push(Boolean(c.abstained!.get(i)));
    this.status.push(num(c.status!, i) ?? 0);
    this.synthetic.push(Boolean(c.synthetic!.get(i)));
    this.retrieve.push(num(c.latency_retrieve!, i) ?? 0);
    this.generate.push(num(c.latency_generate!, i) ?? 0);
    this.total.push(num(c.latency_total!, i) ?? 0);
    this.corpusVersion.push(num(c.corpus_version!, i) ?? -1);
    const [pair, kind] = topCitation(str(c.citations!, i) ?? '[]');
    this.topPair.push(pair);
    this.topKind.push(kind);
    this.question.push(str(c.question!, i) ?? '');
  }
}

/** Rows the journal may move in late: a replay after a restart brings rows answered before the last read. */
const LATE_MS = 10 * 60_000;

/** Brings a query index up to the table's version: the rows since (by time, with slack), else a full read. */
export async function updateQueryIndex(t: lancedb.Table, version: number, idx: QueryIndex | null): Promise<QueryIndex> {
  if (idx && idx.version === version) return idx;
  const rows = await t.countRows();
  if (idx && rows >= idx.n && Number.isFinite(idx.maxAt)) {
    for await (const { n, c } of columnBatches(t, QueryIndex.COLS, `at >= ${sqlString(new Date(idx.maxAt - LATE_MS).toISOString())}`)) for (let i = 0; i < n; i++) idx.add(c, i);
    if (idx.n === rows) {
      idx.version = version;
      return idx;
    }
  }
  const fresh = new QueryIndex();
  for await (const { n, c } of columnBatches(t, QueryIndex.COLS)) for (let i = 0; i < n; i++) fresh.add(c, i);
  fresh.version = version;
  return fresh;
}

/** pair_id and source_kind of the first citation (the server writes them first, in that order). */
export function topCitation(json: string): [string | null, string | null] {
  if (json === '[]' || !json) return [null, null];
  const m = /^\[\{"pair_id":"([^"]+)","source_kind":"([^"]+)"/.exec(json);
  if (m) return [m[1]!, m[2]!];
  try {
    const c = (JSON.parse(json) as { pair_id?: string; source_kind?: string }[])[0];
    return [c?.pair_id ?? null, c?.source_kind ?? null];
  } catch {
    return [null, null];
  }
}

export interface FeedbackIndex {
  version: number;
  n: number;
  fid: string[];
  qid: string[];
  at: number[];
  rating: string[];
  reason: (string | null)[];
  synthetic: boolean[];
}

export async function readFeedback(t: lancedb.Table, version: number): Promise<FeedbackIndex> {
  const out: FeedbackIndex = { version, n: 0, fid: [], qid: [], at: [], rating: [], reason: [], synthetic: [] };
  const seen = new Set<string>();
  for await (const { n, c } of columnBatches(t, ['feedback_id', 'query_id', 'at', 'rating', 'reason', 'synthetic'])) {
    for (let i = 0; i < n; i++) {
      const id = str(c.feedback_id!, i)!;
      if (seen.has(id)) continue;
      seen.add(id);
      out.fid.push(id);
      out.qid.push(str(c.query_id!, i)!);
      out.at.push(ms(str(c.at!, i)));
      out.rating.push(str(c.rating!, i) ?? '');
      out.reason.push(str(c.reason!, i));
      out.synthetic.push(Boolean(c.synthetic!.get(i)));
    }
  }
  out.n = out.fid.length;
  return out;
}

/** Small tables, read whole (every row as an object). */
export async function readAll(t: lancedb.Table, cols: string[], where?: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let q = t.query().select(cols);
  if (where) q = q.where(where);
  for await (const b of q) for (const r of b.toArray() as { toJSON(): Record<string, unknown> }[]) out.push(r.toJSON());
  return out;
}

/**
 * Handles on the tables the dashboard reads, each at its latest version (looked up at most every
 * `freshMs`), and handles checked out at old versions (closed after use).
 */
export class Tables {
  private latest = new Map<TableName, { t: lancedb.Table; version: number; checked: number }>();
  private names: { at: number; set: Set<string> } = { at: 0, set: new Set() };
  constructor(
    private readonly stores: Stores,
    private readonly freshMs = 100,
  ) {}

  private async exists(name: TableName): Promise<boolean> {
    if (this.names.set.has(name)) return true;
    if (Date.now() - this.names.at > this.freshMs) this.names = { at: Date.now(), set: new Set(await this.stores.db.tableNames()) };
    return this.names.set.has(name);
  }

  /** The table at its latest version, or null when it does not exist yet. */
  async get(name: TableName): Promise<{ t: lancedb.Table; version: number } | null> {
    let h = this.latest.get(name);
    if (!h) {
      if (!(await this.exists(name))) return null;
      const t = await this.stores.db.openTable(name);
      h = { t, version: await t.version(), checked: Date.now() };
      this.latest.set(name, h);
    } else if (Date.now() - h.checked > this.freshMs) {
      await h.t.checkoutLatest();
      h.version = await h.t.version();
      h.checked = Date.now();
    }
    return h;
  }

  async version(name: TableName): Promise<number> {
    return (await this.get(name))?.version ?? 0;
  }

  /** Runs `fn` on a handle of `name` checked out at `version`. */
  async at<T>(name: TableName, version: number, fn: (t: lancedb.Table) => Promise<T>): Promise<T> {
    const t = await this.stores.db.openTable(name);
    try {
      await t.checkout(version);
      return await fn(t);
    } finally {
      t.close();
    }
  }

  close(): void {
    for (const h of this.latest.values()) h.t.close();
    this.latest.clear();
  }
}
