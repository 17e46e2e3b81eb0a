// Reading and curating the stores: stats, show one pair, sample pairs, retire a pair, hardness labels.
import { UserError } from '../lib/errors.js';
import { seededRandom } from '../lib/hash.js';
import type { Category, QAPair } from './schemas.js';
import { Category as CategoryEnum, RejectReason, SourceKind } from './schemas.js';
import { columnsOf, pairFromRow, sqlString, type Stores } from './store.js';
import { isCursorKey } from './state-keys.js';

export interface StoreStats {
  symbols: Record<string, number>;
  sources: Record<string, number>;
  staging: Record<string, number>;
  /** Unretired staging pairs by source kind. */
  pairsByKind: Record<string, number>;
  /** Where each source's next ingest starts: a commit sha or a GitHub update time. */
  cursors: Record<string, string>;
  corpus: { active: number; retired: number; version: number; byCategory: Record<string, number> };
  rejected: { total: number; byReason: Record<string, number> };
  skipped: Record<string, number>;
  runs: { run_id: string; command: string; repo: string; commit: string; finished_at: string }[];
}

export async function storeStats(stores: Stores): Promise<StoreStats> {
  const count = (t: Parameters<Stores['count']>[0], where?: string) => stores.count(t, where);
  const symbols: Record<string, number> = {};
  for (const k of ['module', 'class', 'function', 'method']) symbols[k] = await count('sources', `symbol_kind = '${k}'`);
  const sources: Record<string, number> = {};
  const pairsByKind: Record<string, number> = {};
  for (const k of SourceKind.options) {
    const n = await count('sources', `kind = '${k}'`);
    if (n) sources[k] = n;
    const p = await count('staging', `source_kind = '${k}' AND status <> 'retired'`);
    if (p) pairsByKind[k] = p;
  }
  const cursors: Record<string, string> = {};
  for (const [k, v] of Object.entries(await stores.stateWithPrefix(''))) if (isCursorKey(k)) cursors[k.replace(/^cursor:/, '')] = v;
  const staging: Record<string, number> = {};
  for (const s of ['pending', 'validated', 'promoted', 'retired']) staging[s] = await count('staging', `status = '${s}'`);
  const byCategory: Record<string, number> = {};
  for (const c of CategoryEnum.options) {
    const n = await count('corpus', `status = 'active' AND category = '${c}'`);
    if (n) byCategory[c] = n;
  }
  const byReason: Record<string, number> = {};
  for (const r of RejectReason.options) {
    const n = await count('rejected', `reasons LIKE '%${r}%'`);
    if (n) byReason[r] = n;
  }
  const skipped: Record<string, number> = {};
  for await (const rows of stores.scan('skipped', ['reason'])) for (const r of rows) skipped[r.reason as string] = (skipped[r.reason as string] ?? 0) + 1;
  const runs: StoreStats['runs'] = [];
  for await (const rows of stores.scan('runs', ['run_id', 'command', 'repo', 'commit', 'finished_at'])) runs.push(...(rows as StoreStats['runs']));
  runs.sort((a, b) => (a.finished_at < b.finished_at ? -1 : 1));
  return {
    symbols,
    sources,
    staging,
    pairsByKind,
    cursors,
    corpus: {
      active: await count('corpus', "status = 'active'"),
      retired: await count('corpus', "status = 'retired'"),
      version: await (await stores.table('corpus')).version(),
      byCategory,
    },
    rejected: { total: await count('rejected'), byReason },
    skipped,
    runs: runs.slice(-5),
  };
}

export type PairLocation = 'corpus' | 'staging' | 'rejected';

export interface FoundPair {
  where: PairLocation;
  status: string;
  pair: QAPair;
  reasons: string[] | null;
  detail: string | null;
}

const PAIR_TABLES: PairLocation[] = ['corpus', 'staging', 'rejected'];

export async function findPair(stores: Stores, id: string): Promise<FoundPair[]> {
  if (!/^[0-9a-f]{32}$/.test(id)) throw new UserError(`not a pair id: ${id} (32 hex characters)`);
  const found: FoundPair[] = [];
  for (const where of PAIR_TABLES) {
    for await (const rows of stores.scan(where, columnsOf(where), `id = ${sqlString(id)}`))
      for (const row of rows)
        found.push({
          where,
          status: where === 'rejected' ? 'rejected' : (row.status as string),
          pair: pairFromRow(row),
          reasons: where === 'rejected' ? (row.reasons as string).split(',') : null,
          detail: where === 'rejected' ? (row.detail as string) : (row.retired_reason as string | undefined) ?? null,
        });
  }
  return found;
}

/** A uniform random sample of active corpus pairs (reservoir sampling, seeded). */
export async function samplePairs(stores: Stores, n: number, category: Category | undefined, seed: number): Promise<QAPair[]> {
  const rand = seededRandom(seed);
  const where = `status = 'active'${category ? ` AND category = ${sqlString(category)}` : ''}`;
  const reservoir: Record<string, unknown>[] = [];
  let seen = 0;
  for await (const rows of stores.scan('corpus', columnsOf('corpus'), where)) {
    for (const row of rows) {
      seen++;
      if (reservoir.length < n) reservoir.push(row);
      else {
        const j = Math.floor(rand() * seen);
        if (j < n) reservoir[j] = row;
      }
    }
  }
  return reservoir.map(pairFromRow);
}

/** Takes a pair out of the corpus (kept, marked retired) and out of every later run. */
export async function retirePair(stores: Stores, id: string, reason: string): Promise<FoundPair[]> {
  const found = (await findPair(stores, id)).filter((f) => f.where !== 'rejected');
  if (!found.length) throw new UserError(`no pair ${id} in the corpus or staging`);
  const now = new Date().toISOString();
  const where = `id = ${sqlString(id)}`;
  if (found.some((f) => f.where === 'corpus'))
    await (await stores.table('corpus')).update({ where, values: { status: 'retired', retired_reason: reason, retired_at: now } });
  if (found.some((f) => f.where === 'staging')) await (await stores.table('staging')).update({ where, values: { status: 'retired' } });
  return findPair(stores, id);
}

/** Retrieval hardness of a pair (`qaforge report`): its own source ranked first, in the top 10, or not. */
export type Hardness = 'easy' | 'medium' | 'hard';

/** Hardness labels by pair id, for the export. */
export async function hardnessLabels(stores: Stores): Promise<Map<string, Hardness>> {
  const out = new Map<string, Hardness>();
  for await (const rows of stores.scan('hardness', ['id', 'label'])) for (const r of rows) out.set(r.id as string, r.label as Hardness);
  return out;
}
