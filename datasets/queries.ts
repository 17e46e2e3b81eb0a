// Named queries over the stores that the run's sources ask: what a GitHub build reads, what the
// model step samples from. The filters live here, in one place, not as SQL strings in activities/.
import type { QAPair, SourceKind, SourceRecord } from './schemas.js';
import { columnsOf, pairFromRow, sourceFromRow, sqlString, type Stores } from './store.js';

const ID_CHUNK = 500;

/** key → updated_at of every stored GitHub item of a repository: what a listing already has. */
export async function githubItemVersions(stores: Stores, slug: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const rows of stores.scan('github_items', ['key', 'updated_at'], `repo = ${sqlString(slug)}`)) for (const r of rows) out.set(r.key as string, r.updated_at as string);
  return out;
}

/** The issue and PR numbers with an item stored after fetch pass `seq` (those a build must rebuild). */
export async function githubNumbersStoredAfter(stores: Stores, slug: string, seq: number): Promise<Set<number>> {
  const out = new Set<number>();
  for await (const rows of stores.scan('github_items', ['number'], `repo = ${sqlString(slug)} AND seq > ${Math.trunc(seq)}`)) for (const r of rows) out.add(r.number as number);
  return out;
}

/** Every stored item (issue, comment, review comment, link) of these numbers, as kind, number and raw JSON. */
export async function* githubItemsOf(stores: Stores, slug: string, numbers: number[]): AsyncGenerator<{ kind: string; number: number; json: string }> {
  if (!numbers.length) return;
  const where = `repo = ${sqlString(slug)} AND number IN (${numbers.map((n) => Math.trunc(n)).join(',')})`;
  for await (const rows of stores.scan('github_items', ['kind', 'number', 'json'], where))
    for (const r of rows) yield { kind: r.kind as string, number: r.number as number, json: r.json as string };
}

/** Ids and categories of a repository's live staging pairs not written by these generators. */
export async function* livePairsNotBy(stores: Stores, repo: string, generators: string[]): AsyncGenerator<{ id: string; category: string }> {
  const where = `status != 'retired' AND repo = ${sqlString(repo)}${generators.length ? ` AND generator NOT IN (${generators.map(sqlString).join(',')})` : ''}`;
  for await (const rows of stores.scan('staging', ['id', 'category'], where)) for (const r of rows) yield { id: r.id as string, category: r.category as string };
}

/** A repository's live staging pairs written by one generator: the fields the model step shows as examples. */
export async function* livePairsBy(stores: Stores, repo: string, generator: string): AsyncGenerator<Record<string, unknown>> {
  const where = `generator = ${sqlString(generator)} AND status != 'retired' AND repo = ${sqlString(repo)}`;
  for await (const rows of stores.scan('staging', ['question', 'answer', 'context', 'source_kind', 'source_id', 'record'], where)) yield* rows;
}

/** Staging pairs by id (those stored; in no particular order). */
export async function stagedPairsByIds(stores: Stores, ids: string[]): Promise<Map<string, QAPair>> {
  const out = new Map<string, QAPair>();
  for (let i = 0; i < ids.length; i += ID_CHUNK) {
    const list = ids.slice(i, i + ID_CHUNK).map(sqlString).join(',');
    for await (const rows of stores.scan('staging', columnsOf('staging'), `id IN (${list})`)) for (const r of rows) out.set(r.id as string, pairFromRow(r));
  }
  return out;
}

/** Ids and kinds of every stored source record of a repository. */
export async function* sourceIdsOf(stores: Stores, repo: string): AsyncGenerator<{ id: string; kind: SourceKind }> {
  for await (const rows of stores.scan('sources', ['id', 'kind'], `repo = ${sqlString(repo)}`)) for (const r of rows) yield { id: r.id as string, kind: r.kind as SourceKind };
}

const SOURCE_COLUMNS = ['id', 'kind', 'repo', 'path', 'qualname', 'start_line', 'end_line', 'commit_first_seen', 'commit_last_verified', 'record'];

/** Stored source records by id. */
export async function sourcesByIds(stores: Stores, ids: string[]): Promise<Map<string, SourceRecord>> {
  const out = new Map<string, SourceRecord>();
  for (let i = 0; i < ids.length; i += ID_CHUNK) {
    const list = ids.slice(i, i + ID_CHUNK).map(sqlString).join(',');
    for await (const rows of stores.scan('sources', SOURCE_COLUMNS, `id IN (${list})`)) for (const r of rows) out.set(r.id as string, sourceFromRow(r));
  }
  return out;
}
