import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../lib/hash.js';
import { bootstrapMean, queryMetrics, type Ranking } from './metrics.js';
import { coversGold, rankingOf, type RetrievedProvenance } from './relevance.js';

const L = (n: number) => 1 / Math.log2(n + 1);

describe('retrieval metrics, computed by hand', () => {
  it('one gold first covered at rank 2', () => {
    expect(queryMetrics([[], [0], []], 1)).toEqual({ recall_at_1: 0, recall_at_5: 1, recall_at_10: 1, mrr_at_10: 0.5, ndcg_at_10: L(2) });
  });

  it('three golds; a second pair of an already covered gold adds nothing', () => {
    const m = queryMetrics([[0], [0], [1]], 3);
    expect(m.recall_at_1).toBeCloseTo(1 / 3, 12);
    expect(m.recall_at_5).toBeCloseTo(2 / 3, 12);
    expect(m.mrr_at_10).toBe(1);
    expect(m.ndcg_at_10).toBeCloseTo((1 + L(3)) / (1 + L(2) + L(3)), 12);
  });

  it('no results, and a gold past rank 10, score 0', () => {
    expect(queryMetrics([], 2)).toEqual({ recall_at_1: 0, recall_at_5: 0, recall_at_10: 0, mrr_at_10: 0, ndcg_at_10: 0 });
    const late: Ranking = [...Array.from({ length: 10 }, () => []), [0]];
    expect(queryMetrics(late, 1)).toEqual({ recall_at_1: 0, recall_at_5: 0, recall_at_10: 0, mrr_at_10: 0, ndcg_at_10: 0 });
  });

  it('one pair covering two golds: both recalled, one gain', () => {
    const m = queryMetrics([[0, 1]], 2);
    expect(m.recall_at_1).toBe(1);
    expect(m.ndcg_at_10).toBeCloseTo(1 / (1 + L(2)), 12);
  });

  it('bootstrap: same seed same interval; the interval holds the mean; constant values have no spread', () => {
    const xs = [0, 1, 1, 0, 1, 1, 1, 0, 1, 1];
    const a = bootstrapMean(xs, 1000, 7);
    expect(a).toEqual(bootstrapMean(xs, 1000, 7));
    expect(a.mean).toBe(0.7);
    expect(a.low).toBeLessThan(0.7);
    expect(a.high).toBeGreaterThan(0.7);
    expect(a.low).toBeGreaterThanOrEqual(0.3);
    expect(a.high).toBeLessThanOrEqual(1);
    expect(bootstrapMean([0.5, 0.5, 0.5])).toEqual({ mean: 0.5, low: 0.5, high: 0.5 });
  });
});

const PY = fileURLToPath(new URL('../.tools/pyeval/bin/python', import.meta.url));

describe('retrieval metrics against pytrec_eval (trec_eval)', () => {
  it('agrees on 300 random rankings to 1e-9', () => {
    expect(existsSync(PY), 'the eval venv is made by scripts/setup.sh').toBe(true);
    const rand = seededRandom(42);
    // A ranking as trec_eval sees documents: a rank that covers a new gold is that gold's document;
    // any other rank is a document judged not relevant.
    const cases: { golds: number; ranking: Ranking }[] = [];
    for (let q = 0; q < 300; q++) {
      const golds = 1 + Math.floor(rand() * 4);
      const depth = Math.floor(rand() * 16);
      const left = new Set(Array.from({ length: golds }, (_, i) => i));
      const ranking: Ranking = [];
      for (let r = 0; r < depth; r++) {
        if (left.size && rand() < 0.3) {
          const g = [...left][Math.floor(rand() * left.size)]!;
          left.delete(g);
          ranking.push([g]);
        } else ranking.push([]);
      }
      cases.push({ golds, ranking });
    }
    const qrels: Record<string, Record<string, number>> = {};
    const run: Record<string, Record<string, number>> = {};
    const run10: Record<string, Record<string, number>> = {};
    cases.forEach(({ golds, ranking }, q) => {
      qrels[`q${q}`] = Object.fromEntries(Array.from({ length: golds }, (_, g) => [`g${g}`, 1]));
      // Distinct descending scores: trec_eval orders by score.
      run[`q${q}`] = Object.fromEntries(ranking.map((gs, r) => [gs.length ? `g${gs[0]}` : `n${r}`, 100 - r]));
      run10[`q${q}`] = Object.fromEntries(Object.entries(run[`q${q}`]!).filter(([, s]) => s > 90));
    });
    const script = `
import json, sys, pytrec_eval
d = json.load(sys.stdin)
ev = pytrec_eval.RelevanceEvaluator(d["qrels"], {"recall.1,5,10", "ndcg_cut.10"})
ev10 = pytrec_eval.RelevanceEvaluator(d["qrels"], {"recip_rank"})
a = ev.evaluate(d["run"]); b = ev10.evaluate(d["run10"])
json.dump({q: {**a.get(q, {}), **b.get(q, {})} for q in d["qrels"]}, sys.stdout)
`;
    // trec_eval leaves out queries with no retrieved documents: those score 0 by definition.
    const out = JSON.parse(execFileSync(PY, ['-c', script], { input: JSON.stringify({ qrels, run, run10 }), encoding: 'utf8' })) as Record<string, Record<string, number>>;
    let compared = 0;
    cases.forEach(({ golds, ranking }, q) => {
      const ours = queryMetrics(ranking, golds);
      const theirs = out[`q${q}`] ?? {};
      expect(ours.recall_at_1).toBeCloseTo(theirs.recall_1 ?? 0, 9);
      expect(ours.recall_at_5).toBeCloseTo(theirs.recall_5 ?? 0, 9);
      expect(ours.recall_at_10).toBeCloseTo(theirs.recall_10 ?? 0, 9);
      expect(ours.mrr_at_10).toBeCloseTo(theirs.recip_rank ?? 0, 9);
      expect(ours.ndcg_at_10).toBeCloseTo(theirs.ndcg_cut_10 ?? 0, 9);
      compared++;
    });
    expect(compared).toBe(300);
    // The random cases reach every shape: misses, hits at 1, golds past 10.
    expect(cases.filter((c) => queryMetrics(c.ranking, c.golds).mrr_at_10 === 1).length).toBeGreaterThan(10);
    expect(cases.filter((c) => queryMetrics(c.ranking, c.golds).recall_at_10 === 0).length).toBeGreaterThan(10);
  });
});

describe('relevance: when a retrieved pair covers a gold locator', () => {
  const hit = (x: Partial<RetrievedProvenance>): RetrievedProvenance => ({
    sourceKind: 'code_symbol',
    path: 'src/m.py',
    startLine: 10,
    endLine: 20,
    commitFirstSeen: 'a'.repeat(40),
    qualname: null,
    prNumber: null,
    issueNumber: null,
    ...x,
  });
  it('code: same path and overlapping lines', () => {
    expect(coversGold(hit({}), { path: 'src/m.py', start_line: 20, end_line: 30 })).toBe(true);
    expect(coversGold(hit({}), { path: 'src/m.py', start_line: 21, end_line: 30 })).toBe(false);
    expect(coversGold(hit({}), { path: 'src/n.py', start_line: 10, end_line: 20 })).toBe(false);
    expect(coversGold(hit({ sourceKind: 'commit', path: null, startLine: null, endLine: null }), { path: 'src/m.py', start_line: 10, end_line: 20 })).toBe(false);
  });
  it('commit: same sha, commit pairs only', () => {
    expect(coversGold(hit({ sourceKind: 'commit' }), { sha: 'a'.repeat(40) })).toBe(true);
    expect(coversGold(hit({ sourceKind: 'commit' }), { sha: 'b'.repeat(40) })).toBe(false);
    expect(coversGold(hit({}), { sha: 'a'.repeat(40) })).toBe(false);
  });
  it('docs: the heading, or a section below it, in the same file', () => {
    const doc = hit({ sourceKind: 'doc_section', path: 'docs/a.md', qualname: 'LoRA > Initialization  options > Example (2)' });
    expect(coversGold(doc, { path: 'docs/a.md', heading: 'LoRA' })).toBe(true);
    expect(coversGold(doc, { path: 'docs/a.md', heading: 'initialization options' })).toBe(true);
    expect(coversGold(doc, { path: 'docs/a.md', heading: 'Example' })).toBe(true);
    expect(coversGold(doc, { path: 'docs/b.md', heading: 'LoRA' })).toBe(false);
    expect(coversGold(doc, { path: 'docs/a.md', heading: 'LoRA > Initialization' })).toBe(false);
  });
  it('PRs and issues: by number and kind', () => {
    expect(coversGold(hit({ sourceKind: 'pull_request', prNumber: 412 }), { pr: 412 })).toBe(true);
    expect(coversGold(hit({ sourceKind: 'issue', prNumber: 412, issueNumber: 398 }), { pr: 412 })).toBe(false);
    expect(coversGold(hit({ sourceKind: 'issue', prNumber: 412, issueNumber: 398 }), { issue: 398 })).toBe(true);
  });
  it('a ranking lists, per hit, the golds it covers', () => {
    const gold = [
      { path: 'src/m.py', start_line: 1, end_line: 12 },
      { sha: 'a'.repeat(40) },
    ];
    expect(rankingOf([hit({ path: 'src/x.py' }), hit({}), hit({ sourceKind: 'commit', path: null })], gold)).toEqual([[], [0], [1]]);
  });
});
