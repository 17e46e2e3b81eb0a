// Keeping the corpus current: when a unit of evidence (a file, a doc, a PR, an issue) is processed
// again, its pairs that were not produced again are retired (kept, marked, with the commit), and
// pairs produced again with new provenance (moved lines, a newer commit) are refreshed.
import type { QAPair, SourceKind } from './schemas.js';
import { rowsToArrowTable } from './arrow-rows.js';
import { pairRow, SCHEMAS, sqlString, type Stores } from './store.js';

// Ids per update or filter: fewer, larger updates are cheaper than many small ones.
const CHUNK = 4000;

function* chunks<T>(items: T[], n = CHUNK): Generator<T[]> {
  for (let i = 0; i < items.length; i += n) yield items.slice(i, i + n);
}

const inList = (values: string[]) => values.map(sqlString).join(',');

export interface LivePair {
  id: string;
  group: string;
  status: string;
  commitFirstSeen: string;
  qaKey: string;
  /** Where it was last seen: a pair produced again elsewhere or at another commit is refreshed. */
  at: string;
  sourceId: string;
  /** Written by a model: not produced again by a pass, it lives as long as its source record does. */
  modelWritten: boolean;
  /** A pair produced again is not checked for near-duplicates again: it keeps the cluster it had. */
  nearDupCluster: string | null;
}

/** Path, lines and last verified commit: what a refresh of a reproduced pair changes. */
export const locationKey = (path: unknown, start: unknown, end: unknown, commit: unknown) => `${path}\u0000${start}\u0000${end}\u0000${commit}`;

/** The unretired staging pairs of the given split groups (paths, `pr:n`, `issue:n`) and source kinds. */
export async function livePairsOf(stores: Stores, kinds: SourceKind[], groups: string[]): Promise<Map<string, LivePair>> {
  const out = new Map<string, LivePair>();
  for (const part of chunks([...new Set(groups)])) {
    const where = `status <> 'retired' AND source_kind IN (${inList(kinds)}) AND split_group IN (${inList(part)})`;
    for await (const rows of stores.scan('staging', ['id', 'split_group', 'status', 'commit_first_seen', 'qa_key', 'path', 'start_line', 'end_line', 'commit_last_verified', 'source_id', 'near_dup_cluster', 'record'], where))
      for (const r of rows)
        out.set(r.id as string, {
          id: r.id as string,
          group: r.split_group as string,
          status: r.status as string,
          commitFirstSeen: r.commit_first_seen as string,
          qaKey: r.qa_key as string,
          at: locationKey(r.path, r.start_line, r.end_line, r.commit_last_verified),
          sourceId: r.source_id as string,
          modelWritten: Boolean((JSON.parse(r.record as string) as { model?: string | null }).model),
          nearDupCluster: (r.near_dup_cluster ?? null) as string | null,
        });
  }
  return out;
}

/** The qa keys of the live staged pairs among `ids`. */
export async function livePairKeys(stores: Stores, ids: string[]): Promise<{ id: string; qaKey: string }[]> {
  const out: { id: string; qaKey: string }[] = [];
  for (const part of chunks([...new Set(ids)]))
    for await (const rows of stores.scan('staging', ['id', 'qa_key'], `status <> 'retired' AND id IN (${inList(part)})`))
      for (const r of rows) out.push({ id: r.id as string, qaKey: r.qa_key as string });
  return out;
}

/** Marks pairs retired in staging and, where promoted, in the corpus; returns how many corpus rows changed. */
export async function retirePairs(stores: Stores, ids: string[], commit: string, reason: string): Promise<number> {
  if (!ids.length) return 0;
  const staging = await stores.table('staging');
  const corpus = await stores.table('corpus');
  const now = new Date().toISOString();
  let inCorpus = 0;
  for (const part of chunks(ids)) {
    const where = `id IN (${inList(part)})`;
    await staging.update({ where, values: { status: 'retired' } });
    const r = await corpus.update({
      where: `${where} AND status = 'active'`,
      values: { status: 'retired', retired_reason: reason, retired_at: now, retired_commit: commit },
    });
    inCorpus += (r as { rowsUpdated?: number }).rowsUpdated ?? 0;
  }
  return inCorpus;
}

/**
 * Rewrites staging rows of pairs produced again, with their new provenance (path, lines, last
 * verified commit) but the commit they were first seen at and their near-duplicate cluster (which
 * split assignment joins groups by, datasets/clusters.ts). They go back to `validated`, so the next
 * promotion refreshes their corpus rows.
 */
export async function refreshPairs(stores: Stores, pairs: QAPair[], live: Map<string, LivePair>, runId: string): Promise<void> {
  if (!pairs.length) return;
  const staging = await stores.table('staging');
  const now = new Date().toISOString();
  for (const part of chunks(pairs, 2000)) {
    const rows = part.map((p) => {
      const old = live.get(p.id);
      const row = pairRow({ ...p, provenance: { ...p.provenance, commitFirstSeen: old?.commitFirstSeen ?? p.provenance.commitFirstSeen } }, runId, now);
      return { ...row, qa_key: old?.qaKey ?? row.qa_key, near_dup_cluster: old ? old.nearDupCluster : row.near_dup_cluster, status: 'validated' };
    });
    await staging.mergeInsert('id').whenMatchedUpdateAll().execute(rowsToArrowTable(rows, SCHEMAS.staging));
  }
}
