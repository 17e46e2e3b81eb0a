import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../lib/hash.js';
import { filterPredicate, reciprocalRankFusion } from './search.js';

describe('reciprocalRankFusion', () => {
  it('adds 1 / (rank + 60) per list, best first; ties keep the first list first', () => {
    const fused = reciprocalRankFusion([
      [1n, 2n, 3n],
      [3n, 4n, 1n],
    ]);
    expect(fused.map((r) => r.rowId)).toEqual([1n, 3n, 2n, 4n]);
    expect(fused[0]!.score).toBeCloseTo(1 / 60 + 1 / 62, 12);
    expect(fused[1]!.score).toBeCloseTo(1 / 62 + 1 / 60, 12);
    expect(fused[2]!.score).toBeCloseTo(1 / 61, 12);
    expect(fused[3]!.score).toBeCloseTo(1 / 61, 12);
    expect(reciprocalRankFusion([[], []])).toEqual([]);
  });

  it('fuses as LanceDB hybrid query with its RRF reranker does, on a real table (ties aside)', async () => {
    const random = seededRandom(7);
    // A large vocabulary and varied lengths, so that BM25 rarely ties.
    const words = Array.from({ length: 400 }, (_, i) => `w${i.toString(36)}`);
    const rows = Array.from({ length: 300 }, (_, i) => ({
      id: `p${i}`,
      status: i % 7 === 0 ? 'retired' : 'active',
      search_text: Array.from({ length: 3 + Math.floor(random() * 12) }, () => words[Math.floor(random() * words.length)]).join(' '),
      vector: Array.from({ length: 8 }, () => random() - 0.5),
    }));
    const db = await lancedb.connect(mkdtempSync(join(tmpdir(), 'qaforge-rrf-')));
    const t = await db.createTable('corpus', rows);
    await t.createIndex('search_text', { config: lancedb.Index.fts() });
    const reranker = await lancedb.rerankers.RRFReranker.create();
    const where = filterPredicate();
    for (const [q, v] of [
      [rows[3]!.search_text.split(' ').slice(0, 2).join(' '), rows[5]!.vector],
      [rows[10]!.search_text.split(' ').slice(0, 3).join(' '), rows[10]!.vector],
      [rows[42]!.search_text.split(' ')[0]!, rows[77]!.vector],
    ] as const) {
      const theirs = await t.query().nearestTo(v).distanceType('cosine').fullTextSearch(q).where(where).select(['id']).rerank(reranker).limit(50).toArray();
      const byVector = await t.query().nearestTo(v).distanceType('cosine').where(where).select(['id']).withRowId().limit(50).toArray();
      const byText = await t.query().fullTextSearch(q).where(where).select(['id']).withRowId().limit(50).toArray();
      const idOf = new Map([...byVector, ...byText].map((r) => [BigInt(r._rowid), r.id as string]));
      const ours = reciprocalRankFusion([byText.map((r) => BigInt(r._rowid)), byVector.map((r) => BigInt(r._rowid))]).slice(0, 50);
      // The same fused scores in the same order; LanceDB breaks ties arbitrarily, so ids are compared per score.
      expect(ours.map((r) => r.score)).toEqual(theirs.map((r) => expect.closeTo(Number(r._relevance_score), 6)));
      const tiers = (xs: { id: string; score: number }[]) => {
        const m = new Map<string, string[]>();
        for (const x of xs) m.set(x.score.toFixed(6), [...(m.get(x.score.toFixed(6)) ?? []), x.id].sort());
        return m;
      };
      expect(tiers(ours.map((r) => ({ id: idOf.get(r.rowId)!, score: r.score })))).toEqual(tiers(theirs.map((r) => ({ id: r.id as string, score: Number(r._relevance_score) }))));
    }
  });
});

describe('filterPredicate', () => {
  it('active pairs, then the filters, as SQL with quoted strings', () => {
    expect(filterPredicate()).toBe("status = 'active'");
    expect(filterPredicate({ sourceKind: 'commit', pathPrefix: "src/it's" })).toBe("status = 'active' AND source_kind = 'commit' AND starts_with(path, 'src/it''s')");
  });
});
