import { describe, expect, it } from 'vitest';
import { readCommits } from '../activities/git-history.js';
import type { RawCommit } from '../extractors/git-log.js';
import type { QAPair } from '../datasets/schemas.js';
import { commitRecords, parseCommitRecord, symbolChanges } from '../extractors/commits.js';
import { checkAnswerGrounded, validateCandidate } from '../validators/checks.js';
import { COMMIT_RULES, MAX_CHANGE_FILES, changePairFiles, commitPairs, commitQuestions, unwrapParagraph, whyParagraphs } from './commit-rules.js';
import { SHAPES, SHAPES_2, scriptedRepo } from '../test/git-script.js';

const README = '# Shapes\n\nAreas of circles and squares.\n\nSee the module docstrings for details.\n';
const LICENCE = [
  '# Copyright 2024 Acme Inc.',
  '#',
  '# Licensed under the Apache License, Version 2.0 (the "License");',
  '# you may not use this file except in compliance with the License.',
  '# You may obtain a copy of the License at',
  '#',
  '#     http://www.apache.org/licenses/LICENSE-2.0',
  '#',
  '# Unless required by applicable law or agreed to in writing, software',
  '# distributed under the License is distributed on an "AS IS" BASIS,',
  '# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.',
  '# See the License for the specific language governing permissions and',
  '# limitations under the License.',
  '',
].join('\n');
const HEXAGON = `${LICENCE}"""Hexagons."""\nimport math\n\n\ndef hexagon_area(side):\n    return 3 * math.sqrt(3) / 2 * side ** 2\n\n\nclass Hexagon:\n    def __init__(self, side):\n        self.side = side\n`;
/** A table module of n constants, one a line. */
const units = (n: number, value = (j: number) => j) => Array.from({ length: n }, (_, j) => `UNIT_${n}_${j} = ${value(j)}\n`).join('');

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
  repo.commit('skip flaky test (#44)\n\nskip flaky test', { 'pkg/tiling.py': 'def tile(shape):\n    return [shape, shape]\n' });
  // A body that only points elsewhere; a file whose only hunk adds the licence header.
  repo.commit('Add hexagons (#45)\n\nContinuation of, and supersedes, #2389\n\nSee #12\n\nSigned-off-by: Bo <bo@acme.io>', {
    'pkg/hexagon.py': HEXAGON,
    'pkg/shapes.py': LICENCE + SHAPES_2,
  });
  // Six files: change pairs for the largest few only.
  const tables: Record<string, string> = {};
  for (let n = 1; n <= 6; n++) tables[`pkg/units/u${n}.py`] = units(n);
  repo.commit(
    'Add unit tables for the converters\n\nThe converters each kept their own copy of the factors, and two of\nthem had drifted apart:\n\n- one table per unit system, so a\n  converter imports what it needs\n- plain constants, no classes',
    tables,
  );
  const head = repo.commit('Scale the unit tables\n\nEvery factor is now in millimetres, which is what the converters\nexpect.', Object.fromEntries(Object.keys(tables).map((p, k) => [p, units(k + 1, (j) => j * 1000 + 5)])));
  const out: RawCommit[] = [];
  for await (const c of readCommits(repo.dir, { from: null, to: head, maxDiffBytes: 64 * 1024 })) out.push(c);
  return out;
}

const REF = { repo: 'acme/shapes', sha: 'f'.repeat(40), webUrl: 'https://github.com/acme/shapes' };
const pairsOf = (c: RawCommit, withChanges = true) => commitPairs(commitRecords(c, REF), withChanges ? symbolChanges(c) : undefined);
const failures = (pairs: QAPair[]) => pairs.map((p) => validateCandidate(p)).flatMap((p) => p.verdicts.filter((v) => !v.pass).map((v) => [p.question, v]));

describe('commitQuestions', () => {
  it('asks why, which files, what changed and which commit introduced or removed a definition', async () => {
    const commits = await history();
    const c = commits[1]!;
    const short = c.sha.slice(0, 7);
    const subject = '"Add Square and drop legacy_area (#42)"';
    const pairs = pairsOf(c);
    const qa = pairs.map((p) => [p.category, p.question, p.answer]);
    expect(qa).toEqual([
      [
        'commit_why',
        `Why would someone have written commit ${short} (${subject})?`,
        // The hard wrap after "the" is undone.
        'Squares come up in the tiling code, which had its own copy of the formula. legacy_area had no callers left.',
      ],
      ['commit_files', `Which files would I need to look at to review ${short} (${subject})?`, '2 files:\n- `docs/intro.md` (renamed from `README.md`)\n- `pkg/shapes.py` (modified)'],
      [
        'commit_change',
        `Which lines of \`docs/intro.md\` did the commit ${subject} (${short}) add or remove?`,
        `Commit ${short} renamed \`README.md\` to \`docs/intro.md\` (+1 -1 lines).\nAdded lines include:\n- \`# Shapes intro\`\nRemoved lines include:\n- \`# Shapes\``,
      ],
      [
        'commit_change',
        `I'm reviewing the commit ${subject} (${short}): what did it change in \`pkg/shapes.py\`?`,
        `Commit ${short} modified \`pkg/shapes.py\` (+8 -4 lines).\nThe hunks begin under \`def area(r):\`.\nAdded lines include:\n- \`class Square:\`\n- \`def __init__(self, side):\`\n- \`def area(self):\`\nRemoved lines include:\n- \`def legacy_area(r):\`\n- \`return 3.14 * r * r\``,
      ],
      [
        'symbol_history',
        'In which commit did `pkg/shapes.py` lose the function `legacy_area`?',
        `Commit ${short} ("Add Square and drop legacy_area (#42)", 2024-01-03) removed the function \`legacy_area\` from \`pkg/shapes.py\`: \`def legacy_area(r):\``,
      ],
      [
        'symbol_history',
        'Find the commit that created the class `Square` in `pkg/shapes.py`.',
        `Commit ${short} ("Add Square and drop legacy_area (#42)", 2024-01-03) introduced the class \`Square\` in \`pkg/shapes.py\`: \`class Square:\``,
      ],
    ]);
    const byCat = (cat: string) => pairs.filter((p) => p.category === cat);
    expect(byCat('symbol_history')[1]!.evidence).toEqual([short, '2024-01-03', 'class Square:', 'Add Square and drop legacy_area (#42)']);
    // A per-file pair's split group is the commit; a symbol's context is the record header and the
    // definition's part of its hunk.
    const square = byCat('symbol_history')[1]!;
    expect(square.context).toBe(
      [
        `commit ${c.sha} modified pkg/shapes.py (+8 -4)`,
        'Date: 2024-01-03T10:00:00+00:00',
        'Subject: Add Square and drop legacy_area (#42)',
        '',
        '@@ -15,0 +14,6 @@ def area(r):',
        '+class Square:',
        '+    def __init__(self, side):',
        '+        self.side = side',
        '+',
        '+    def area(self):',
        '+        return self.side ** 2',
      ].join('\n'),
    );
    expect(byCat('symbol_history')[0]!.context.split('\n\n')[1]).toBe('@@ -9,2 +8,0 @@ def area(r):\n-def legacy_area(r):\n-    return 3.14 * r * r');
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
    expect(counts).toEqual({ commit_why: 4, commit_files: 5, commit_change: 15, symbol_history: 8 });
    expect(failures(pairs)).toEqual([]);
    expect(new Set(pairs.map((p) => p.id)).size).toBe(pairs.length);
    expect(all(b).map((p) => p.id)).toEqual(pairs.map((p) => p.id));
    // Symbol changes read from the record agree with those passed in.
    expect(a.flatMap((c) => pairsOf(c, false)).map((p) => p.id)).toEqual(pairs.map((p) => p.id));
    expect(pairs.filter((p) => p.category === 'symbol_history').map((p) => p.question)).toEqual([
      'What commit first defined the function `area` in `pkg/shapes.py`?',
      'Which change added the function `legacy_area` to `pkg/shapes.py`?',
      'What commit first defined the class `Circle` in `pkg/shapes.py`?',
      'In which commit did `pkg/shapes.py` lose the function `legacy_area`?',
      'Find the commit that created the class `Square` in `pkg/shapes.py`.',
      'What commit first defined the function `tile` in `pkg/tiling.py`?',
      'Where does the function `hexagon_area` in `pkg/hexagon.py` come from: which commit added it?',
      'Where does the class `Hexagon` in `pkg/hexagon.py` come from: which commit added it?',
    ]);
  });

  it('lists files only for a commit of two or more', async () => {
    const commits = await history();
    expect(commits.map((c) => [c.files.length, pairsOf(c).filter((p) => p.category === 'commit_files').length])).toEqual([
      [2, 1],
      [2, 1],
      [1, 0],
      [1, 0],
      [2, 1],
      [6, 1],
      [6, 1],
    ]);
  });

  it('quotes a changed line in every change pair, and skips files whose hunks only touch comments or the licence', async () => {
    const hexagons = (await history())[4]!;
    const short = hexagons.sha.slice(0, 7);
    const pairs = pairsOf(hexagons);
    // pkg/shapes.py only gained the licence header: no change pair, and nothing it defines is new.
    expect(pairs.map((p) => [p.category, p.provenance.path])).toEqual([
      ['commit_files', null],
      ['commit_change', 'pkg/hexagon.py'],
      ['symbol_history', 'pkg/hexagon.py'],
      ['symbol_history', 'pkg/hexagon.py'],
    ]);
    const change = pairs[1]!;
    expect(change.answer).toBe(
      `Commit ${short} added \`pkg/hexagon.py\` (+24 -0 lines).\nAdded lines include:\n- \`def hexagon_area(side):\`\n- \`class Hexagon:\`\n- \`def __init__(self, side):\``,
    );
    for (const p of pairs.filter((x) => x.category === 'commit_change')) {
      const changed = p.context.split('\n').filter((l) => /^[+-]/.test(l)).map((l) => l.slice(1).trim());
      expect(p.evidence.some((e) => changed.includes(e))).toBe(true);
    }
    // The definition's excerpt leaves out the licence header that opens the new file's one hunk.
    const area = pairs[2]!;
    expect(area.context).toBe(
      `commit ${hexagons.sha} added pkg/hexagon.py (+24 -0)\nDate: 2024-01-06T10:00:00+00:00\nSubject: Add hexagons (#45)\n\n@@ -0,0 +18,2 @@\n+def hexagon_area(side):\n+    return 3 * math.sqrt(3) / 2 * side ** 2`,
    );
    expect(area.context.length).toBe(225);
    expect(commitRecords(hexagons, REF).find((r) => r.provenance.path === 'pkg/hexagon.py')!.text).toContain('Licensed under the Apache License');
    expect(area.context).not.toContain('License');
    expect(failures(pairs)).toEqual([]);
  });

  it(`keeps change pairs for the ${MAX_CHANGE_FILES} files with the most changed code lines`, async () => {
    const commits = await history();
    const scale = commits[6]!;
    const recs = commitRecords(scale, REF);
    expect([...changePairFiles(recs)]).toEqual(['pkg/units/u6.py', 'pkg/units/u5.py', 'pkg/units/u4.py', 'pkg/units/u3.py']);
    expect(pairsOf(scale).filter((p) => p.category === 'commit_change').map((p) => p.provenance.path)).toEqual(['pkg/units/u3.py', 'pkg/units/u4.py', 'pkg/units/u5.py', 'pkg/units/u6.py']);
    // Without the commit's choice, every file with a code change gets one.
    expect(recs.flatMap((r) => commitQuestions(r)).filter((p) => p.category === 'commit_change')).toHaveLength(6);
    const u6 = pairsOf(scale).find((p) => p.provenance.path === 'pkg/units/u6.py')!;
    expect(u6.answer).toBe(
      `Commit ${scale.sha.slice(0, 7)} modified \`pkg/units/u6.py\` (+6 -6 lines).\nAdded lines include:\n- \`UNIT_6_1 = 1005\`\n- \`UNIT_6_2 = 2005\`\n- \`UNIT_6_3 = 3005\`\nRemoved lines include:\n- \`UNIT_6_0 = 0\`\n- \`UNIT_6_1 = 1\``,
    );
  });

  it('asks why only when the body explains: not for a squash log, a copy of the subject, pointers or trailers', async () => {
    const commits = await history();
    const why = commits.map((c) => pairsOf(c).find((p) => p.category === 'commit_why')?.answer ?? null);
    expect(why).toEqual([
      'Circle areas were computed inline in three places; this gathers the formula in one module.',
      'Squares come up in the tiling code, which had its own copy of the formula. legacy_area had no callers left.',
      null,
      null,
      null,
      // A line that ends a sentence keeps its break; list items keep their lines, wrapped items are joined.
      'The converters each kept their own copy of the factors, and two of them had drifted apart:\n\n- one table per unit system, so a converter imports what it needs\n- plain constants, no classes',
      'Every factor is now in millimetres, which is what the converters expect.',
    ]);
    const parsed = parseCommitRecord(commitRecords(commits[2]!, REF)[0]!.text)!;
    expect(whyParagraphs(parsed)).toBeNull();
    const longBody = { ...parsed, body: `Intro sentence that explains the reason for this change well.\n\n${'Detail sentence number one here. '.repeat(60)}` };
    expect(whyParagraphs(longBody)).toEqual(['Intro sentence that explains the reason for this change well.']);
    const pointers = { ...parsed, body: 'Resolves #2001\n\nDescription\n\nUsers can pass a custom name, but the model overrides it silently.\n\nSee #2134' };
    expect(whyParagraphs(pointers)).toEqual(['Users can pass a custom name, but the model overrides it silently.']);
    const only = (body: string) => whyParagraphs({ ...parsed, body });
    expect(only('Continuation of, and supersedes, #2389')).toBeNull();
    expect(only('Fixes #12\n\nCo-authored-by: Bo <bo@acme.io>\nSigned-off-by: Ada <ada@acme.io>')).toBeNull();
    expect(only('This PR is a follow-up to huggingface/peft#2389, see https://github.com/huggingface/peft/pull/2389 and @bo')).toBeNull();
    expect(only('Tile shapes: tile the shapes in the tiling module, tiles shapes')).toBeNull();
    expect(only('Fixes #12: the loader crashed on empty files because it read the header twice.')).toEqual(['Fixes #12: the loader crashed on empty files because it read the header twice.']);
  });

  it('unwraps a why answer that still grounds against the wrapped message', async () => {
    const first = (await history())[0]!;
    const why = pairsOf(first).find((p) => p.category === 'commit_why')!;
    expect(why.context).toContain('this gathers the\nformula in one module.');
    expect(why.answer).toBe('Circle areas were computed inline in three places; this gathers the formula in one module.');
    expect(why.evidence).toEqual([why.answer]);
    expect(checkAnswerGrounded(why)).toMatchObject({ pass: true });
    expect(unwrapParagraph('A wrapped\nline, then code:\n\n    x = f(\n        y)\n```py\nz = 1\nw = 2\n```\nand a\nlist:\n1. one\n   two\n* three')).toBe(
      'A wrapped line, then code:\n\n    x = f(\n        y)\n```py\nz = 1\nw = 2\n```\nand a list:\n1. one two\n* three',
    );
  });

  it('words questions many ways, each naming the commit and the file', async () => {
    const repo = scriptedRepo();
    let head = '';
    for (let k = 1; k <= 24; k++)
      head = repo.commit(`Tune converter ${k}\n\nConverter ${k} rounded its factor too early, so its results drifted by a\nfew per cent.`, {
        [`pkg/conv${k}.py`]: `FACTOR = ${k}.5\nROUNDING = ${k}\n`,
        [`docs/conv${k}.md`]: `Converter ${k} multiplies by ${k}.5 and rounds to ${k} places.\n`,
      });
    const pairs: QAPair[] = [];
    for await (const c of readCommits(repo.dir, { from: null, to: head, maxDiffBytes: 64 * 1024 })) pairs.push(...pairsOf(c));
    expect(failures(pairs)).toEqual([]);
    // A template: the question without its code spans, quoted spans, shas and numbers.
    const template = (q: string) =>
      q
        .replace(/`[^`]*`/g, '<code>')
        .replace(/"[^"]*"|“[^”]*”/g, '<quoted>')
        .replace(/\b[0-9a-f]{7,40}\b/g, '<sha>')
        .replace(/\d+/g, '<n>');
    const byTemplate = new Map<string, number>();
    for (const p of pairs) byTemplate.set(template(p.question), (byTemplate.get(template(p.question)) ?? 0) + 1);
    const top10 = [...byTemplate.values()].sort((x, y) => y - x).slice(0, 10);
    expect(pairs).toHaveLength(24 * 4);
    expect(top10.reduce((x, y) => x + y, 0) / pairs.length).toBeLessThanOrEqual(0.35);
    for (const cat of ['commit_why', 'commit_files', 'commit_change']) {
      const of = pairs.filter((p) => p.category === cat);
      expect(new Set(of.map((p) => template(p.question))).size, cat).toBeGreaterThanOrEqual(6);
      // Standalone: every question names the commit by short sha and subject, and a change pair its file.
      for (const p of of) {
        const sha = p.provenance.commitFirstSeen.slice(0, 7);
        expect(p.question).toMatch(new RegExp(`\\b${sha}\\b.*"Tune converter \\d+"|"Tune converter \\d+".*\\b${sha}\\b`));
        if (cat === 'commit_change') expect(p.question).toContain(`\`${p.provenance.path}\``);
      }
    }
  });
});
