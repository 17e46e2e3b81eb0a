// The pair sink keeps known ids and its duplicate and question indexes on disk
// (datasets/known-index.ts) instead of on the heap. This holds it to what the in-memory sink did on
// a generated repository with exact duplicates, near duplicates, ambiguous questions, a re-run and
// an incremental pass: the same counts, the same staged, rejected, source and skip rows, ids and
// near-duplicate clusters. The expected figures were taken from the in-memory sink on this same
// repository (the repository and its shas are deterministic: test/git-script.ts).
import { createHash } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackfill, runIngest, type BackfillResult } from '../activities/backfill.js';
import { Stores } from '../datasets/store.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { KnownIndex } from '../datasets/known-index.js';
import { DuplicateIndex, MemoryMaps, qaKey, qaSignature } from '../validators/dedup.js';
import { QuestionIndex } from '../validators/ambiguity.js';
import { tempDir } from './fixtures.js';
import { scriptedRepo } from './git-script.js';

const ADJ = ['total', 'scaled', 'shifted', 'rounded', 'clipped', 'mean', 'summed', 'weighted'];

/** A module of documented functions; `v` changes a few of them (an edit to the file). */
function module(n: number, v = 0): string {
  let out = '"""Arithmetic helpers for the scale tests."""\n\n';
  for (let i = 0; i < n; i++) {
    if (v && i % 7 === 3) continue; // removed in the edit
    const adj = ADJ[i % ADJ.length]!;
    const extra = v && i % 5 === 1 ? ' It now also logs the call.' : '';
    out +=
      `\ndef f_${i}(x, y=2):\n    """Compute the ${adj} value of x and y for case ${i}.${extra}\n\n    Args:\n        x: The first operand of the ${adj} computation.\n` +
      `        y: The second operand of the ${adj} computation, 2 by default.\n\n    Returns:\n        The ${adj} value that combines x and y.\n\n` +
      `    Raises:\n        ValueError: If x is negative.\n    """\n    if x < 0:\n        raise ValueError("negative")\n    return x * y + ${i}\n\n`;
    if (i % 4 === 0)
      out +=
        `\nclass Box${i}:\n    """A box that holds the ${adj} value for case ${i}."""\n\n    def __init__(self, value):\n        """Store the value.\n\n        Args:\n            value: The ${adj} value to hold.\n        """\n        self.value = value\n\n` +
        `    def get(self):\n        """Return the held value.\n\n        Returns:\n            The value given to the box.\n        """\n        return self.value\n\n`;
  }
  return out;
}

const DOC = (title: string) =>
  `# ${title}\n\nThis guide explains the arithmetic helpers.\n\n## Installation\n\nRun pip install pkg to install the helpers and their dependencies.\n\n## Usage\n\nCall f_1 with two numbers to get the scaled value of them.\n\n` +
  '```python\nfrom pkg.mod_0 import f_1\nf_1(3, 4)\n```\n\n## Errors\n\nEvery helper raises ValueError when the first operand is negative.\n';

/** Counts of a run and a digest of every row it left, with the ids and clusters in them. */
async function summary(data: string, r: BackfillResult) {
  const stores = await Stores.open(data);
  const lines = async (table: 'staging' | 'rejected' | 'sources' | 'skipped', cols: string[]) => {
    const out: string[] = [];
    for await (const rows of stores.scan(table, cols)) for (const row of rows) out.push(cols.map((c) => String(row[c] ?? '')).join('|'));
    out.sort();
    return { rows: out.length, digest: createHash('sha256').update(out.join('\n')).digest('hex').slice(0, 16) };
  };
  const s = {
    counts: { candidates: r.candidates, staged: r.staged, rejected: r.rejected, alreadyKnown: r.alreadyKnown, refreshed: r.refreshed, retired: r.retired, nearDuplicates: r.nearDuplicates },
    staging: await lines('staging', ['id', 'status', 'near_dup_cluster', 'commit_first_seen', 'commit_last_verified', 'start_line']),
    rejected: await lines('rejected', ['id', 'reasons', 'detail']),
    sources: await lines('sources', ['id']),
    skipped: await lines('skipped', ['commit', 'path', 'reason']),
    reasons: {} as Record<string, number>,
  };
  for await (const rows of stores.scan('rejected', ['reasons'])) for (const row of rows) s.reasons[row.reasons as string] = (s.reasons[row.reasons as string] ?? 0) + 1;
  stores.close();
  return s;
}

describe('the pair sink on disk', () => {
  let repo: ReturnType<typeof scriptedRepo>;
  let data: string;
  const cfg = () => loadConfig({ env: { QAFORGE_LLM_SAMPLE: '0' }, flags: { repo: repo.dir, dataDir: data, logLevel: 'silent', sources: ['code', 'docs', 'commits'], workers: 2 }, cwd: tempDir('qaforge-cwd-') });
  const log = createLogger('silent', false);

  beforeAll(() => {
    repo = scriptedRepo('qaforge-sink-');
    // Six copies of one module (near duplicates across them), two copies of one guide (exact
    // duplicates), and commits that repeat a message.
    const files: Record<string, string> = { 'pkg/__init__.py': '"""The pkg package."""\n', 'docs/guide.md': DOC('Guide'), 'docs/guide_copy.md': DOC('Guide').replace('Run pip install', 'Run  PIP  install').replace('Every helper', 'EVERY helper') };
    for (let k = 0; k < 6; k++) files[`pkg/mod_${k}.py`] = module(48);
    repo.commit('Add the helpers', files);
    repo.commit('Fix typo', { 'docs/usage.md': DOC('Usage') });
    const test = 'from pkg.mod_0 import f_1, f_2\n\n\ndef test_f():\n    assert f_1(1, 2) == 3\n    assert f_2(1, 3) == 5\n    assert f_2(x=1, y=3) == 5\n';
    repo.commit('Fix typo', { 'tests/test_mod.py': test, 'tests/test_copy.py': test, 'scripts/run.py': test.replace('def test_f', 'def main') });
    data = tempDir('qaforge-sink-data-');
  });

  afterAll(() => {
    rmSync(repo.dir, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('stages, rejects and clusters exactly what the in-memory sink did, over a backfill, a re-run and an ingest', async () => {
    const first = await summary(data, await runBackfill(cfg(), log));
    expect(first).toEqual(EXPECTED.backfill);
    expect(first.counts.nearDuplicates).toBeGreaterThan(0);

    const again = await summary(data, await runBackfill(cfg(), log));
    expect(again).toEqual(EXPECTED.rerun);

    repo.commit('Edit the first module', { 'pkg/mod_0.py': module(48, 1), 'docs/guide_copy.md': null });
    const ingest = await summary(data, await runIngest(cfg(), log));
    expect(ingest).toEqual(EXPECTED.ingest);
  }, 240_000);

  // Two pages of cache: nearly every read misses and every changed page is written back.
  it.each([
    ['a page pool that holds every page', undefined],
    ['a page pool of two pages', 2 * 64 * 1024],
  ])('reads back what it was given, from the overlay and from the files, and leaves nothing on disk (%s)', (_, cacheBytes) => {
    const dir = tempDir('qaforge-known-');
    const index = new KnownIndex({ dir, overlayLimit: 3, cacheBytes });
    const m = index.map('m', { maxValue: 4 });
    const n = index.map('n', { keys: 'int', maxValue: 300 });
    const d = index.map('d', { keys: 'index', maxValue: 300 });
    for (let i = 0; i < 3000; i++) {
      m.put(Buffer.from(`k${i}`), Buffer.from(i % 100 === 0 ? `long value ${i}` : `v${i % 100}`));
      n.put(i * 7919, Buffer.alloc(300, i % 256));
      d.put(i, Buffer.alloc(1 + (i % 300), i % 256));
      if (i % 2) m.delete(Buffer.from(`k${i - 1}`));
    }
    // Written out every three writes, the hash tables grown from 1,024 slots; a value longer than a
    // slot holds (`long value 0`) is kept on the heap.
    expect(Array.from({ length: 3000 }, (_, i) => m.has(Buffer.from(`k${i}`))).filter(Boolean)).toHaveLength(1500);
    expect(m.has(Buffer.from('k2998'))).toBe(false);
    expect(Buffer.from(m.get(Buffer.from('k2999'))!).toString()).toBe('v99');
    m.put(Buffer.from('k2999'), Buffer.from('long value'));
    index.writeOut();
    expect(Buffer.from(m.get(Buffer.from('k2999'))!).toString()).toBe('long value');
    expect(Array.from({ length: 3000 }, (_, i) => n.peek(i * 7919)![299] === i % 256).every(Boolean)).toBe(true);
    expect(Array.from({ length: 3000 }, (_, i) => d.peek(i)!.length === 1 + (i % 300)).every(Boolean)).toBe(true);
    expect(n.peek(5)).toBeUndefined();
    expect(d.peek(3000)).toBeUndefined();
    // The files are unlinked as soon as they are open.
    expect(readdirSync(dir).flatMap((sub) => readdirSync(join(dir, sub)))).toEqual([]);
    index.close();
    expect(readdirSync(dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the same duplicate and question verdicts on disk as on the heap', () => {
    const dir = tempDir('qaforge-known-');
    const index = new KnownIndex({ dir, overlayLimit: 50 });
    const disk = new DuplicateIndex(0.8, index);
    const heap = new DuplicateIndex(0.8, new MemoryMaps());
    const qDisk = new QuestionIndex(index);
    const qHeap = new QuestionIndex();
    const verdicts = (d: DuplicateIndex, q: QuestionIndex) => {
      const out: unknown[] = [];
      for (let i = 0; i < 450; i++) {
        // The last 50 repeat earlier pairs in capitals, under new ids: exact duplicates.
        const j = i < 400 ? i : (i * 7) % 400;
        const question = `What does \`pkg.mod_${j % 9}.f_${j % 37}\` return?`;
        const answer = `The ${ADJ[j % 5]} value that combines x and y for case ${j % 37}.`;
        const id = createHash('sha256').update(`${i}`).digest('hex').slice(0, 32);
        const key = qaKey(question, answer);
        const [qq, aa] = i < 400 ? [question, answer] : [question.toUpperCase(), answer.toUpperCase()];
        out.push(d.check(id, qaKey(qq, aa), qaSignature(qq, aa)), q.check(qq, key, id));
      }
      return out;
    };
    const onDisk = verdicts(disk, qDisk);
    expect(onDisk).toEqual(verdicts(heap, qHeap));
    expect(onDisk.filter((v) => (v as { kind?: string } | null)?.kind === 'duplicate')).toHaveLength(50);
    expect(disk.nearDuplicates).toBe(heap.nearDuplicates);
    expect(disk.nearDuplicates).toBeGreaterThan(0);
    index.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

const EXPECTED = {
  backfill: {counts:  {candidates:  2174,  staged:  2014,  rejected:  160,  alreadyKnown:  0,  refreshed:  0,  retired:  0,  nearDuplicates:  897},  staging:  {rows:  2014,  digest:  'eeefc1ca8344164a'},  rejected:  {rows:  160,  digest:  '2b984e8672431ba0'},  sources:  {rows:  554,  digest:  '2599618ae655393f'},  skipped:  {rows:  5,  digest:  '57f05b23107386b6'},  reasons:  {low_value:  152,  ambiguous:  8}},
  rerun: {counts:  {candidates:  2174,  staged:  0,  rejected:  0,  alreadyKnown:  2174,  refreshed:  0,  retired:  0,  nearDuplicates:  0},  staging:  {rows:  2014,  digest:  'eeefc1ca8344164a'},  rejected:  {rows:  160,  digest:  '2b984e8672431ba0'},  sources:  {rows:  554,  digest:  '2599618ae655393f'},  skipped:  {rows:  5,  digest:  '57f05b23107386b6'},  reasons:  {low_value:  152,  ambiguous:  8}},
  ingest: {counts:  {candidates:  305,  staged:  56,  rejected:  0,  alreadyKnown:  249,  refreshed:  227,  retired:  91,  nearDuplicates:  11},  staging:  {rows:  2070,  digest:  '2168c1445a92cf02'},  rejected:  {rows:  160,  digest:  '2b984e8672431ba0'},  sources:  {rows:  567,  digest:  '6563ddf18a79f0f2'},  skipped:  {rows:  5,  digest:  '57f05b23107386b6'},  reasons:  {low_value:  152,  ambiguous:  8}},
};
