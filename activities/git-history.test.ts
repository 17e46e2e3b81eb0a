import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RawCommit } from '../extractors/git-log.js';
import { changedPaths, headSha, readCommits, type ReadCommitsOptions } from './git-history.js';

const BASE = 1704103200; // 2024-01-01T10:00:00Z
const DAY = 86400;
const BOT = 'dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>';

/** A repository whose commits have fixed authors and dates, so the same script gives the same shas. */
class HistoryRepo {
  dir = mkdtempSync(join(tmpdir(), 'qaforge-history-'));
  private day = 0;

  constructor() {
    this.git('init', '-q', '-b', 'main');
    this.git('config', 'user.name', 'Ada Lovelace');
    this.git('config', 'user.email', 'ada@acme.io');
  }

  git(...args: string[]): string {
    const date = `${BASE + this.day * DAY} +0000`;
    const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
    return execFileSync('git', args, { cwd: this.dir, env, maxBuffer: 1 << 28 }).toString();
  }

  write(files: Record<string, string | Buffer | null>): void {
    for (const [path, content] of Object.entries(files)) {
      const abs = join(this.dir, path);
      if (content === null) rmSync(abs);
      else {
        mkdirSync(dirname(abs), { recursive: true });
        writeFileSync(abs, content);
      }
    }
  }

  commit(message: string, files: Record<string, string | Buffer | null> = {}, author?: string): string {
    this.day++;
    this.write(files);
    this.git('add', '-A');
    this.git('commit', '-q', '--allow-empty', '-m', message, ...(author ? ['--author', author] : []));
    return this.sha();
  }

  sha(rev = 'HEAD'): string {
    return this.git('rev-parse', rev).trim();
  }

  /** The patch git prints for a commit against its first parent. */
  patch(sha: string, parent: string | undefined): Buffer {
    if (parent) return execFileSync('git', ['diff', '-M', '--no-color', parent, sha], { cwd: this.dir, maxBuffer: 1 << 28 });
    const out = execFileSync('git', ['diff-tree', '-p', '-M', '--root', '--no-color', sha], { cwd: this.dir, maxBuffer: 1 << 28 });
    return out.subarray(out.indexOf(10) + 1); // diff-tree prints the sha first
  }
}

const shapes = (extra = '') => `"""Shapes and their areas."""
import math


def area(r):
    """Area of a circle of radius r."""
    return math.pi * r * r


def legacy_area(r):
    return 3.14 * r * r


class Circle:
    def __init__(self, r):
        self.r = r

    def area(self):
        return area(self.r)

    def diameter(self):
        return 2 * self.r
${extra}`;

const csv = (rows: number, width: number) => Array.from({ length: rows }, (_, i) => `${i},${'x'.repeat(width)}`).join('\n') + '\n';

/** The history every test here reads: 14 first-parent commits, one of them a merge. */
function buildHistory(): { repo: HistoryRepo; shas: Record<string, string> } {
  const repo = new HistoryRepo();
  const shas: Record<string, string> = {};
  shas.initial = repo.commit(
    'Add shapes module\n\nCircle areas were computed inline in three places; this gathers the\nformula in one module so callers share it.\n\nCo-authored-by: Grace Hopper <grace@navy.mil>',
    {
      'pkg/__init__.py': '__version__ = "0.1.0"\n',
      'pkg/shapes.py': shapes(),
      'pkg/legacy.py': 'def old():\n    return 1\n',
      'README.md': '# Shapes\n',
    },
  );
  shas.logo = repo.commit('Add logo to the README', { 'assets/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 1, 2]), 'README.md': '# Shapes\n\n![logo](assets/logo.png)\n' });
  repo.git('checkout', '-q', '-b', 'feat');
  shas.sideBranch = repo.commit('Add perimeter helper', { 'pkg/shapes.py': shapes('\n\ndef perimeter(r):\n    return 2 * math.pi * r\n') });
  repo.git('checkout', '-q', 'main');
  shas.docs = repo.commit('Document the area formula', { 'README.md': '# Shapes\n\n![logo](assets/logo.png)\n\nArea is pi r squared.\n' });
  repo.git('merge', '-q', '--no-ff', 'feat', '-m', "Merge branch 'feat'");
  shas.merge = repo.sha();
  repo.git('mv', 'pkg/shapes.py', 'pkg/geometry.py');
  shas.rename = repo.commit('Rename shapes to geometry', { 'pkg/geometry.py': shapes('\n\ndef perimeter(r):\n    return 2 * math.pi * r\n').replace('Shapes and', 'Geometry: shapes and') });
  shas.remove = repo.commit('Remove the legacy module', { 'pkg/legacy.py': null });
  shas.tables = repo.commit('Add data tables', { 'data/a.csv': csv(200, 56), 'data/b.csv': csv(50, 56), 'data/c.csv': csv(50, 56), 'data/d.csv': 'id\n1\n' });
  shas.latin1 = repo.commit('Add café notes', { 'docs/café notes.txt': Buffer.from('caf\xe9 au lait\n', 'latin1') });
  shas.bot = repo.commit('Bump requests from 2.31.0 to 2.32.0', { 'requirements.txt': 'requests==2.32.0\n' }, BOT);
  shas.version = repo.commit('Bump version to 0.2.0', { 'pkg/__init__.py': '__version__ = "0.2.0"\n' });
  shas.oneWord = repo.commit('fix', { 'README.md': '# Shapes\n\n![logo](assets/logo.png)\n\nArea is pi * r ** 2.\n' });
  repo.git('revert', '--no-edit', 'HEAD');
  shas.revert = repo.sha();
  shas.binaryOnly = repo.commit('Update the logo image', { 'assets/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 9, 9]) });
  shas.square = repo.commit(
    'Add Square and drop legacy_area (#42)\n\nSquares come up in the tiling code, which had its own copy of the\nformula. legacy_area had no callers left after the rename.',
    {
      'pkg/geometry.py': shapes('\n\ndef perimeter(r):\n    return 2 * math.pi * r\n\n\nclass Square:\n    def __init__(self, side):\n        self.side = side\n')
        .replace('Shapes and', 'Geometry: shapes and')
        .replace('def legacy_area(r):\n    return 3.14 * r * r\n\n\n', ''),
    },
  );
  return { repo, shas };
}

const OPTS = { maxDiffBytes: 8192, maxFileDiffBytes: 4096 } satisfies Omit<ReadCommitsOptions, 'from' | 'to'>;

async function readAll(dir: string, opts: ReadCommitsOptions): Promise<RawCommit[]> {
  const out: RawCommit[] = [];
  for await (const c of readCommits(dir, opts)) out.push(c);
  return out;
}

describe('readCommits', () => {
  let repo: HistoryRepo;
  let shas: Record<string, string>;
  let commits: RawCommit[];
  const by = (key: string) => commits.find((c) => c.sha === shas[key])!;

  beforeAll(async () => {
    ({ repo, shas } = buildHistory());
    commits = await readAll(repo.dir, { from: null, to: shas.square!, ...OPTS });
  });

  it('reads first-parent history oldest first, a merge as one commit against its first parent', () => {
    expect(commits.map((c) => c.subject)).toEqual([
      'Add shapes module',
      'Add logo to the README',
      'Document the area formula',
      "Merge branch 'feat'",
      'Rename shapes to geometry',
      'Remove the legacy module',
      'Add data tables',
      'Add café notes',
      'Bump requests from 2.31.0 to 2.32.0',
      'Bump version to 0.2.0',
      'fix',
      'Revert "fix"',
      'Update the logo image',
      'Add Square and drop legacy_area (#42)',
    ]);
    expect(commits.map((c) => c.sha)).toEqual(repo.git('rev-list', '--first-parent', '--reverse', 'HEAD').trim().split('\n'));
    expect(commits.some((c) => c.sha === shas.sideBranch)).toBe(false);
    const merge = by('merge');
    expect(merge.parents).toEqual([shas.docs, shas.sideBranch]);
    expect(merge.files).toEqual([
      { path: 'pkg/shapes.py', oldPath: null, status: 'M', additions: 4, deletions: 0, binary: false, diffRange: { start: 0, end: merge.diff.length }, diffTruncated: false },
    ]);
    expect(merge.diff).toContain('+def perimeter(r):\n');
  });

  it('reads authors, dates, message parts and file lists', () => {
    const first = commits[0]!;
    expect(first).toMatchObject({
      sha: shas.initial,
      parents: [],
      authorName: 'Ada Lovelace',
      authorEmail: 'ada@acme.io',
      authoredAt: '2024-01-02T10:00:00+00:00',
      committedAt: '2024-01-02T10:00:00+00:00',
      subject: 'Add shapes module',
      body: 'Circle areas were computed inline in three places; this gathers the\nformula in one module so callers share it.\n\nCo-authored-by: Grace Hopper <grace@navy.mil>',
      truncated: false,
      nonUtf8: false,
      unreadable: [],
    });
    expect(first.files.map((f) => [f.status, f.path, f.additions, f.deletions])).toEqual([
      ['A', 'README.md', 1, 0],
      ['A', 'pkg/__init__.py', 1, 0],
      ['A', 'pkg/legacy.py', 2, 0],
      ['A', 'pkg/shapes.py', 22, 0],
    ]);
    expect(by('bot')).toMatchObject({ authorName: 'dependabot[bot]', authorEmail: '49699333+dependabot[bot]@users.noreply.github.com' });
    expect(by('revert').body).toBe(`This reverts commit ${shas.oneWord}.`);
  });

  it('reports renames, deletions and binary files', () => {
    expect(by('rename').files.map(({ diffRange, ...f }) => f)).toEqual([
      { path: 'pkg/geometry.py', oldPath: 'pkg/shapes.py', status: 'R', additions: 1, deletions: 1, binary: false, diffTruncated: false },
    ]);
    expect(by('rename').diff).toMatch(/^diff --git a\/pkg\/shapes.py b\/pkg\/geometry.py\nsimilarity index \d+%\nrename from pkg\/shapes.py\nrename to pkg\/geometry.py\n/);
    expect(by('remove').files.map(({ diffRange, ...f }) => f)).toEqual([
      { path: 'pkg/legacy.py', oldPath: null, status: 'D', additions: 0, deletions: 2, binary: false, diffTruncated: false },
    ]);
    const logo = by('logo').files;
    expect(logo.map((f) => [f.status, f.path, f.binary, f.additions, f.deletions])).toEqual([
      ['M', 'README.md', false, 2, 0],
      ['A', 'assets/logo.png', true, 0, 0],
    ]);
    expect(by('binaryOnly').files.map((f) => [f.status, f.path, f.binary])).toEqual([['M', 'assets/logo.png', true]]);
  });

  it('keeps the whole patch of every commit under the caps, byte for byte, and its exact size', () => {
    for (const c of commits) {
      const patch = repo.patch(c.sha, c.parents[0]);
      expect(c.diffBytes, c.subject).toBe(patch.length);
      if (!c.truncated) expect(c.diff, c.subject).toBe(patch.toString('utf8'));
      // Each file's range holds exactly its own section.
      for (const f of c.files) if (f.diffRange) expect(c.diff.slice(f.diffRange.start, f.diffRange.end)).toMatch(/^diff --git /);
    }
  });

  it('cuts a diff over the caps at hunk, line and file boundaries and says what it cut', () => {
    const c = by('tables');
    expect(c.truncated).toBe(true);
    expect(c.diffBytes).toBe(repo.patch(c.sha, c.parents[0]).length);
    expect(c.diffBytes).toBe(18893);
    const [a, b, cc, d] = c.files;
    const bytes = (f: RawCommit['files'][number]) => Buffer.byteLength(c.diff.slice(f.diffRange!.start, f.diffRange!.end));
    // a.csv's one hunk is over the file cap: cut at a line, below 4096 bytes.
    expect([a!.path, a!.diffTruncated, a!.additions]).toEqual(['data/a.csv', true, 200]);
    expect(bytes(a!)).toBeLessThanOrEqual(4096);
    expect(bytes(a!)).toBeGreaterThan(3900);
    expect(c.diff.slice(a!.diffRange!.start, a!.diffRange!.end)).toMatch(/\n\+\d+,x+\n$/);
    // b.csv fits whole.
    expect([b!.path, b!.diffTruncated, bytes(b!)]).toEqual(['data/b.csv', false, Buffer.byteLength(execFileSync('git', ['diff', c.parents[0]!, c.sha, '--', 'data/b.csv'], { cwd: repo.dir }))]);
    // c.csv meets the commit cap: the lines that fit, then nothing more of the commit.
    expect([cc!.path, cc!.diffTruncated]).toEqual(['data/c.csv', true]);
    expect([d!.path, d!.diffTruncated, d!.diffRange, d!.additions]).toEqual(['data/d.csv', true, null, 2]);
    expect(Buffer.byteLength(c.diff)).toBeLessThanOrEqual(8192);
    expect(Buffer.byteLength(c.diff)).toBeGreaterThan(8000);
  });

  it('keeps a non-UTF-8 diff, lossy and flagged, and reads quoted paths', () => {
    const c = by('latin1');
    expect(c.nonUtf8).toBe(true);
    expect(c.files.map((f) => [f.status, f.path, f.additions])).toEqual([['A', 'docs/café notes.txt', 1]]);
    expect(c.diff).toContain('\n+caf\uFFFD au lait\n');
    expect(commits.filter((x) => x.nonUtf8).map((x) => x.subject)).toEqual(['Add café notes']);
  });

  it('reads from an exclusive cursor, and from a date', async () => {
    const after = await readAll(repo.dir, { from: shas.remove!, to: shas.square!, ...OPTS });
    expect(after.map((c) => c.sha)).toEqual([shas.tables, shas.latin1, shas.bot, shas.version, shas.oneWord, shas.revert, shas.binaryOnly, shas.square]);
    expect(await readAll(repo.dir, { from: shas.square!, to: shas.square!, ...OPTS })).toEqual([]);
    const since = await readAll(repo.dir, { from: null, to: shas.square!, since: new Date('2024-01-13T00:00:00Z'), ...OPTS });
    expect(since.map((c) => c.subject)).toEqual(['Update the logo image', 'Add Square and drop legacy_area (#42)']);
  });

  it('stops git when the caller stops early, and rejects a bad revision', async () => {
    const seen: string[] = [];
    for await (const c of readCommits(repo.dir, { from: null, to: shas.square!, ...OPTS })) {
      seen.push(c.sha);
      break;
    }
    expect(seen).toEqual([shas.initial]);
    await expect(readAll(repo.dir, { from: null, to: '0'.repeat(40), ...OPTS })).rejects.toThrow(/git log failed/);
    await expect(readAll(repo.dir, { from: null, to: '--output=x', ...OPTS })).rejects.toThrow(/not a revision/);
  });

  it('gives the same shas for the same script', () => {
    const again = buildHistory();
    expect(again.shas).toEqual(shas);
  });
});

describe('changedPaths and headSha', () => {
  it('lists what changed between two commits, renames detected', async () => {
    const { repo, shas } = buildHistory();
    expect(await headSha(repo.dir)).toBe(shas.square);
    expect(await changedPaths(repo.dir, shas.docs!, shas.tables!)).toEqual([
      { status: 'A', path: 'data/a.csv', oldPath: null },
      { status: 'A', path: 'data/b.csv', oldPath: null },
      { status: 'A', path: 'data/c.csv', oldPath: null },
      { status: 'A', path: 'data/d.csv', oldPath: null },
      { status: 'R', path: 'pkg/geometry.py', oldPath: 'pkg/shapes.py' },
      { status: 'D', path: 'pkg/legacy.py', oldPath: null },
    ]);
  });
});

describe('a type change', () => {
  it('joins the two patch sections git prints for a file that became a symlink', async () => {
    const repo = new HistoryRepo();
    repo.commit('Add a note', { 'note.txt': 'hello\n', 'target.txt': 'x\n' });
    rmSync(join(repo.dir, 'note.txt'));
    symlinkSync('target.txt', join(repo.dir, 'note.txt'));
    const sha = repo.commit('Make the note a link');
    const [, c] = await readAll(repo.dir, { from: null, to: sha, ...OPTS });
    expect(c!.files).toEqual([
      { path: 'note.txt', oldPath: null, status: 'T', additions: 1, deletions: 1, binary: false, diffRange: { start: 0, end: c!.diff.length }, diffTruncated: false },
    ]);
    expect(c!.diff).toBe(repo.patch(sha, c!.parents[0]).toString());
  });
});

describe('a damaged clone', () => {
  it('reports each commit whose blob is missing without that file\'s diff, and reads on', async () => {
    const repo = new HistoryRepo();
    const first = repo.commit('Add two files', { 'lost.txt': 'this blob will go missing\n', 'kept.txt': 'still here\n' });
    const second = repo.commit('Edit the kept file', { 'kept.txt': 'still here\nand more\n' });
    // Rename detection reads the deleted blob before git prints anything of this commit.
    const third = repo.commit('Replace the lost file', { 'lost.txt': null, 'new.txt': 'a new file\n' });
    const fourth = repo.commit('Edit the new file', { 'new.txt': 'a new file\nwith more\n' });
    const oid = repo.git('rev-parse', `${first}:lost.txt`).trim();
    rmSync(join(repo.dir, '.git', 'objects', oid.slice(0, 2), oid.slice(2)));
    const commits = await readAll(repo.dir, { from: null, to: fourth, ...OPTS });
    expect(commits.map((c) => [c.subject, c.truncated, c.unreadable])).toEqual([
      ['Add two files', true, ['lost.txt']],
      ['Edit the kept file', false, []],
      ['Replace the lost file', true, ['lost.txt']],
      ['Edit the new file', false, []],
    ]);
    expect(commits.map((c) => c.sha)).toEqual([first, second, third, fourth]);
    const files = (c: RawCommit) => c.files.map((f) => [f.path, f.status, f.additions, f.deletions, f.diffRange !== null, f.diffTruncated]);
    expect(files(commits[0]!)).toEqual([
      ['kept.txt', 'A', 1, 0, true, false],
      ['lost.txt', 'A', 0, 0, false, true],
    ]);
    expect(files(commits[1]!)).toEqual([['kept.txt', 'M', 1, 0, true, false]]);
    expect(commits[1]!.diff).toBe(repo.patch(second, first).toString());
    expect(files(commits[2]!)).toEqual([
      ['new.txt', 'A', 1, 0, true, false],
      ['lost.txt', 'D', 0, 0, false, true],
    ]);
  });
});
