// Dataset versions: each promotion or rollback of the corpus is one version of the whole dataset — the
// LanceDB version of every table at that moment, what changed and why — so versions can be listed,
// named, compared, scored and restored. A version's number is the corpus's LanceDB version it made.
import * as lancedb from '@lancedb/lancedb';
import { z } from 'zod';
import { UserError } from '../lib/errors.js';
import { sqlString, type Stores, type TableName } from './store.js';
import { isCursorKey } from './state-keys.js';

/**
 * Tables whose LanceDB version a dataset version records. LanceDB keeps every version of a table until
 * someone calls `optimize({ cleanupOlderThan })` or a cleanup: nothing in qaforge does, so every
 * recorded version stays readable (`export --version`, `diff`, `rollback`).
 */
export const VERSIONED_TABLES = ['corpus', 'staging', 'rejected', 'sources', 'skipped', 'runs', 'github_items', 'state'] as const satisfies readonly TableName[];

export type VersionKind = 'promotion' | 'rollback';

/** What a rollback did beside restoring the corpus. */
export interface RollbackDetail {
  /** Staging rows moved so staging agrees with the restored corpus. */
  staging: { toValidated: number; toPromoted: number; toRetired: number };
  /** The restored corpus's indexes: as they were at the restored version, or rebuilt when a search on them failed. */
  indexes: { fts: 'kept' | 'rebuilt'; vector: 'kept' | 'rebuilt' | 'none' };
  /** Source cursors set back to their values at the restored version (absent in rollbacks made before this). */
  cursors?: number;
}

export interface DatasetVersion {
  version: number;
  /** When it was made: a promotion's start, a rollback's time. */
  at: string;
  kind: VersionKind;
  runId: string;
  /** Pairs active now and not at the previous version (a rollback: pairs active again). */
  inserted: number;
  /** Active pairs a promotion refreshed in place. */
  updated: number;
  /** Pairs active at the previous version and not now. */
  retired: number;
  active: number;
  reason: string | null;
  rolledBackTo: number | null;
  /** Each table's LanceDB version when this version was made. */
  tables: Record<string, number>;
  evalSummary: Record<string, unknown> | null;
  tags: string[];
  /** The later rollback whose restored corpus no longer holds this version's changes. */
  undoneBy: number | null;
  detail: RollbackDetail | null;
}

const VersionRow = z.object({
  version: z.number().int(),
  promoted_at: z.string(),
  inserted: z.number(),
  updated: z.number(),
  active: z.number(),
  run_id: z.string(),
  kind: z.enum(['promotion', 'rollback']),
  retired: z.number(),
  reason: z.string().nullable(),
  rolled_back_to: z.number().int().nullable(),
  tables: z.string(),
  eval_summary: z.string().nullable(),
  detail: z.string().nullable(),
});
const TableVersions = z.record(z.string(), z.number().int());
const EvalSummary = z.record(z.string(), z.unknown());
const Detail = z.object({
  staging: z.object({ toValidated: z.number(), toPromoted: z.number(), toRetired: z.number() }),
  indexes: z.object({ fts: z.enum(['kept', 'rebuilt']), vector: z.enum(['kept', 'rebuilt', 'none']) }),
  cursors: z.number().int().optional(),
});

/** A tag: letters, digits, `.`, `_`, `-`, and not only digits (that would read as a version number). */
export const TAG_NAME = /^[A-Za-z0-9._-]+$/;
export function checkTagName(name: string): string {
  if (!TAG_NAME.test(name)) throw new UserError(`bad tag name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-'`);
  if (/^\d+$/.test(name)) throw new UserError(`bad tag name ${name}: a tag must not be a number, which reads as a version`);
  return name;
}

const ACTIVE = "status = 'active'";
const CHUNK = 4000;
const inList = (ids: string[]) => ids.map(sqlString).join(',');

async function versionRows(stores: Stores): Promise<z.infer<typeof VersionRow>[]> {
  const rows: z.infer<typeof VersionRow>[] = [];
  for await (const batch of stores.scan('versions', Object.keys(VersionRow.shape))) for (const r of batch) rows.push(VersionRow.parse(r));
  return rows.sort((a, b) => a.version - b.version);
}

async function tagRows(stores: Stores): Promise<{ name: string; version: number }[]> {
  const out: { name: string; version: number }[] = [];
  for await (const rows of stores.scan('tags', ['name', 'version'])) for (const r of rows) out.push({ name: r.name as string, version: r.version as number });
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The LanceDB version of every recorded table that exists (none is created for the asking). */
async function tableVersions(stores: Stores): Promise<Record<string, number>> {
  const existing = new Set(await stores.db.tableNames());
  const out: Record<string, number> = {};
  for (const name of VERSIONED_TABLES) if (existing.has(name)) out[name] = await (await stores.table(name)).version();
  return out;
}

/** Rows of the corpus as it was at a LanceDB version, on a handle of their own (the shared one stays at the latest). */
async function* corpusAt(stores: Stores, version: number, columns: string[], where?: string): AsyncGenerator<Record<string, unknown>[]> {
  const t = await stores.db.openTable('corpus');
  try {
    await t.checkout(version);
    let q = t.query().select(columns);
    if (where) q = q.where(where);
    for await (const batch of q) yield batch.toArray().map((r: { toJSON(): Record<string, unknown> }) => r.toJSON());
  } finally {
    t.close();
  }
}

async function countAt(stores: Stores, version: number, where: string): Promise<number> {
  const t = await stores.db.openTable('corpus');
  try {
    await t.checkout(version);
    return await t.countRows(where);
  } finally {
    t.close();
  }
}

async function activeIdsAt(stores: Stores, version: number): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const rows of corpusAt(stores, version, ['id'], ACTIVE)) for (const r of rows) ids.add(r.id as string);
  return ids;
}

/** For each version: the later rollback that undid it — one that restored an earlier version. */
function undoneBy(rows: z.infer<typeof VersionRow>[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of rows)
    if (r.kind === 'rollback')
      for (const v of rows) if (v.version > r.rolled_back_to! && v.version < r.version && !out.has(v.version)) out.set(v.version, r.version);
  return out;
}

function toVersion(r: z.infer<typeof VersionRow>, tags: string[], undone: number | null): DatasetVersion {
  return {
    version: r.version,
    at: r.promoted_at,
    kind: r.kind,
    runId: r.run_id,
    inserted: r.inserted,
    updated: r.updated,
    retired: r.retired,
    active: r.active,
    reason: r.reason,
    rolledBackTo: r.rolled_back_to,
    tables: TableVersions.parse(JSON.parse(r.tables)),
    evalSummary: r.eval_summary === null ? null : EvalSummary.parse(JSON.parse(r.eval_summary)),
    tags,
    undoneBy: undone,
    detail: r.detail === null ? null : Detail.parse(JSON.parse(r.detail)),
  };
}

/** Every dataset version, oldest first, with its tags and the rollback that undid it, if one did. */
export async function listVersions(stores: Stores): Promise<DatasetVersion[]> {
  const rows = await versionRows(stores);
  const tags = await tagRows(stores);
  const undone = undoneBy(rows);
  return rows.map((r) => toVersion(r, tags.filter((t) => t.version === r.version).map((t) => t.name), undone.get(r.version) ?? null));
}

/** A version number or a tag → the dataset version it names; anything else is a clear error. */
export async function resolveVersion(stores: Stores, ref: string | number): Promise<number> {
  const rows = await versionRows(stores);
  const known = () => (rows.length ? `versions ${rows.map((r) => r.version).join(', ')}; \`qaforge versions\` lists them` : 'no version yet: run `qaforge promote`');
  if (typeof ref === 'number' || /^\d+$/.test(ref)) {
    const n = Number(ref);
    if (!rows.some((r) => r.version === n)) throw new UserError(`no dataset version ${n} (${known()})`);
    return n;
  }
  const tag = (await tagRows(stores)).find((t) => t.name === ref);
  if (!tag) throw new UserError(`no version or tag named ${JSON.stringify(ref)} (${known()})`);
  return tag.version;
}

/** Names a version. A name is unique: one that exists is an error, not a move. */
export async function tagVersion(stores: Stores, ref: string | number, name: string): Promise<{ tag: string; version: number }> {
  checkTagName(name);
  const version = await resolveVersion(stores, ref);
  const taken = (await tagRows(stores)).find((t) => t.name === name);
  if (taken) throw new UserError(`tag ${name} already names version ${taken.version}`);
  const table = await stores.table('tags');
  // Insert-if-absent: of two taggers racing for one name, one inserts and the other is told.
  const r = await table
    .mergeInsert('name')
    .whenNotMatchedInsertAll()
    .execute([{ name, version, created_at: new Date().toISOString() }]);
  if (!r.numInsertedRows) throw new UserError(`tag ${name} already exists`);
  return { tag: name, version };
}

/** Records the retrieval eval's summary of a version (after the fact; a later call replaces it). */
export async function setVersionEval(stores: Stores, version: number, summary: object): Promise<void> {
  const parsed = EvalSummary.safeParse(summary);
  if (!parsed.success || Array.isArray(summary)) throw new UserError('an eval summary is a JSON object');
  if (!(await versionRows(stores)).some((r) => r.version === version)) throw new UserError(`no dataset version ${version}`);
  await (await stores.table('versions')).update({ where: `version = ${version}`, values: { eval_summary: JSON.stringify(summary) } });
}

export interface AcceptedVersion {
  version: number;
  kind: VersionKind;
  /** For a rollback: the version it restored. */
  restoredFrom: number | null;
  /** Its own eval summary, or (a rollback without one) that of the version it restored: the same corpus. */
  evalSummary: Record<string, unknown> | null;
  /** Whose eval summary that is. */
  evalOf: number | null;
}

/**
 * The latest accepted version (before `before`, when given, looking only at versions before it): a
 * promotion no later rollback undid, or a rollback — which restores a corpus that was accepted once,
 * and carries its eval summary. Null when there is none.
 */
export async function lastAcceptedVersion(stores: Stores, opts: { before?: number } = {}): Promise<AcceptedVersion | null> {
  const rows = (await versionRows(stores)).filter((r) => opts.before === undefined || r.version < opts.before);
  const undone = undoneBy(rows);
  const byVersion = new Map(rows.map((r) => [r.version, r]));
  for (const r of [...rows].reverse()) {
    if (undone.has(r.version)) continue;
    // A rollback's corpus is the one it restored: follow rollbacks of rollbacks to an eval summary.
    let src: z.infer<typeof VersionRow> | undefined = r;
    while (src && src.eval_summary === null && src.kind === 'rollback') src = byVersion.get(src.rolled_back_to!);
    const evalSummary = src?.eval_summary ? EvalSummary.parse(JSON.parse(src.eval_summary)) : null;
    return { version: r.version, kind: r.kind, restoredFrom: r.rolled_back_to, evalSummary, evalOf: evalSummary ? src!.version : null };
  }
  return null;
}

/**
 * Records a promotion as a dataset version (called by promoteStaged once its corpus writes and indexes
 * are done). Retired pairs never become active again but through a rollback, which is itself a
 * version: so the pairs retired since the previous version are the growth of the retired count.
 */
export async function recordPromotion(
  stores: Stores,
  p: { version: number; at: string; inserted: number; updated: number; active: number; runId: string },
): Promise<void> {
  const prev = (await versionRows(stores)).at(-1);
  const retired = (await stores.count('corpus', "status = 'retired'")) - (prev ? await countAt(stores, prev.version, "status = 'retired'") : 0);
  await stores.add('versions', [
    {
      version: p.version,
      promoted_at: p.at,
      inserted: p.inserted,
      updated: p.updated,
      active: p.active,
      run_id: p.runId,
      kind: 'promotion',
      retired,
      reason: null,
      rolled_back_to: null,
      tables: JSON.stringify(await tableVersions(stores)),
      eval_summary: null,
      detail: null,
    },
  ]);
}

export interface DiffGroup {
  sourceKind: string;
  category: string;
  count: number;
  /** The pairs of the group with the smallest ids: the same samples every time. */
  samples: { id: string; question: string }[];
}

export interface VersionDiff {
  from: number;
  to: number;
  added: { total: number; groups: DiffGroup[] };
  retired: { total: number; groups: DiffGroup[] };
}

class DiffGroups {
  private groups = new Map<string, DiffGroup>();
  total = 0;
  constructor(private readonly samples: number) {}
  add(r: Record<string, unknown>): void {
    const key = `${r.source_kind}\u0000${r.category}`;
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { sourceKind: r.source_kind as string, category: r.category as string, count: 0, samples: [] }));
    g.count++;
    this.total++;
    if (this.samples) {
      g.samples.push({ id: r.id as string, question: r.question as string });
      g.samples.sort((a, b) => (a.id < b.id ? -1 : 1));
      if (g.samples.length > this.samples) g.samples.pop();
    }
  }
  result(): { total: number; groups: DiffGroup[] } {
    const groups = [...this.groups.values()].sort((a, b) => a.sourceKind.localeCompare(b.sourceKind) || a.category.localeCompare(b.category));
    return { total: this.total, groups };
  }
}

/** Pairs added (active at `to`, not at `from`) and retired (active at `from`, not at `to`), by source kind and category. */
export async function diffVersions(stores: Stores, from: string | number, to: string | number, opts: { samples?: number } = {}): Promise<VersionDiff> {
  const a = await resolveVersion(stores, from);
  const b = await resolveVersion(stores, to);
  const columns = ['id', 'source_kind', 'category', 'question'];
  const inA = await activeIdsAt(stores, a);
  const inB = new Set<string>();
  const added = new DiffGroups(opts.samples ?? 3);
  for await (const rows of corpusAt(stores, b, columns, ACTIVE))
    for (const r of rows) {
      inB.add(r.id as string);
      if (!inA.has(r.id as string)) added.add(r);
    }
  const retired = new DiffGroups(opts.samples ?? 3);
  for await (const rows of corpusAt(stores, a, columns, ACTIVE)) for (const r of rows) if (!inB.has(r.id as string)) retired.add(r);
  return { from: a, to: b, added: added.result(), retired: retired.result() };
}

export interface RollbackResult {
  /** The new version: the corpus restored to `restoredFrom`. */
  version: number;
  restoredFrom: number;
  reason: string;
  /** Pairs active before the rollback and not after. */
  reverted: number;
  /** Pairs active after the rollback and not before (retired since `restoredFrom`). */
  reactivated: number;
  active: number;
  staging: RollbackDetail['staging'];
  indexes: RollbackDetail['indexes'];
  /** False when the latest version already was this rollback (same version, same reason): nothing was done. */
  created: boolean;
}

/** True when a search runs; a restored index whose files are gone fails here rather than in `serve`. */
async function searches(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return true;
  } catch {
    return false;
  }
}

// The names promotion's createIndex gives (LanceDB's default, `<column>_idx`).
const FTS_INDEX = 'search_text_idx';
const VECTOR_INDEX = 'vector_idx';

/**
 * The restored corpus's indexes are those of the restored version: each is searched once, and rebuilt
 * if that fails (its files gone, e.g. after a cleanup of old versions). A missing index file also makes
 * listing the indexes fail; dropping one by name does not read it.
 */
async function checkIndexes(corpus: lancedb.Table): Promise<RollbackDetail['indexes']> {
  const list = () => corpus.listIndices().catch(() => null);
  let indices = await list();
  const probe = (await corpus.query().where(ACTIVE).select(['search_text', 'vector']).limit(1).toArray())[0] as { search_text?: string; vector?: ArrayLike<number> | null } | undefined;
  const word = probe?.search_text?.match(/[A-Za-z]{3,}/)?.[0] ?? 'the';
  let fts: RollbackDetail['indexes']['fts'] = 'kept';
  const ftsName = indices ? indices.find((i) => i.indexType === 'FTS' && i.columns.includes('search_text'))?.name : FTS_INDEX;
  if (!ftsName || !(await searches(() => corpus.query().fullTextSearch(word).limit(1).toArray()))) {
    // Replacing would read the old index: it is dropped first (when there is none, there is nothing to drop).
    if (ftsName) await corpus.dropIndex(ftsName).catch(() => undefined);
    await corpus.createIndex('search_text', { config: lancedb.Index.fts() });
    fts = 'rebuilt';
    indices = await list();
  }
  // Still unlistable with a working full-text index: the vector index is the one whose files are gone.
  const vectorName = indices ? indices.find((i) => i.columns.includes('vector'))?.name : VECTOR_INDEX;
  // No vector index: the restored version was searched exhaustively, and still is.
  if (!vectorName) return { fts, vector: 'none' };
  const v = probe?.vector ? Array.from(probe.vector) : null;
  if (indices && (!v || (await searches(() => corpus.query().nearestTo(v).distanceType('cosine').limit(1).toArray())))) return { fts, vector: 'kept' };
  await corpus.dropIndex(vectorName);
  // The index promotion builds (datasets/promote.ts).
  const active = await corpus.countRows(ACTIVE);
  await corpus.createIndex('vector', { config: lancedb.Index.ivfFlat({ numPartitions: Math.max(1, Math.round(Math.sqrt(active))), distanceType: 'cosine' }) });
  return { fts, vector: 'rebuilt' };
}

/**
 * Sets the source cursors back to their values at the restored version (removing those it did not
 * have), so the next ingest reads again what came after it: the changes the rollback undid are derived
 * again — their retirements included — instead of their pairs staying active beside their successors.
 */
async function rewindCursors(stores: Stores, stateVersion: number | undefined): Promise<number> {
  const state = await stores.table('state');
  const then = new Map<string, string>();
  if (stateVersion !== undefined) {
    await state.checkout(stateVersion);
    try {
      for await (const batch of state.query().select(['key', 'value']))
        for (const row of batch.toArray()) {
          const r = row.toJSON() as { key: string; value: string };
          if (isCursorKey(r.key)) then.set(r.key, r.value);
        }
    } finally {
      await state.checkoutLatest();
    }
  }
  const now = Object.entries(await stores.stateWithPrefix('')).filter(([k]) => isCursorKey(k));
  const changed = Object.fromEntries([...then].filter(([k, v]) => !now.some(([n, w]) => n === k && w === v)));
  const gone = now.map(([k]) => k).filter((k) => !then.has(k));
  await stores.setState(changed, 'rollback');
  if (gone.length) await state.delete(`key IN (${gone.map(sqlString).join(',')})`);
  return Object.keys(changed).length + gone.length;
}

/** Moves staging rows from one status to another, by id, a chunk at a time. */
async function setStagingStatus(stores: Stores, ids: string[], from: string, to: string): Promise<void> {
  const staging = await stores.table('staging');
  for (let i = 0; i < ids.length; i += CHUNK)
    await staging.update({ where: `status = ${sqlString(from)} AND id IN (${inList(ids.slice(i, i + CHUNK))})`, values: { status: to } });
}

/**
 * Restores the corpus (rows and indexes) to dataset version `to`, as a new version, and makes staging
 * agree with it: a promoted pair the restored corpus lacks goes back to `validated` (a later promotion
 * takes it again), a retired pair active again in it is `promoted` again, a promoted pair retired in it
 * is `retired`. Safe to call again: when the latest version already is a rollback to `to` for the same
 * reason it is returned as it is; after a crash midway, a second call restores again and derives
 * staging from the restored corpus, not from what the first call did.
 */
export async function rollbackTo(stores: Stores, to: number, reason: string, opts: { runId?: string } = {}): Promise<RollbackResult> {
  const why = reason.trim();
  if (!why) throw new UserError('a rollback needs a reason (--reason <text>)');
  const rows = await versionRows(stores);
  const target = rows.find((r) => r.version === to);
  if (!target) throw new UserError(`no dataset version ${to} to roll back to (${rows.length ? `versions ${rows.map((r) => r.version).join(', ')}` : 'none yet'})`);
  const latest = rows.at(-1)!;
  if (latest.kind === 'rollback' && latest.rolled_back_to === to && latest.reason === why) {
    const done = toVersion(latest, [], null);
    return { version: done.version, restoredFrom: to, reason: why, reverted: done.retired, reactivated: done.inserted, active: done.active, ...done.detail!, created: false };
  }
  const corpus = await stores.table('corpus');
  if (latest.version === to && (await corpus.version()) === to) throw new UserError(`the corpus is at version ${to} already: nothing to roll back`);

  const before = new Set<string>();
  for await (const batch of stores.scan('corpus', ['id'], ACTIVE)) for (const r of batch) before.add(r.id as string);
  try {
    await corpus.checkout(to);
    await corpus.restore();
  } catch (e) {
    await corpus.checkoutLatest();
    throw e;
  }
  const indexes = await checkIndexes(corpus);

  const after = new Map<string, string>();
  for await (const batch of stores.scan('corpus', ['id', 'status'])) for (const r of batch) after.set(r.id as string, r.status as string);
  let reverted = 0;
  for (const id of before) if (after.get(id) !== 'active') reverted++;
  let reactivated = 0;
  let active = 0;
  for (const [id, status] of after)
    if (status === 'active') {
      active++;
      if (!before.has(id)) reactivated++;
    }

  const toValidated: string[] = [];
  const toPromoted: string[] = [];
  const toRetired: string[] = [];
  for await (const batch of stores.scan('staging', ['id', 'status'], "status IN ('promoted', 'retired')"))
    for (const r of batch) {
      const id = r.id as string;
      const inCorpus = after.get(id);
      if (r.status === 'promoted' && inCorpus === undefined) toValidated.push(id);
      else if (r.status === 'promoted' && inCorpus === 'retired') toRetired.push(id);
      else if (r.status === 'retired' && inCorpus === 'active') toPromoted.push(id);
    }
  await setStagingStatus(stores, toValidated, 'promoted', 'validated');
  await setStagingStatus(stores, toRetired, 'promoted', 'retired');
  await setStagingStatus(stores, toPromoted, 'retired', 'promoted');
  const staging = { toValidated: toValidated.length, toPromoted: toPromoted.length, toRetired: toRetired.length };
  const cursors = await rewindCursors(stores, TableVersions.parse(JSON.parse(target.tables)).state);

  const version = await corpus.version();
  await stores.add('versions', [
    {
      version,
      promoted_at: new Date().toISOString(),
      inserted: reactivated,
      updated: 0,
      active,
      run_id: opts.runId ?? 'rollback',
      kind: 'rollback',
      retired: reverted,
      reason: why,
      rolled_back_to: to,
      tables: JSON.stringify(await tableVersions(stores)),
      eval_summary: null,
      detail: JSON.stringify({ staging, indexes, cursors } satisfies RollbackDetail),
    },
  ]);
  return { version, restoredFrom: to, reason: why, reverted, reactivated, active, staging, indexes, created: true };
}
