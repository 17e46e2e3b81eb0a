import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readCommits } from '../activities/git-history.js';
import type { CommitFile, RawCommit } from './git-log.js';
import { SkipRecord, SourceRecord } from '../datasets/schemas.js';
import { contentId } from '../lib/hash.js';
import {
  cleanBody,
  commitFilter,
  commitRecords,
  commitSkips,
  parseCommitRecord,
  parseFileRecord,
  parseHunks,
  prNumberFromSubject,
  symbolChanges,
  symbolChangesInPatch,
} from './commits.js';
import { SHAPES, SHAPES_2, scriptedRepo } from '../test/git-script.js';

const SHA = 'ab12cd34'.padEnd(40, '0');
const file = (path: string, over: Partial<CommitFile> = {}): CommitFile => ({
  path,
  oldPath: null,
  status: 'M',
  additions: 1,
  deletions: 0,
  binary: false,
  diffRange: null,
  diffTruncated: false,
  ...over,
});
const raw = (over: Partial<RawCommit>): RawCommit => ({
  sha: SHA,
  parents: ['1'.repeat(40)],
  authorName: 'Ada Lovelace',
  authorEmail: 'ada@acme.io',
  authoredAt: '2024-01-02T10:00:00+00:00',
  committedAt: '2024-01-02T10:00:00+00:00',
  subject: 'Fix the area of a circle',
  body: '',
  files: [file('pkg/shapes.py')],
  diff: '',
  diffBytes: 0,
  truncated: false,
  nonUtf8: false,
  unreadable: [],
  ...over,
});
const reason = (over: Partial<RawCommit>) => {
  const r = commitFilter(raw(over));
  return r.keep ? 'keep' : r.reason;
};

describe('commitFilter', () => {
  it('skips merges, bots and merge subjects', () => {
    expect(reason({ parents: ['1'.repeat(40), '2'.repeat(40)] })).toBe('merge');
    expect(reason({ authorName: 'dependabot[bot]' })).toBe('bot');
    expect(reason({ authorName: 'github-actions' })).toBe('bot');
    expect(reason({ authorName: 'Someone', authorEmail: '66853113+pre-commit-ci[bot]@users.noreply.github.com' })).toBe('bot');
    expect(reason({ authorName: 'Release Bot' })).toBe('bot');
    // A person whose name merely ends in "bot" is not a bot account.
    expect(reason({ authorName: 'Peft Jambot' })).toBe('keep');
    expect(reason({ subject: "Merge branch 'main' into feature" })).toBe('merge_message');
    expect(reason({ subject: 'Merge pull request #288 from bigeagle/main' })).toBe('merge_message');
    expect(reason({ subject: 'Merge remote-tracking branch origin/main' })).toBe('merge_message');
  });

  it('skips version bumps and releases, not changes that mention versions', () => {
    for (const s of [
      'Bump version to 0.20.1.dev0 (#3484)',
      'Bump version to 0.19.2.dev0 after release (#3178)',
      'Release 0.20.0 (#3388)',
      'Release: v0.18.0 (#2908)',
      'Release 0.18.0.rc0 (#2849)',
      'v1.2.3',
      '0.4.0',
      'Post rc-release version bump (#2875)',
      'Back to dev version',
      'Bump actions/cache from 5.0.4 to 5.0.5 in the ci-actions group (#3206)',
      'CI: Bump the ci-actions group with 2 updates (#3496)',
      '[release] update version',
    ])
      expect(reason({ subject: s }), s).toBe('version_bump');
    for (const s of ['FIX Add guard when detecting the optimum version (#3042)', 'Release the GIL in the tokenizer loop', 'Support Python 3.12 versions of typing'])
      expect(reason({ subject: s }), s).toBe('keep');
  });

  it('skips messages that say nothing, and reverts that do not say why', () => {
    for (const s of ['fix', 'wip', 'update (#12)', 'Update', '', '...', 'make style', 'Minor fixes', 'WIP on tiling'])
      expect(reason({ subject: s }), s).toBe('short_message');
    // A body can carry a terse subject.
    expect(reason({ subject: 'fix', body: 'The area used the diameter instead of the radius.' })).toBe('keep');
    expect(reason({ subject: 'Fix typo', body: '' })).toBe('keep');
    expect(reason({ subject: 'Revert "fix"', body: `This reverts commit ${SHA}.` })).toBe('revert');
    expect(reason({ subject: 'Revert "Use the fast kernel" (#88)', body: 'It broke fp16 training on V100s.' })).toBe('keep');
  });

  it('skips commits without a textual change', () => {
    expect(reason({ files: [] })).toBe('empty_diff');
    expect(reason({ files: [file('logo.png', { binary: true, additions: 0 })] })).toBe('empty_diff');
    expect(reason({ files: [file('a.py', { status: 'R', oldPath: 'b.py', additions: 0 })] })).toBe('empty_diff');
    expect(reason({})).toBe('keep');
  });
});

describe('prNumberFromSubject and cleanBody', () => {
  it('reads the PR a squash merge names', () => {
    expect(prNumberFromSubject('Fix X (#12345)')).toBe(12345);
    expect(prNumberFromSubject('Revert "Fix X (#1)" (#2)')).toBe(2);
    expect(prNumberFromSubject('Merge pull request #288 from bigeagle/main')).toBe(288);
    expect(prNumberFromSubject('Fix #12 in the loader')).toBeNull();
    expect(prNumberFromSubject('Fix X (#0)')).toBeNull();
  });

  it('drops trailers, separators and comments from a body', () => {
    expect(cleanBody('Why it matters.\n\n<!-- template -->\n---------\n\nSigned-off-by: A <a@b.io>\nCo-authored-by: B <b@c.io>')).toBe('Why it matters.');
  });
});

describe('parseHunks', () => {
  it('takes only the lines each hunk header counts, across the two sections of a type change', () => {
    const patch = [
      'diff --git a/PHILOSOPHY.md b/PHILOSOPHY.md',
      'deleted file mode 100644',
      '--- a/PHILOSOPHY.md',
      '+++ /dev/null',
      '@@ -1,2 +0,0 @@',
      '-# Philosophy',
      '-Be kind.',
      'diff --git a/PHILOSOPHY.md b/PHILOSOPHY.md',
      'new file mode 120000',
      '--- /dev/null',
      '+++ b/PHILOSOPHY.md',
      '@@ -0,0 +1 @@',
      '+docs/philosophy.md',
      '\\ No newline at end of file',
      '@@ -5,3 +5,3 @@ def f():',
      ' a',
      '-b',
      '[diff truncated]',
      '',
    ].join('\n');
    expect(parseHunks(patch).map((h) => [h.header, h.section, h.newStart, h.lines])).toEqual([
      ['@@ -1,2 +0,0 @@', '', 0, ['-# Philosophy', '-Be kind.']],
      ['@@ -0,0 +1 @@', '', 1, ['+docs/philosophy.md', '\\ No newline at end of file']],
      ['@@ -5,3 +5,3 @@ def f():', 'def f():', 5, [' a', '-b']],
    ]);
  });
});

describe('symbolChangesInPatch', () => {
  it('finds top-level definitions added or removed, not edited, moved or nested ones', () => {
    const patch = [
      '@@ -1,9 +1,12 @@',
      '+def added(x):',
      '+async def fetch(url):',
      '-def gone():',
      '-def edited(a):',
      '+def edited(a, b):',
      '+class Square(Shape):',
      '-class Old:',
      '+    def method(self):',
      ' def kept():',
      '+def kept():',
      '+def twice():',
      '+def twice():',
    ].join('\n');
    expect(symbolChangesInPatch('pkg/a.py', patch)).toEqual([
      { path: 'pkg/a.py', name: 'added', kind: 'function', change: 'added', line: '+def added(x):' },
      { path: 'pkg/a.py', name: 'fetch', kind: 'function', change: 'added', line: '+async def fetch(url):' },
      { path: 'pkg/a.py', name: 'gone', kind: 'function', change: 'removed', line: '-def gone():' },
      { path: 'pkg/a.py', name: 'Square', kind: 'class', change: 'added', line: '+class Square(Shape):' },
      { path: 'pkg/a.py', name: 'Old', kind: 'class', change: 'removed', line: '-class Old:' },
    ]);
    expect(symbolChangesInPatch('docs/a.md', patch)).toEqual([]);
  });
});

const TOKEN = `hf_${'a1B2'.repeat(9)}`;

async function history(): Promise<RawCommit[]> {
  const repo = scriptedRepo();
  repo.commit('Add shapes module\n\nCircle areas were computed inline in three places; this gathers the\nformula in one module.\n\nCo-authored-by: Grace Hopper <grace@navy.mil>', {
    'pkg/shapes.py': SHAPES,
    'README.md': '# Shapes\n',
    'assets/logo.png': Buffer.from([0x89, 0x50, 0, 0, 1]),
  });
  const head = repo.commit('Add Square and drop legacy_area (#42)\n\nSquares come up in the tiling code.', {
    'pkg/shapes.py': SHAPES_2,
    'package-lock.json': '{}\n',
    'docs/usage.md': 'Call `area(r)`.\n',
    'config.py': `HF_TOKEN = "${TOKEN}"\n`,
  });
  const out: RawCommit[] = [];
  for await (const c of readCommits(repo.dir, { from: null, to: head, maxDiffBytes: 64 * 1024 })) out.push(c);
  return out;
}

const REF = { repo: 'acme/shapes', sha: 'f'.repeat(40), webUrl: 'https://github.com/acme/shapes' };

describe('commitRecords', () => {
  it('gives one whole-commit record, emails left out, and one per changed text file', async () => {
    const [first, second] = await history();
    const recs = commitRecords(first!, REF);
    expect(recs.map((r) => [r.provenance.path, r.provenance.startLine, r.provenance.endLine])).toEqual([
      [null, null, null],
      ['README.md', 1, 1],
      ['pkg/shapes.py', 1, 15],
    ]);
    expect(recs[0]!.text).toBe(
      `commit ${first!.sha}\nAuthor: Ada Lovelace\nDate: 2024-01-02T10:00:00+00:00\n\nAdd shapes module\n\nCircle areas were computed inline in three places; this gathers the\nformula in one module.\n\nCo-authored-by: Grace Hopper\n\nFiles changed (3):\nA README.md\nA assets/logo.png\nA pkg/shapes.py`,
    );
    for (const r of recs) expect(SourceRecord.safeParse(r).success).toBe(true);

    const [whole, config, usage, shapes, ...rest] = commitRecords(second!, REF);
    expect(rest).toEqual([]);
    expect(whole!.text.endsWith('Files changed (4):\nA config.py\nA docs/usage.md\nA package-lock.json\nM pkg/shapes.py')).toBe(true);
    expect(usage!.text).toBe(
      `commit ${second!.sha} added docs/usage.md (+1 -0)\nDate: 2024-01-03T10:00:00+00:00\nSubject: Add Square and drop legacy_area (#42)\n\n@@ -0,0 +1 @@\n+Call \`area(r)\`.`,
    );
    expect(shapes!.text).toBe(
      [
        `commit ${second!.sha} modified pkg/shapes.py (+8 -4)`,
        'Date: 2024-01-03T10:00:00+00:00',
        'Subject: Add Square and drop legacy_area (#42)',
        '',
        '@@ -6,10 +6,14 @@ def area(r):',
        '     return math.pi * r * r',
        ' ',
        ' ',
        '-def legacy_area(r):',
        '-    return 3.14 * r * r',
        '-',
        '-',
        ' class Circle:',
        '     def __init__(self, r):',
        '         self.r = r',
        '+',
        '+',
        '+class Square:',
        '+    def __init__(self, side):',
        '+        self.side = side',
        '+',
        '+    def area(self):',
        '+        return self.side ** 2',
      ].join('\n'),
    );
    expect(shapes!.provenance).toEqual({
      repo: 'acme/shapes',
      commitFirstSeen: second!.sha,
      commitLastVerified: second!.sha,
      path: 'pkg/shapes.py',
      startLine: 6,
      endLine: 19,
      qualname: null,
      url: `https://github.com/acme/shapes/commit/${second!.sha}`,
      prNumber: 42,
      issueNumber: null,
      commentId: null,
    });
    // Secrets are redacted in the stored text; the id still hashes the content.
    expect(config!.text).toContain('+HF_TOKEN = "[REDACTED:huggingface_token]"');
    expect(config!.text).not.toContain(TOKEN);
    expect(config!.redactions).toEqual(['huggingface_token']);
    expect(shapes!.id).toBe(contentId('commit', second!.sha, 'pkg/shapes.py', createHash('sha256').update(shapes!.text).digest('hex')));
    expect(whole!.id).toBe(contentId('commit', second!.sha, '', whole!.contentHash));
  });

  it('keeps ids across runs, caps file records and bounds their text', async () => {
    const [a, b] = [await history(), await history()];
    expect(a.map((c) => commitRecords(c, REF).map((r) => r.id))).toEqual(b.map((c) => commitRecords(c, REF).map((r) => r.id)));
    const second = a[1]!;
    expect(commitRecords(second, REF, { maxFileRecords: 1 }).map((r) => r.provenance.path)).toEqual([null, 'config.py']);
    // A cap below the hunk's size keeps the lines that fit and says the diff was cut.
    const small = commitRecords(second, REF, { maxFileRecordChars: 120 }).find((r) => r.provenance.path === 'pkg/shapes.py')!;
    expect(small.text.split('\n\n')[1]).toBe('@@ -6,10 +6,14 @@ def area(r):\n     return math.pi * r * r\n \n \n-def legacy_area(r):\n-    return 3.14 * r * r\n-\n-\n[diff truncated]');
    expect([small.provenance.startLine, small.provenance.endLine]).toEqual([6, 8]);
  });

  it('carries its structure as facts, field for field what its text states, redacted as the text is', async () => {
    const commits = await history();
    let checked = 0;
    for (const c of commits)
      for (const opts of [{}, { maxFileRecordChars: 120 }])
        for (const r of commitRecords(c, REF, opts)) {
          const { type, ...facts } = r.facts!;
          expect(type).toBe(r.provenance.path === null ? 'commit' : 'commit_file');
          expect(facts).toEqual(r.provenance.path === null ? parseCommitRecord(r.text) : parseFileRecord(r.text));
          expect(JSON.stringify(r.facts)).not.toContain(TOKEN);
          checked++;
        }
    expect(checked).toBe(14);
    const cut = commitRecords(commits[1]!, REF, { maxFileRecordChars: 120 }).find((r) => r.provenance.path === 'pkg/shapes.py')!;
    expect(cut.facts).toMatchObject({ type: 'commit_file', verb: 'modified', additions: 8, deletions: 4, truncated: true });
  });

  it('reads back what it wrote, and finds the symbols the commit added or removed', async () => {
    const [, second] = await history();
    const [whole, , , shapes] = commitRecords(second!, REF);
    expect(parseCommitRecord(whole!.text)).toEqual({
      sha: second!.sha,
      author: 'Ada Lovelace',
      date: '2024-01-03T10:00:00+00:00',
      subject: 'Add Square and drop legacy_area (#42)',
      body: 'Squares come up in the tiling code.',
      files: [
        { status: 'A', path: 'config.py', oldPath: null },
        { status: 'A', path: 'docs/usage.md', oldPath: null },
        { status: 'A', path: 'package-lock.json', oldPath: null },
        { status: 'M', path: 'pkg/shapes.py', oldPath: null },
      ],
      fileCount: 4,
    });
    expect(parseFileRecord(shapes!.text)).toMatchObject({ sha: second!.sha, verb: 'modified', oldPath: null, additions: 8, deletions: 4, subject: 'Add Square and drop legacy_area (#42)', truncated: false });
    expect(symbolChanges(second!)).toEqual([
      { path: 'pkg/shapes.py', name: 'legacy_area', kind: 'function', change: 'removed', line: '-def legacy_area(r):' },
      { path: 'pkg/shapes.py', name: 'Square', kind: 'class', change: 'added', line: '+class Square:' },
    ]);
  });

  it('leaves email addresses out of trailers, also those a squash merge inlines', () => {
    const body = 'Mail me at <ada@acme.io> if it breaks.\n\n* Finish it Co-authored-by: Bagheera bghira@users.github.com\n\nSigned-off-by: yiyi@huggingface.co <yiyi@ip-26-0-1-2.ec2.internal>';
    const [rec] = commitRecords(raw({ body }), REF);
    expect(rec!.text).toContain('\n\nMail me at if it breaks.\n\n* Finish it Co-authored-by: Bagheera\n\nSigned-off-by:\n\nFiles changed (1):\nM pkg/shapes.py');
    expect(rec!.redactions).toEqual([]);
  });

  it('records what it cut as skips', () => {
    const c = raw({ truncated: true, diffBytes: 90000, files: [file('a.csv', { diffTruncated: true }), file('b.py'), file('lost.bin', { diffTruncated: true })], unreadable: ['lost.bin'] });
    expect(commitSkips(c)).toEqual([
      { path: 'a.csv', reason: 'diff_truncated', detail: `commit ${SHA}: diff of 90000 bytes cut at the size cap` },
      { path: 'lost.bin', reason: 'read_error', detail: `commit ${SHA}: git could not read the file's blob` },
    ]);
  });
});

describe('commitFilter on style-only commits', () => {
  const CALC = "import sys\nimport os\n\n\ndef total(values,start=0):\n    return sum(values,\n               start)\n\n\nSIZES = {'small': 1, 'large': 2}\nPAIR = (1,)\n";
  const CALC_BLACK = 'import sys\nimport os\n\n\ndef total(values, start=0):\n    return sum(\n        values,\n        start,\n    )\n\n\nSIZES = {"small": 1, "large": 2}\nPAIR = (1,)\n';
  const IMPORTS = 'import sys\nimport os\n\nprint(os.sep, sys.argv)\n';
  const SORTED = 'import os\nimport sys\n\nprint(os.sep, sys.argv)\n';

  async function styleHistory(): Promise<{ subject: string; sha: string; verdict: ReturnType<typeof commitFilter> }[]> {
    const repo = scriptedRepo();
    repo.commit('Add the modules\n\nThe first version of each.', {
      'pkg/calc.py': CALC,
      'pkg/pair.py': "PAIR = (1,)\nNAME = 'a'\n",
      'pkg/flags.py': "if DEBUG:\n    print('debug')\n    LEVEL = 1\n",
      'pkg/add.py': 'def add(a, b):\n    return a + b\n',
      'pkg/totl.py': 'def totl(values):\n    return sum(values)\n',
      'pkg/imports.py': IMPORTS,
      'docs/README.md': 'Recieve the totl of a list.\n\nCall `total` with the values.\n',
      '.pre-commit-config.yaml': 'repos:\n  - repo: https://github.com/astral-sh/ruff-pre-commit\n    rev: v0.2.1\n',
      'setup.py': 'extras = ["ruff~=0.2.1", "numpy>=1.0"]\n',
    });
    const steps: [string, Record<string, string>][] = [
      // Whitespace, quotes and a trailing comma black adds: style-only on the diff alone.
      ['Apply black', { 'pkg/calc.py': CALC_BLACK }],
      // A tuple losing its comma and a statement leaving its block change what the code does.
      ['make style', { 'pkg/pair.py': 'PAIR = (1)\nNAME = "a"\n' }],
      ['style: reindent the flags', { 'pkg/flags.py': "if DEBUG:\n    print('debug')\nLEVEL = 1\n" }],
      // A new comment is kept unless the subject calls it style.
      ['Explain add', { 'pkg/add.py': 'def add(a, b):\n    # a and b may be floats\n    return a + b\n' }],
      ['make style', { 'pkg/add.py': 'def add(a, b):\n    # a and b may be floats.\n    return a + b\n' }],
      ['Fix typos in README', { 'docs/README.md': 'Receive the total of a list.\n\nCall `total` with the values.\n' }],
      // A "typo" in a name is a rename.
      ['Fix typo', { 'pkg/totl.py': 'def total(values):\n    return sum(values)\n' }],
      ['Sort imports with isort', { 'pkg/imports.py': SORTED }],
      ['Put os first in the module header', { 'pkg/imports.py': IMPORTS }],
      ['Upgrade ruff to 0.4.8', { '.pre-commit-config.yaml': 'repos:\n  - repo: https://github.com/astral-sh/ruff-pre-commit\n    rev: v0.4.8\n', 'setup.py': 'extras = ["ruff~=0.4.8", "numpy>=1.0"]\n' }],
      ['Pin numpy with ruff in mind', { 'setup.py': 'extras = ["ruff~=0.4.8", "numpy>=1.2"]\n' }],
    ];
    let head = '';
    for (const [subject, files] of steps) head = repo.commit(subject, files);
    const out: { subject: string; sha: string; verdict: ReturnType<typeof commitFilter> }[] = [];
    for await (const c of readCommits(repo.dir, { from: null, to: head, maxDiffBytes: 64 * 1024 })) out.push({ subject: c.subject, sha: c.sha, verdict: commitFilter(c) });
    return out.slice(1);
  }

  it('skips formatting, and comment, import-order, typo or linter-setting edits its subject calls style, with a skip record', async () => {
    const seen = await styleHistory();
    expect(seen.map((s) => [s.subject, s.verdict.keep ? 'keep' : s.verdict.reason, s.verdict.keep ? null : (s.verdict.skip?.detail ?? null)])).toEqual([
      ['Apply black', 'style_only', 'subject says "black"; diff changes only whitespace, quotes or trailing commas (1 file)'],
      ['make style', 'short_message', null],
      ['style: reindent the flags', 'keep', null],
      ['Explain add', 'keep', null],
      ['make style', 'style_only', 'subject says "make style"; diff changes only comments (or licence lines) besides formatting (1 file)'],
      ['Fix typos in README', 'style_only', 'subject says "Fix typos in README"; diff changes only typos in prose (1 file)'],
      ['Fix typo', 'keep', null],
      ['Sort imports with isort', 'style_only', 'subject says "isort"; diff changes only the order of imports (1 file)'],
      ['Put os first in the module header', 'keep', null],
      ['Upgrade ruff to 0.4.8', 'style_only', `subject says "ruff"; diff changes only a linter's settings (2 files)`],
      ['Pin numpy with ruff in mind', 'keep', null],
    ]);
    const black = seen[0]!;
    expect(black.verdict).toEqual({
      keep: false,
      reason: 'style_only',
      skip: { path: `commit:${black.sha}`, reason: 'style_only', detail: 'subject says "black"; diff changes only whitespace, quotes or trailing commas (1 file)' },
    });
    expect(SkipRecord.safeParse((black.verdict as { skip: unknown }).skip).success).toBe(true);
  });

  it('needs the diff to show it: a cut diff, an added file or a subject alone is not enough', () => {
    const diff = '@@ -1 +1 @@\n-x = 1\n+x  =  1\n';
    const f = file('a.py', { additions: 1, deletions: 1, diffRange: { start: 0, end: diff.length } });
    expect(reason({ subject: 'Tidy', body: 'Spacing.', diff, files: [f] })).toBe('style_only');
    expect(reason({ subject: 'Tidy', body: 'Spacing.', diff, files: [f], truncated: true })).toBe('keep');
    expect(reason({ subject: 'Tidy', body: 'Spacing.', diff, files: [{ ...f, status: 'A' }] })).toBe('keep');
    expect(reason({ subject: 'Tidy', body: 'Spacing.', diff, files: [f, file('logo.png', { binary: true })] })).toBe('keep');
    // No diff to read: "make style" alone says nothing, as before.
    expect(reason({ subject: 'make style' })).toBe('short_message');
    expect(reason({ subject: 'style: apply ruff', body: 'Ran the formatter.' })).toBe('keep');
  });
});
