// The LanceDB stores under the data dir: staging, rejected, corpus, sources, skipped, runs, versions, tags, evals, hardness,
// provenance_checks, github_items (raw API items, joined locally), state (cursors, ETags), and the online half: queries, feedback, corrections, api_keys.
// Pair ids are content hashes, so every write is idempotent: known ids are skipped, corpus writes merge on id.
import { mkdirSync, accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Bool, Field, FixedSizeList, Float32, Int32, Schema, Utf8, Float64 } from 'apache-arrow';
import { UserError } from '../lib/errors.js';
import { rowsToArrowTable } from './arrow-rows.js';
import type { FeedbackProvenance, Quality, QAPair, RejectReason, SkipRecord, SourceRecord, StagingStatus, Verdict } from './schemas.js';
import { CORPUS_VECTORS_KEY as CORPUS_VECTORS } from './state-keys.js';

const str = (name: string, nullable = false) => new Field(name, new Utf8(), nullable);
const int = (name: string) => new Field(name, new Int32(), true);

// Columns every pair table shares; the whole pair also travels as JSON in `record`.
const PAIR_FIELDS = [
  str('id'),
  str('qa_key'),
  str('question'),
  str('answer'),
  str('context'),
  str('category'),
  str('source_id'),
  str('source_kind'),
  str('symbol_kind', true),
  str('variant', true),
  str('repo'),
  str('path', true),
  int('start_line'),
  int('end_line'),
  str('qualname', true),
  str('url', true),
  str('commit_first_seen'),
  str('commit_last_verified'),
  str('split_group'),
  str('near_dup_cluster', true),
  str('generator'),
  str('generator_version'),
  str('run_id'),
  str('updated_at'),
  str('record'),
];

/** The corpus's embedding column: one vector per pair (its question and answer by default: models.embedder.text), set at promotion. */
export const DEFAULT_VECTOR_DIMENSIONS = 384;
const vectorField = (dimensions: number) => new Field('vector', new FixedSizeList(dimensions, new Field('item', new Float32(), true)), true);

export const SCHEMAS = {
  staging: new Schema([...PAIR_FIELDS, str('status')]),
  rejected: new Schema([...PAIR_FIELDS, str('reasons'), str('detail')]),
  corpus: new Schema([
    ...PAIR_FIELDS,
    str('status'), // active | retired
    str('search_text'),
    str('promoted_at'),
    str('retired_reason', true),
    str('retired_at', true),
    str('retired_commit', true),
    vectorField(DEFAULT_VECTOR_DIMENSIONS),
  ]),
  sources: new Schema([
    str('id'),
    str('kind'),
    str('symbol_kind', true),
    str('repo'),
    str('path', true),
    str('qualname', true),
    int('start_line'),
    int('end_line'),
    str('commit_first_seen'),
    str('commit_last_verified'),
    str('run_id'),
    str('record'),
  ]),
  skipped: new Schema([str('run_id'), str('commit'), str('path'), str('reason'), str('detail')]),
  runs: new Schema([str('run_id'), str('command'), str('repo'), str('commit'), str('license'), str('started_at'), str('finished_at'), str('stats')]),
  /** Issues, PRs, comments and review comments as the GitHub API returned them, one row per item. */
  github_items: new Schema([
    str('key'), // kind:id
    str('kind'), // issue | issue_comment | review_comment
    str('repo'),
    new Field('number', new Int32(), false), // the issue/PR the item belongs to
    str('updated_at'),
    new Field('seq', new Float64(), false), // when it was stored: items stored after the last build are rebuilt
    str('json'),
  ]),
  /** Small key → value state: one cursor per source, ETags of conditional requests. */
  state: new Schema([str('key'), str('value'), str('updated_at'), str('run_id', true)]),
  /** Retrieval hardness of sampled pairs (`qaforge report`): the rank of a pair's own source when its question is searched. */
  hardness: new Schema([str('id'), int('rank'), str('label'), str('mode'), new Field('corpus_version', new Int32(), false), str('computed_at')]),
  /** Provenance checks of sampled pairs (`qaforge verify`, `qaforge report`): the last check of each pair, and why it failed. */
  provenance_checks: new Schema([str('id'), str('source_kind'), new Field('resolved', new Bool(), false), str('reason', true), str('commit'), str('checked_at')]),
  /** One retrieval eval: a set (id + hash) run in one mode with one embedder on one corpus version. */
  evals: new Schema([
    new Field('corpus_version', new Int32(), false),
    str('set_id'),
    str('set_hash'),
    str('mode'),
    str('embedder'),
    int('k'),
    int('questions'),
    new Field('recall_at_1', new Float64(), false),
    new Field('recall_at_5', new Float64(), false),
    new Field('recall_at_10', new Float64(), false),
    new Field('mrr_at_10', new Float64(), false),
    new Field('ndcg_at_10', new Float64(), false),
    new Field('seconds', new Float64(), false),
    str('created_at'),
    /** Intervals, per-kind figures and each query's gold ranks, as JSON. */
    str('detail'),
  ]),
  /**
   * Dataset versions (datasets/versions.ts): one row per promotion or rollback, numbered by the corpus's
   * LanceDB version it made, with every table's LanceDB version at that moment.
   */
  versions: new Schema([
    new Field('version', new Int32(), false),
    str('promoted_at'), // when the version was made: a promotion's start, a rollback's time
    new Field('inserted', new Float64(), false), // pairs active now and not at the previous version
    new Field('updated', new Float64(), false),
    new Field('active', new Float64(), false),
    str('run_id'),
    str('kind'), // promotion | rollback
    new Field('retired', new Float64(), false), // pairs active at the previous version and not now
    str('reason', true), // why a rollback was made
    int('rolled_back_to'), // the version a rollback restored
    str('tables'), // JSON: table → its LanceDB version
    str('eval_summary', true), // JSON, set after the fact from the retrieval eval
    str('detail', true), // JSON: a rollback's staging changes and index checks
  ]),
  /** Names of dataset versions: unique, [A-Za-z0-9._-]+, several per version allowed. */
  tags: new Schema([str('name'), new Field('version', new Int32(), false), str('created_at')]),
  /**
   * The query log (serve/): one row per answered request, moved here from the server's fsync'd journal
   * in batches. Question and answer are scrubbed of keys, tokens, e-mail addresses and IPs.
   */
  queries: new Schema([
    str('query_id'),
    str('at'),
    str('key_name'),
    str('route'), // query | chat | search
    str('question'),
    str('answer', true),
    new Field('abstained', new Bool(), false),
    str('mode'),
    str('answer_mode'),
    int('k'),
    str('retrieved'), // JSON [{id, score}]
    str('citations'), // JSON, as returned
    new Field('top_score', new Float64(), true), // the abstention signal
    new Field('latency_retrieve', new Float64(), false),
    new Field('latency_generate', new Float64(), false),
    new Field('latency_total', new Float64(), false),
    str('model'),
    int('corpus_version'),
    int('status'),
    new Field('synthetic', new Bool(), false),
    str('error', true),
  ]),
  /** User feedback on an answer, as accepted by the server (same journal as queries); one per (query, key). */
  feedback: new Schema([
    str('feedback_id'),
    str('query_id'),
    str('key_name'),
    str('at'),
    str('rating'), // up | down
    str('reason', true), // wrong | unhelpful | outdated | other
    str('comment', true),
    str('correction', true),
    new Field('synthetic', new Bool(), false),
  ]),
  /**
   * The review of a flagged answer (`qaforge feedback`, feedbackWorkflow): written by the CLI and the
   * workflow only, never by the server, so the two never write one table. No row: pending.
   */
  corrections: new Schema([
    str('feedback_id'),
    str('query_id'),
    str('status'), // proposed | accepted | rejected
    str('origin'), // model | user | manual
    str('pair_id', true), // the corrected pair, when one passed the checks
    str('pair', true), // JSON QAPair of the candidate
    str('disputed'), // JSON: ids of the pairs the flagged answer cited
    str('detail'), // JSON: verdicts, why rejected, evidence
    str('updated_at'),
    int('promoted_version'),
  ]),
  /** API keys of `qaforge serve`: only a SHA-256 of each key is kept, with its name and role. */
  api_keys: new Schema([str('name'), str('role'), str('hash'), str('prefix'), str('created_at'), str('revoked_at', true)]),
};
export type TableName = keyof typeof SCHEMAS;

/** A table's column names, less some; reads of pairs leave out the corpus's derived `search_text` and `vector`. */
export const columnsOf = (name: TableName, except: string[] = ['search_text', 'vector']) =>
  SCHEMAS[name].fields.map((f) => f.name).filter((n) => !except.includes(n));

export function pairRow(p: QAPair, runId: string, now: string) {
  const v = p.provenance;
  return {
    id: p.id,
    qa_key: (p as QAPair & { qaKey?: string }).qaKey ?? '',
    question: p.question,
    answer: p.answer,
    context: p.context,
    category: p.category,
    source_id: p.sourceId,
    source_kind: p.sourceKind,
    symbol_kind: p.symbolKind,
    variant: p.variant,
    repo: v.repo,
    path: v.path,
    start_line: v.startLine,
    end_line: v.endLine,
    qualname: v.qualname,
    url: v.url,
    commit_first_seen: v.commitFirstSeen,
    commit_last_verified: v.commitLastVerified,
    split_group: p.splitGroup,
    near_dup_cluster: p.nearDupCluster,
    generator: p.generator.name,
    generator_version: p.generator.version,
    run_id: runId,
    updated_at: now,
    // Only what the columns above do not already hold, compactly: passing checks by name.
    record: JSON.stringify({
      evidence: p.evidence,
      passed: p.verdicts.filter((x) => x.pass && !x.detail).map((x) => x.check),
      verdicts: p.verdicts.filter((x) => !x.pass || x.detail),
      ...(p.generator.promptVersion || p.generator.model ? { prompt_version: p.generator.promptVersion, model: p.generator.model } : {}),
      ...(v.prNumber || v.issueNumber || v.commentId ? { pr: v.prNumber, issue: v.issueNumber, comment: v.commentId } : {}),
      ...(p.quality ? { quality: p.quality } : {}),
      ...(p.feedback ? { feedback: p.feedback } : {}),
    } satisfies PairExtra),
  };
}

/** The JSON `record` column of pair tables. */
interface PairExtra {
  evidence: string[];
  passed: string[];
  verdicts: Verdict[];
  prompt_version?: string | null;
  model?: string | null;
  pr?: number | null;
  issue?: number | null;
  comment?: number | null;
  quality?: Quality;
  feedback?: FeedbackProvenance;
}

/** Rebuilds a QAPair from a pair-table row. */
export function pairFromRow(row: Record<string, unknown>): QAPair {
  const extra = JSON.parse(row.record as string) as PairExtra;
  const str = (k: string) => (row[k] ?? null) as string | null;
  const int = (k: string) => (row[k] ?? null) as number | null;
  return {
    id: row.id as string,
    question: row.question as string,
    answer: row.answer as string,
    context: row.context as string,
    evidence: extra.evidence,
    category: row.category as QAPair['category'],
    sourceId: row.source_id as string,
    sourceKind: row.source_kind as QAPair['sourceKind'],
    symbolKind: str('symbol_kind') as QAPair['symbolKind'],
    variant: str('variant'),
    provenance: {
      repo: row.repo as string,
      commitFirstSeen: row.commit_first_seen as string,
      commitLastVerified: row.commit_last_verified as string,
      path: str('path'),
      startLine: int('start_line'),
      endLine: int('end_line'),
      qualname: str('qualname'),
      url: str('url'),
      prNumber: extra.pr ?? null,
      issueNumber: extra.issue ?? null,
      commentId: extra.comment ?? null,
    },
    generator: { name: row.generator as string, version: row.generator_version as string, promptVersion: extra.prompt_version ?? null, model: extra.model ?? null },
    splitGroup: row.split_group as string,
    verdicts: [...extra.passed.map((check) => ({ check, pass: true, reason: null, detail: null })), ...extra.verdicts],
    nearDupCluster: str('near_dup_cluster'),
    ...(extra.quality ? { quality: extra.quality } : {}),
    ...(extra.feedback ? { feedback: extra.feedback } : {}),
  };
}

export function sourceRow(r: SourceRecord, runId: string) {
  const v = r.provenance;
  return {
    id: r.id,
    kind: r.kind,
    symbol_kind: r.code?.symbolKind ?? null,
    repo: v.repo,
    path: v.path,
    qualname: v.qualname,
    start_line: v.startLine,
    end_line: v.endLine,
    commit_first_seen: v.commitFirstSeen,
    commit_last_verified: v.commitLastVerified,
    run_id: runId,
    // Provenance lives in the columns above; the JSON holds the rest.
    record: JSON.stringify({
      text: r.text,
      contentHash: r.contentHash,
      code: r.code,
      redactions: r.redactions,
      url: v.url,
      ...(v.prNumber || v.issueNumber || v.commentId ? { pr: v.prNumber, issue: v.issueNumber, comment: v.commentId } : {}),
    }),
  };
}

/** Rebuilds a SourceRecord from a `sources` row. */
export function sourceFromRow(row: Record<string, unknown>): SourceRecord {
  const x = JSON.parse(row.record as string) as { text: string; contentHash: string; code: SourceRecord['code']; redactions: string[]; url: string | null; pr?: number | null; issue?: number | null; comment?: number | null };
  return {
    id: row.id as string,
    kind: row.kind as SourceRecord['kind'],
    text: x.text,
    contentHash: x.contentHash,
    code: x.code,
    redactions: x.redactions,
    provenance: {
      repo: row.repo as string,
      commitFirstSeen: row.commit_first_seen as string,
      commitLastVerified: row.commit_last_verified as string,
      path: (row.path ?? null) as string | null,
      startLine: (row.start_line ?? null) as number | null,
      endLine: (row.end_line ?? null) as number | null,
      qualname: (row.qualname ?? null) as string | null,
      url: x.url ?? null,
      prNumber: x.pr ?? null,
      issueNumber: x.issue ?? null,
      commentId: x.comment ?? null,
    },
  };
}

export const skipKey = (commit: string, s: Pick<SkipRecord, 'path' | 'reason'>) => `${commit}\u0000${s.path}\u0000${s.reason}`;


/** SQL string literal for LanceDB filters. */
export const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;


/** Rows per LanceDB add: what the pair sink flushes at (≈ 0.4 s of writing, a few MB of Arrow). */
const ADD_ROWS = 5000;

export class Stores {
  private tables = new Map<TableName, lancedb.Table>();
  private vectorsOf: { model: string; text: string } | null | undefined;
  private constructor(
    readonly dataDir: string,
    readonly db: lancedb.Connection,
    /** Width of the corpus's vector column when this opening creates it (the embedder's output). */
    readonly vectorDimensions: number,
  ) {}

  /** The stores of a configuration: its data dir, and its embedder's vector width for a new corpus. */
  static openFor(cfg: { dataDir: string; models: { embedder: { dimensions: number } } }): Promise<Stores> {
    return Stores.open(cfg.dataDir, { vectorDimensions: cfg.models.embedder.dimensions });
  }

  static async open(dataDir: string, opts: { vectorDimensions?: number } = {}): Promise<Stores> {
    const stores = await Stores.connect(dataDir, opts.vectorDimensions ?? DEFAULT_VECTOR_DIMENSIONS);
    await stores.checkSchemas();
    return stores;
  }

  /** A data dir written by an older qaforge lacks columns this one writes: say so, instead of failing mid-run. */
  private async checkSchemas(): Promise<void> {
    const existing = new Set(await this.db.tableNames());
    for (const name of Object.keys(SCHEMAS) as TableName[]) {
      if (!existing.has(name)) continue;
      // Opened as it is: createEmptyTable (what table() does) fails on any schema difference with a bare "Schema Error".
      const t = await this.db.openTable(name);
      this.tables.set(name, t);
      const have = new Set((await t.schema()).fields.map((f) => f.name));
      const missing = SCHEMAS[name].fields.map((f) => f.name).filter((n) => !have.has(n));
      if (missing.length)
        throw new UserError(
          `data dir ${this.dataDir} was written by an older qaforge (table ${name} lacks ${missing.join(', ')}): use a new --data-dir and run backfill again`,
        );
    }
  }

  private static async connect(dataDir: string, vectorDimensions: number): Promise<Stores> {
    const dir = resolve(dataDir);
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new UserError(`data dir ${dataDir} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (set --data-dir or QAFORGE_DATA_DIR)`);
    }
    const db = await lancedb.connect(resolve(dir, 'lancedb'));
    return new Stores(dir, db, vectorDimensions);
  }

  async table(name: TableName): Promise<lancedb.Table> {
    let t = this.tables.get(name);
    if (!t) {
      t = await this.db.createEmptyTable(name, this.schemaOf(name), { existOk: true });
      this.tables.set(name, t);
    }
    return t;
  }

  schemaOf(name: TableName): Schema {
    if (name !== 'corpus' || this.vectorDimensions === DEFAULT_VECTOR_DIMENSIONS) return SCHEMAS[name];
    return new Schema([...SCHEMAS.corpus.fields.filter((f) => f.name !== 'vector'), vectorField(this.vectorDimensions)]);
  }

  /** The width of the corpus's vector column as stored. */
  async corpusVectorDimensions(): Promise<number> {
    const f = (await (await this.table('corpus')).schema()).fields.find((x) => x.name === 'vector');
    return (f?.type as FixedSizeList | undefined)?.listSize ?? 0;
  }

  async add(name: TableName, rows: Record<string, unknown>[]): Promise<void> {
    if (!rows.length) return;
    await (await this.table(name)).add(rowsToArrowTable(rows, SCHEMAS[name]));
  }

  /**
   * Adds items as rows, ADD_ROWS at a time: one unit (a file of 100,000 functions, a doc of 50,000
   * sections) can bring far more rows than a flush usually holds, and the Arrow copy of all of them
   * at once cost hundreds of MB.
   */
  private async addEach<T>(name: TableName, items: T[], toRow: (x: T) => Record<string, unknown>): Promise<void> {
    for (let i = 0; i < items.length; i += ADD_ROWS) await this.add(name, items.slice(i, i + ADD_ROWS).map(toRow));
  }

  /** Streams chosen columns of a table, batch by batch. */
  async *scan(name: TableName, columns: string[], where?: string): AsyncGenerator<Record<string, unknown>[]> {
    const t = await this.table(name);
    let q = t.query().select(columns);
    if (where) q = q.where(where);
    for await (const batch of q) yield batch.toArray().map((r: { toJSON(): Record<string, unknown> }) => r.toJSON());
  }

  async count(name: TableName, where?: string): Promise<number> {
    return (await this.table(name)).countRows(where);
  }

  /**
   * What a run must not add again, in one pass over each table, streamed batch by batch (the pair
   * sink keeps it on disk, not on the heap): every pair id staging or rejected holds, and for staging
   * rows whether they are live (unretired) with their qa key and question (for exact-duplicate and
   * ambiguity checks across runs). The corpus is not read: it only ever receives pairs from staging,
   * whose rows are never deleted.
   */
  async *knownPairs(): AsyncGenerator<{ id: string; live: boolean; qaKey: string; question: string | null }[]> {
    for await (const rows of this.scan('staging', ['id', 'qa_key', 'status', 'question']))
      yield rows.map((r) => ({ id: r.id as string, live: r.status !== 'retired', qaKey: r.qa_key as string, question: r.question as string }));
    for await (const rows of this.scan('rejected', ['id'])) yield rows.map((r) => ({ id: r.id as string, live: false, qaKey: '', question: null }));
  }

  /**
   * The embedder (model and embedded text) the corpus's vectors were made with: null before the first
   * promotion with an embedder. Vectors of two models of one width mix without any error, so promotion
   * and search compare with it.
   */
  async corpusVectors(): Promise<{ model: string; text: string } | null> {
    if (this.vectorsOf === undefined) {
      const v = await this.getState(CORPUS_VECTORS);
      this.vectorsOf = v ? (JSON.parse(v) as { model: string; text: string }) : null;
    }
    return this.vectorsOf;
  }

  async setCorpusVectors(v: { model: string; text: string }): Promise<void> {
    await this.setState({ [CORPUS_VECTORS]: JSON.stringify(v) });
    this.vectorsOf = v;
  }

  async getState(key: string): Promise<string | null> {
    for await (const rows of this.scan('state', ['value'], `key = ${sqlString(key)}`)) if (rows.length) return rows[0]!.value as string;
    return null;
  }

  /** Sets state keys in one merge: a cursor and what it covers can be written together. */
  async setState(values: Record<string, string>, runId: string | null = null): Promise<void> {
    const now = new Date().toISOString();
    const rows = Object.entries(values).map(([key, value]) => ({ key, value, updated_at: now, run_id: runId }));
    if (!rows.length) return;
    await (await this.table('state')).mergeInsert('key').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rowsToArrowTable(rows, SCHEMAS.state));
  }

  async stateWithPrefix(prefix: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for await (const rows of this.scan('state', ['key', 'value'], `key LIKE ${sqlString(`${prefix}%`)}`)) for (const r of rows) out[r.key as string] = r.value as string;
    return out;
  }

  /** Upserts raw GitHub items by key: a re-fetched item replaces its older copy. */
  async upsertGithubItems(rows: { key: string; kind: string; repo: string; number: number; updated_at: string; seq: number; json: string }[]): Promise<void> {
    if (!rows.length) return;
    await (await this.table('github_items'))
      .mergeInsert('key')
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(rowsToArrowTable(rows, SCHEMAS.github_items));
  }

  /** (commit, path, reason) of every recorded skip, so a re-run does not record it again; batch by batch. */
  async *knownSkipKeys(): AsyncGenerator<string[]> {
    for await (const rows of this.scan('skipped', ['commit', 'path', 'reason'])) yield rows.map((r) => skipKey(r.commit as string, r as SkipRecord));
  }

  /** Every stored source record id, batch by batch. */
  async *knownSourceIds(): AsyncGenerator<string[]> {
    for await (const rows of this.scan('sources', ['id'])) yield rows.map((r) => r.id as string);
  }

  async stage(pairs: QAPair[], runId: string, status: StagingStatus = 'validated'): Promise<void> {
    const now = new Date().toISOString();
    await this.addEach('staging', pairs, (p) => ({ ...pairRow(p, runId, now), status }));
  }

  async reject(items: { pair: QAPair; reasons: RejectReason[]; detail: string }[], runId: string): Promise<void> {
    const now = new Date().toISOString();
    await this.addEach('rejected', items, ({ pair, reasons, detail }) => ({ ...pairRow(pair, runId, now), reasons: reasons.join(','), detail }));
  }

  async addSources(records: SourceRecord[], runId: string): Promise<void> {
    await this.addEach('sources', records, (r) => sourceRow(r, runId));
  }

  async addSkips(skips: SkipRecord[], runId: string, commit: string): Promise<void> {
    await this.addEach('skipped', skips, (s) => ({ run_id: runId, commit, ...s }));
  }

  /** Moves every open table handle to the table's latest version: what another process (a promotion, a key command) wrote since. */
  async refreshTables(): Promise<void> {
    for (const t of this.tables.values()) await t.checkoutLatest();
  }

  close(): void {
    for (const t of this.tables.values()) t.close();
    this.tables.clear();
    this.db.close();
  }
}
