// `qaforge report` and `qaforge eval retrieval` on a real backfilled, promoted corpus (real git, real
// LanceDB, the local embedder): exact counts from the fixture, and hardness labels that reach the export.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Stores } from '../datasets/store.js';
import { qaforge, qaforgeJson } from './cli.js';
import { makeRepo, SHAPES_LOW_VALUE, SHAPES_PAIRS, SHAPES_PY, tempDir, type FixtureRepo } from './fixtures.js';

let repo: FixtureRepo;
let data: string;
const SHAPES_TOTAL = Object.values(SHAPES_PAIRS).reduce((a, b) => a + b, 0);

beforeAll(async () => {
  repo = await makeRepo({ 'pkg/shapes.py': SHAPES_PY });
  data = tempDir();
  await qaforgeJson(['--data-dir', data, 'backfill', '--repo', repo.dir, '--sources', 'code', '--json']);
  const p = await qaforge(['--data-dir', data, 'promote']);
  expect(p.code).toBe(0);
}, 120_000);

describe('qaforge report', () => {
  it("gives the corpus's health with exact counts, and stores hardness on the sampled pairs", async () => {
    const r = await qaforgeJson(['--data-dir', data, 'report', '--repo', repo.dir, '--mode', 'fts', '--hardness', '20', '--json']);
    expect(r.pairs).toMatchObject({ active: SHAPES_TOTAL, retired: 0, bySourceKind: { code_symbol: SHAPES_TOTAL }, byCategory: SHAPES_PAIRS });
    // Shape, Shape.area, Circle, Circle.diameter (getter and setter), fetch_shape, scale: _private_helper is private.
    expect(r.coverage).toEqual({ publicDocumentedSymbols: 6, covered: 6, rate: 1, uncoveredExamples: [] });
    expect(r.provenance).toMatchObject({ checked: SHAPES_TOTAL, resolved: SHAPES_TOTAL, notCheckable: 0, rate: 1, failures: [] });
    expect(r.judge).toEqual({ modelPairs: 0, judged: 0, passed: 0, passRate: null, rejectReasons: { low_value: Object.values(SHAPES_LOW_VALUE).reduce((a, b) => a + b, 0) } });
    // One file, one group, one cluster: every pair in one split.
    const sizes = Object.values(r.splits.sizes as Record<string, number>);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(SHAPES_TOTAL);
    expect(sizes.filter((n) => n !== 0)).toEqual([SHAPES_TOTAL]);
    expect(r.splits.byCluster).toEqual({ groups: 1, clusters: 1, groupsInMultiGroupClusters: 0, clustersAcrossSplits: 0 });
    expect(r.hardness.sampled).toBe(20);
    expect(r.hardness.counts.easy + r.hardness.counts.medium + r.hardness.counts.hard).toBe(20);
    expect(r.answerChars.code_symbol.pairs).toBe(SHAPES_TOTAL);
    const stores = await Stores.open(data);
    try {
      expect(await stores.count('hardness')).toBe(20);
      expect(await stores.count('hardness', `corpus_version = ${r.corpusVersion} AND mode = 'fts'`)).toBe(20);
    } finally {
      stores.close();
    }
    // The labels travel with the pairs into the export: exactly the sampled ones carry one.
    const out = tempDir('qaforge-export-');
    const ex = await qaforgeJson(['--data-dir', data, 'export', '--out', out]);
    const rows = ex.files.flatMap((f: string) => readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
    expect(rows).toHaveLength(SHAPES_TOTAL);
    const labelled = rows.filter((x: { hardness: string | null }) => x.hardness !== null);
    expect(labelled).toHaveLength(20);
    const byLabel = (l: string) => labelled.filter((x: { hardness: string }) => x.hardness === l).length;
    expect({ easy: byLabel('easy'), medium: byLabel('medium'), hard: byLabel('hard') }).toEqual(r.hardness.counts);
    const text = await qaforge(['--data-dir', data, 'report', '--repo', repo.dir, '--mode', 'fts', '--hardness', '5']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`coverage         6/6 public documented symbols have a pair (100.0 %)`);
    expect(text.stdout).toContain(`provenance       ${SHAPES_TOTAL}/${SHAPES_TOTAL} resolve (100.0 %)`);
  });
});

describe('the corpus remembers what made its vectors', () => {
  it('refuses to promote with another embedded text, in one line', async () => {
    const cfg = join(tempDir('qaforge-cfg-'), 'qaforge.config.json');
    writeFileSync(cfg, JSON.stringify({ models: { embedder: { text: 'question' } } }));
    const r = await qaforge(['--data-dir', data, '--config', cfg, 'promote']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "qaforge: the corpus's vectors were made by all-MiniLM-L6-v2 (int8 ONNX) from question_answer, not all-MiniLM-L6-v2 (int8 ONNX) from question: set models.embedder.model / .text back, or promote into a new --data-dir\n",
    );
  });
});

describe('qaforge eval retrieval', () => {
  it('scores a set in every mode, stores one row per mode, and says what is wrong with a bad set', async () => {
    const lines = SHAPES_PY.split('\n');
    const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix)) + 1;
    const items = [
      { id: 'fetch', question: 'How do I fetch a registered shape by its name, and how long does it wait?', gold: [{ path: 'pkg/shapes.py', start_line: at('async def fetch_shape'), end_line: at('async def fetch_shape') + 10 }] },
      { id: 'scale', question: 'What factor does scale multiply numbers by?', gold: [{ path: 'pkg/shapes.py', start_line: at('def scale(x):'), end_line: at('def scale(x):') + 2 }] },
      { id: 'nowhere', question: 'Which commit added the hexagon class?', gold: [{ sha: 'f'.repeat(40) }] },
      { id: 'oos', question: 'What is the capital of France?', gold: [], out_of_scope: true },
    ].map((x) => ({ repo: 'acme/shapes', answer: 'see the code', kind: 'code', difficulty: 'easy', commit: repo.sha, ...x }));
    const set = join(tempDir('qaforge-set-'), 'shapes.jsonl');
    writeFileSync(set, items.map((x) => JSON.stringify(x)).join('\n'));
    const r = await qaforgeJson(['--data-dir', data, 'eval', 'retrieval', '--set', set, '--json']);
    expect(r.map((m: { mode: string }) => m.mode)).toEqual(['vector', 'fts', 'hybrid']);
    for (const m of r) {
      expect(m).toMatchObject({ setId: 'shapes', k: 10, questions: 3, embedder: m.mode === 'fts' ? 'none' : expect.stringContaining('MiniLM'), outOfScope: { questions: 1 } });
      // No pair comes from a commit: that question scores 0 in every mode, whatever the ranking.
      expect(m.queries.find((q: { id: string }) => q.id === 'nowhere')).toMatchObject({ goldRanks: [null], metrics: { recall_at_10: 0, mrr_at_10: 0, ndcg_at_10: 0 } });
      expect(m.overall.recall_at_10.mean).toBeLessThanOrEqual(2 / 3);
    }
    // Full-text search is deterministic: both named helpers are found, in the top 10.
    const fts = r[1];
    expect(fts.queries.filter((q: { goldRanks: (number | null)[] }) => q.goldRanks[0] !== null).map((q: { id: string }) => q.id)).toEqual(['fetch', 'scale']);
    const stores = await Stores.open(data);
    try {
      expect(await stores.count('evals', "set_id = 'shapes'")).toBe(3);
    } finally {
      stores.close();
    }
    const table = await qaforge(['--data-dir', data, 'eval', 'retrieval', '--set', set, '--mode', 'fts', '--no-record']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[1]).toMatch(/^mode\s+kind\s+n\s+recall@1\s+recall@5\s+recall@10\s+MRR@10\s+nDCG@10$/);
    writeFileSync(set, readFileSync(set, 'utf8') + '\n{"id": "broken"\n');
    const bad = await qaforge(['--data-dir', data, 'eval', 'retrieval', '--set', set]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^qaforge: eval set .*shapes\.jsonl has 1 bad line\(s\):\n {2}line 5: not JSON/);
  });
});
