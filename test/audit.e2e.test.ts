// `qaforge audit` on a real corpus (real git, real LanceDB): a backfill of code and docs, audited from
// staging, then promoted and audited from the corpus; grading a filled-in sample; a bad grades file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { contentId } from '../lib/hash.js';
import { columnsOf, pairFromRow, Stores } from '../datasets/store.js';
import { isTestPath } from '../evals/audit.js';
import { qaforge, qaforgeJson } from './cli.js';
import { makeRepo, SHAPES_PY, tempDir, type FixtureRepo } from './fixtures.js';

const TEST_PY = `from pkg.shapes import Circle


def test_diameter_setter():
    """Setting the diameter halves it into the radius."""
    c = Circle()
    c.diameter = 4
    assert c.radius == 2


class TestCircle:
    """Tests of the circle."""

    def test_area(self):
        """The area of a unit circle is pi."""
        assert Circle(1.0).area() > 3.14
`;

const GUIDE_MD = `# Shapes guide

How to use the shapes package.

## Fetching shapes

Call \`fetch_shape(name)\` with the registered name. It waits \`timeout\` seconds (10 by default) and then raises \`KeyError\`.

\`\`\`python
shape = await fetch_shape("circle", timeout=5)
\`\`\`

## Scaling

\`scale(x)\` multiplies a number by two, for ints and floats alike.
`;

let repo: FixtureRepo;
let data: string;
/** (source kind/category → pairs) of staging's validated pairs, read from the store itself. */
let strata: Map<string, number>;
let total: number;
let codePairs: number;

const audit = (args: string[]) => qaforgeJson(['--data-dir', data, 'audit', ...args, '--json']);
const ids = (a: { sample: { id: string }[] }) => a.sample.map((s) => s.id);

beforeAll(async () => {
  repo = await makeRepo({ 'pkg/shapes.py': SHAPES_PY, 'tests/test_shapes.py': TEST_PY, 'docs/guide.md': GUIDE_MD });
  data = tempDir();
  await qaforgeJson(['--data-dir', data, 'backfill', '--repo', repo.dir, '--sources', 'code,docs', '--json']);
  const stores = await Stores.open(data);
  try {
    strata = new Map();
    codePairs = 0;
    for await (const rows of stores.scan('staging', ['source_kind', 'category', 'path'], "status = 'validated'"))
      for (const r of rows) {
        const k = `${r.source_kind as string}/${r.category as string}`;
        strata.set(k, (strata.get(k) ?? 0) + 1);
        if (r.source_kind === 'code_symbol') codePairs++;
      }
    total = [...strata.values()].reduce((a, b) => a + b, 0);
  } finally {
    stores.close();
  }
}, 120_000);

describe('qaforge audit', () => {
  it('samples every stratum of staging before promotion, exactly n pairs, the same ones for the same seed', async () => {
    expect(strata.size).toBeGreaterThan(3);
    expect([...strata.keys()].some((k) => k.startsWith('doc_section/'))).toBe(true);
    const n = strata.size + 2;
    expect(total).toBeGreaterThan(n);
    const a = await audit(['--n', String(n), '--seed', '5']);
    expect(a.from).toBe('staging');
    expect(a.sample).toHaveLength(n);
    expect(new Set(ids(a)).size).toBe(n);
    expect(new Map(a.strata.map((s: { stratum: string; pairs: number }) => [s.stratum, s.pairs]))).toEqual(strata);
    // At least one from every stratum, and what each stratum gave is what the sample holds.
    for (const s of a.strata) {
      expect(s.sampled).toBeGreaterThanOrEqual(1);
      expect(a.sample.filter((x: { source_kind: string; category: string }) => `${x.source_kind}/${x.category}` === s.stratum)).toHaveLength(s.sampled);
    }
    expect(a.sample.map((x: { n: number }) => x.n)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(a.proxies.pairs).toBe(total);
    expect(Object.values(a.proxies.byCategory as Record<string, number>).reduce((x, y) => x + y, 0)).toBe(total);
    expect(a.proxies.testCode.codePairs).toBe(codePairs);

    expect(ids(await audit(['--n', String(n), '--seed', '5']))).toEqual(ids(a));
    const others = await Promise.all([1, 2].map((s) => audit(['--n', String(n), '--seed', String(s)])));
    expect(new Set([ids(a), ...others.map(ids)].map((x) => x.join())).size).toBeGreaterThan(1);

    // Every item carries what a reviewer needs: the pair, its context and where it comes from.
    const code = a.sample.find((x: { source_kind: string }) => x.source_kind === 'code_symbol');
    expect(code.provenance).toMatchObject({ repo: 'acme/shapes', sha: repo.sha.slice(0, 12) });
    expect(code.provenance.locator).toBe(`${code.provenance.path}:${code.provenance.start_line}${code.provenance.end_line !== code.provenance.start_line ? `-${code.provenance.end_line}` : ''}`);
    expect(code.provenance.url).toContain(`https://github.com/acme/shapes/blob/${repo.sha}/`);
    expect(code.grade).toEqual({ correct: null, standalone: null, useful: null, note: null });
  });

  it('writes the sample as text, markdown or JSONL with blank grading fields', async () => {
    const dir = tempDir('qaforge-audit-');
    for (const format of ['text', 'md', 'jsonl']) {
      const out = join(dir, `audit.${format}`);
      const r = await qaforge(['--data-dir', data, 'audit', '--n', '6', '--seed', '2', '--format', format, '--out', out]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`audit proxies over ${total} pairs (staging, validated and promoted)`);
      expect(r.stdout).toContain(`sample: 6 pairs written to ${out} (${format})`);
      const body = readFileSync(out, 'utf8');
      if (format === 'jsonl') {
        const lines = body.trim().split('\n').map((l) => JSON.parse(l));
        expect(lines).toHaveLength(6);
        expect(lines.map((l) => l.id)).toEqual(ids(await audit(['--n', '6', '--seed', '2'])));
      } else {
        expect(body.match(/correct \[ \] standalone \[ \] useful \[ \]/g)).toHaveLength(6);
        if (format === 'text') expect(body).toContain('[6/6] ');
        else expect(body).toContain('### 6. ');
      }
    }
    // Without --out, JSONL alone goes to stdout; the proxies table to stderr.
    const r = await qaforge(['--data-dir', data, 'audit', '--n', '3', '--format', 'jsonl']);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).n)).toEqual([1, 2, 3]);
    expect(r.stderr).toContain('templates        ');
  });

  it('counts low-value rejects by the quality reasons stored with them', async () => {
    const before = (await audit(['--n', '1'])).proxies.rejected;
    const stores = await Stores.open(data);
    try {
      let row: Record<string, unknown> | undefined;
      for await (const rows of stores.scan('staging', columnsOf('staging'))) row ??= rows[0];
      const base = pairFromRow(row!);
      const reject = (i: number, reasons: string[]) => ({
        pair: { ...base, id: contentId('audit-test', i), quality: { score: 0.1, reasons } },
        reasons: ['low_value' as const],
        detail: 'score 0.10',
      });
      await stores.reject([reject(1, ['restates_name']), reject(2, ['restates_name', 'test_code']), reject(3, [])], 'audit-test');
    } finally {
      stores.close();
    }
    const after = (await audit(['--n', '1'])).proxies.rejected;
    expect(after.total).toBe(before.total + 3);
    expect(after.byReason.low_value).toBe((before.byReason.low_value ?? 0) + 3);
    expect(after.lowValue.total).toBe(before.lowValue.total + 3);
    const delta = (k: string) => (after.lowValue.byQualityReason[k] ?? 0) - (before.lowValue.byQualityReason[k] ?? 0);
    expect([delta('restates_name'), delta('test_code'), delta('(none stored)')]).toEqual([2, 1, 1]);
  });

  it('audits the corpus once promoted: the same pairs give the same sample', async () => {
    const n = strata.size + 2;
    const staged = await audit(['--n', String(n), '--seed', '5']);
    expect((await qaforge(['--data-dir', data, 'promote'])).code).toBe(0);
    const corpus = await audit(['--n', String(n), '--seed', '5']);
    expect(corpus.from).toBe('corpus');
    expect(ids(corpus)).toEqual(ids(staged));
    expect(corpus.proxies).toEqual(staged.proxies);
    expect((await audit(['--n', String(n), '--seed', '5', '--from', 'staging'])).from).toBe('staging');
    // The corpus's code pairs from test files, counted from the store, are what the proxy reports.
    const stores = await Stores.open(data);
    let tests = 0;
    try {
      for await (const rows of stores.scan('corpus', ['path'], "status = 'active' AND source_kind = 'code_symbol'")) tests += rows.filter((r) => isTestPath(r.path as string)).length;
    } finally {
      stores.close();
    }
    expect(corpus.proxies.testCode.testPairs).toBe(tests);
  });

  it('scores a filled-in sample, and names the bad lines of a broken one', async () => {
    const dir = tempDir('qaforge-grades-');
    const out = join(dir, 'audit.jsonl');
    expect((await qaforge(['--data-dir', data, 'audit', '--n', '8', '--format', 'jsonl', '--out', out])).code).toBe(0);
    const items = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // A reviewer's marks: correct on all but the first; standalone on even n; useful left blank on the last two.
    const graded = items.map((it, i) => ({ ...it, grade: { correct: i > 0, standalone: it.n % 2 === 0, useful: i < 6 ? i < 3 : null, note: i === 0 ? 'wrong line numbers' : null } }));
    writeFileSync(out, graded.map((g) => JSON.stringify(g)).join('\n') + '\n');
    const r = await qaforgeJson(['audit', '--grades', out, '--json']);
    expect(r.items).toBe(8);
    expect(r.overall.correct).toMatchObject({ n: 8, yes: 7, rate: 7 / 8 });
    expect(r.overall.standalone).toMatchObject({ n: 8, yes: 4, rate: 0.5 });
    expect(r.overall.useful).toMatchObject({ n: 6, yes: 3, rate: 0.5 });
    expect(r.overall.correct.low).toBeCloseTo(0.5291, 4);
    expect(r.overall.correct.high).toBeCloseTo(0.9776, 4);
    const kinds = new Set(items.map((it) => it.source_kind));
    expect(Object.keys(r.bySourceKind).sort()).toEqual([...kinds].sort());
    const text = await qaforge(['audit', '--grades', out]);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toBe('8 graded item(s); rates with 95 % Wilson intervals');
    expect(text.stdout).toMatch(/^overall\s+7\/8 87\.5 % \[52\.9 %, 97\.8 %\]\s+4\/8 50\.0 % \[21\.5 %, 78\.5 %\]\s+3\/6 50\.0 % \[18\.8 %, 81\.2 %\]$/m);

    writeFileSync(out, [JSON.stringify(graded[0]), '{"id": "x", "grade": {"correct": tru', JSON.stringify({ ...graded[1], grade: { correct: 'yes' } })].join('\n'));
    const bad = await qaforge(['audit', '--grades', out]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^qaforge: grades file .*audit\.jsonl has 2 bad line\(s\):\n {2}line 2: not JSON .*\n {2}line 3: grade\.correct: .*\n$/);
  });
});
