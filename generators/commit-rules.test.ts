import { describe, expect, it } from 'vitest';
import { readCommits, type RawCommit } from '../activities/git-history.js';
import type { QAPair } from '../datasets/schemas.js';
import { commitRecords, parseCommitRecord, symbolChanges } from '../extractors/commits.js';
import { validateCandidate } from '../validators/checks.js';
import { COMMIT_RULES, commitQuestions, whyParagraphs } from './commit-rules.js';
import { SHAPES, SHAPES_2, scriptedRepo } from '../test/git-script.js';

const README = '# Shapes\n\nAreas of circles and squares.\n\nSee the module docstrings for details.\n';

async function history(): Promise<RawCommit[]> {
  const repo = scriptedRepo();
  repo.commit('Add shapes module\n\nCircle areas were computed inline in three places; this gathers the\nformula in one module.\n\nCo-authored-by: Grace Hopper <grace@navy.mil>', {
    'pkg/shapes.py': SHAPES,
    'README.md': README,
  });
  repo.commit('Add Square and drop legacy_area (#42)\n\nSquares come up in the tiling code, which had its own copy of the\nformula. legacy_area had no callers left.', {
    'pkg/shapes.py': SHAPES_2,
    'README.md': null,
    'docs/intro.md': README.replace('Shapes', 'Shapes intro'),
  });
  repo.commit('Tile shapes (#43)\n\n* add tiling\n\n* fix tests\n\n---------\n\nCo-authored-by: Bo <bo@acme.io>', { 'pkg/tiling.py': 'def tile(shape):\n    return [shape]\n' });
  const head = repo.commit('skip flaky test (#44)\n\nskip flaky test', { 'pkg/tiling.py': 'def tile(shape):\n    return [shape, shape]\n' });
  const out: RawCommit[] = [];
  for await (const c of readCommits(repo.dir, { from: null, to: head, maxDiffBytes: 64 * 1024 })) out.push(c);
  return out;
}

const REF = { repo: 'acme/shapes', sha: 'f'.repeat(40), webUrl: 'https://github.com/acme/shapes' };
const pairsOf = (c: RawCommit, withChanges = true) => {
  const changes = withChanges ? symbolChanges(c) : undefined;
  return commitRecords(c, REF).flatMap((r) => commitQuestions(r, changes));
};

describe('commitQuestions', () => {
  it('asks why, which files, what changed and which commit introduced or removed a definition', async () => {
    const commits = await history();
    const c = commits[1]!;
    const short = c.sha.slice(0, 7);
    const label = `commit ${short} ("Add Square and drop legacy_area (#42)")`;
    const pairs = pairsOf(c);
    const qa = pairs.map((p) => [p.category, p.question, p.answer]);
    expect(qa).toEqual([
      [
        'commit_why',
        parseInt(c.sha[0]!, 16) % 2 ? `What was the motivation for ${label}?` : `Why was ${label} made?`,
        'Squares come up in the tiling code, which had its own copy of the\nformula. legacy_area had no callers left.',
      ],
      ['commit_files', `Which files did ${label} change?`, '2 files:\n- `docs/intro.md` (renamed from `README.md`)\n- `pkg/shapes.py` (modified)'],
      [
        'commit_change',
        `What changed in \`docs/intro.md\` in ${label}?`,
        `Commit ${short} renamed \`README.md\` to \`docs/intro.md\` (+1 -1 lines).\nAdded lines include:\n- \`# Shapes intro\`\nRemoved lines include:\n- \`# Shapes\``,
      ],
      [
        'commit_change',
        `What changed in \`pkg/shapes.py\` in ${label}?`,
        `Commit ${short} modified \`pkg/shapes.py\` (+8 -4 lines).\nThe hunks begin under \`def area(r):\`.\nAdded lines include:\n- \`class Square:\`\n- \`def __init__(self, side):\`\n- \`def area(self):\`\nRemoved lines include:\n- \`def legacy_area(r):\`\n- \`return 3.14 * r * r\``,
      ],
      [
        'symbol_history',
        'Which commit removed the function `legacy_area` from `pkg/shapes.py`?',
        `Commit ${short} ("Add Square and drop legacy_area (#42)", 2024-01-03) removed the function \`legacy_area\` from \`pkg/shapes.py\`: \`def legacy_area(r):\``,
      ],
      [
        'symbol_history',
        'Which commit introduced the class `Square` in `pkg/shapes.py`?',
        `Commit ${short} ("Add Square and drop legacy_area (#42)", 2024-01-03) introduced the class \`Square\` in \`pkg/shapes.py\`: \`class Square:\``,
      ],
    ]);
    const byCat = (cat: string) => pairs.filter((p) => p.category === cat);
    expect(byCat('symbol_history')[1]!.evidence).toEqual([short, '2024-01-03', 'class Square:', 'Add Square and drop legacy_area (#42)']);
    // A per-file pair's context is its record; its split group is the commit.
    const square = byCat('symbol_history')[1]!;
    expect(square.context.startsWith(`commit ${c.sha} modified pkg/shapes.py (+8 -4)\n`)).toBe(true);
    expect(square.splitGroup).toBe(`commit:${c.sha}`);
    expect(square.provenance).toMatchObject({ path: 'pkg/shapes.py', startLine: 6, endLine: 19, prNumber: 42 });
    for (const p of pairs) expect(p.generator).toEqual(COMMIT_RULES);
  });

  it('draws every pair so that it passes validation, with ids stable across runs', async () => {
    const [a, b] = [await history(), await history()];
    const all = (cs: RawCommit[]) => cs.flatMap((c) => pairsOf(c));
    const pairs = all(a);
    const counts: Record<string, number> = {};
    for (const p of pairs) counts[p.category] = (counts[p.category] ?? 0) + 1;
    expect(counts).toEqual({ commit_why: 2, commit_files: 4, commit_change: 6, symbol_history: 6 });
    const failed = pairs.map((p) => validateCandidate(p)).filter((p: QAPair) => p.verdicts.some((v) => !v.pass));
    expect(failed.map((p) => [p.question, p.verdicts.filter((v) => !v.pass)])).toEqual([]);
    expect(new Set(pairs.map((p) => p.id)).size).toBe(pairs.length);
    expect(all(b).map((p) => p.id)).toEqual(pairs.map((p) => p.id));
    // Symbol changes read from the record agree with those passed in.
    expect(a.flatMap((c) => pairsOf(c, false)).map((p) => p.id)).toEqual(pairs.map((p) => p.id));
    // The first commit introduces area, legacy_area and Circle; tile comes with the squash merge.
    expect(pairs.filter((p) => p.category === 'symbol_history').map((p) => p.question)).toEqual([
      'Which commit introduced the function `area` in `pkg/shapes.py`?',
      'Which commit introduced the function `legacy_area` in `pkg/shapes.py`?',
      'Which commit introduced the class `Circle` in `pkg/shapes.py`?',
      'Which commit removed the function `legacy_area` from `pkg/shapes.py`?',
      'Which commit introduced the class `Square` in `pkg/shapes.py`?',
      'Which commit introduced the function `tile` in `pkg/tiling.py`?',
    ]);
  });

  it('asks why only when the body explains: not for a squash log, a copy of the subject or trailers', async () => {
    const commits = await history();
    const why = commits.map((c) => pairsOf(c).find((p) => p.category === 'commit_why')?.answer ?? null);
    expect(why).toEqual([
      'Circle areas were computed inline in three places; this gathers the\nformula in one module.',
      'Squares come up in the tiling code, which had its own copy of the\nformula. legacy_area had no callers left.',
      null,
      null,
    ]);
    const parsed = parseCommitRecord(commitRecords(commits[2]!, REF)[0]!.text)!;
    expect(whyParagraphs(parsed)).toBeNull();
    const longBody = { ...parsed, body: `Intro sentence that explains the reason for this change well.\n\n${'Detail sentence number one here. '.repeat(60)}` };
    expect(whyParagraphs(longBody)).toEqual(['Intro sentence that explains the reason for this change well.']);
    const pointers = { ...parsed, body: 'Resolves #2001\n\nDescription\n\nUsers can pass a custom name, but the model overrides it silently.\n\nSee #2134' };
    expect(whyParagraphs(pointers)).toEqual(['Users can pass a custom name, but the model overrides it silently.']);
  });
});
