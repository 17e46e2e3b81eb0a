// Incremental ingestion through the real CLI on a repository the test changes commit by commit:
// changed code and docs are re-read, their vanished evidence retired, untouched evidence keeps its
// pair ids; new commits become commit pairs whose provenance resolves in git; a crash at any point
// followed by a re-run ends exactly where an uninterrupted run does.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { pairFromRow, Stores, SCHEMAS, type TableName } from '../datasets/store.js';
import { checkProvenance } from '../evals/verify.js';
import { qaforge, qaforgeJson } from './cli.js';
import { makeRepo, tempDir, type FixtureRepo } from './fixtures.js';

const OPS_PY = `"""Arithmetic helpers for the ingest tests."""


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first integer.
        b: The second integer.

    Returns:
        The sum of a and b.
    """
    return a + b


def scale(x: float, factor: float = 2.0) -> float:
    """Scale a value by a constant factor.

    Returns:
        The scaled value.
    """
    return x * factor
`;

const STABLE_PY = `class Registry:
    """Keeps every registered plugin by name."""

    def register(self, name: str) -> None:
        """Register a plugin under its name."""
`;

const LEGACY_PY = `def legacy_entry(path: str) -> str:
    """Open the legacy configuration file and return its contents."""
    return open(path).read()
`;

const GUIDE_MD = `# Guide

## Install

Install the package with pip before you import anything from it.

\`\`\`bash
pip install shapes
shapes --version
\`\`\`

## Usage

Call add with two integers to get their sum back as an integer.

## Old feature

This section explains a feature that the next release removes entirely.
`;

const INTRO_MD = `# Introduction

The shapes package computes areas and perimeters of plane figures quickly.
`;

const LICENSE = 'MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n';

type Rows = Record<TableName, Record<string, unknown>[]>;

async function allRows(dataDir: string): Promise<Rows> {
  const stores = await Stores.open(dataDir);
  const out = {} as Rows;
  for (const name of Object.keys(SCHEMAS) as TableName[]) {
    out[name] = [];
    for await (const rows of stores.scan(name, SCHEMAS[name].fields.map((f) => f.name))) out[name].push(...rows);
  }
  stores.close();
  return out;
}

const live = (rows: Rows, kind?: string) => rows.staging.filter((r) => r.status !== 'retired' && (!kind || r.source_kind === kind));
const code = (rows: Rows) => live(rows, 'code_symbol');
const docs = (rows: Rows) => live(rows, 'doc_section');
const SOURCES = ['--sources', 'code,docs,commits'];

let repo: FixtureRepo;
let data: string;
let before: Rows;
let shas: { base: string; edit: string; big: string };
let ingest: any;
let after: Rows;

beforeAll(async () => {
  repo = await makeRepo({ 'pkg/ops.py': OPS_PY, 'pkg/stable.py': STABLE_PY, 'pkg/legacy.py': LEGACY_PY, 'docs/guide.md': GUIDE_MD, 'docs/intro.md': INTRO_MD, LICENSE });
  data = tempDir();
  const base = repo.sha;
  await qaforgeJson(['--data-dir', data, 'backfill', '--repo', repo.dir, ...SOURCES, '--json']);
  await qaforgeJson(['--data-dir', data, 'promote']);
  before = await allRows(data);

  const ops = OPS_PY.replace('"""Add two integers.', '"""Return the sum of two integers.').replace(/\n\ndef scale[\s\S]*$/, '\n') +
    '\n\ndef mul(a: int, b: int) -> int:\n    """Multiply two integers."""\n    return a * b\n';
  const guide = GUIDE_MD.replace('to get their sum back as an integer', 'to get their exact sum back').replace(/\n## Old feature[\s\S]*$/, '\n');
  const edit = await repo.commit(
    { 'pkg/ops.py': ops, 'docs/guide.md': guide },
    'Describe add precisely and drop scale (#12)\n\nThe old summary of add was ambiguous about overflow, so it now says it returns the sum.\nscale had no callers left after the geometry rewrite.',
    { rename: { 'pkg/legacy.py': 'pkg/compat/legacy.py', 'docs/intro.md': 'docs/overview.md' } },
  );
  // A commit whose diff is far over the cap, and one whose diff is not UTF-8.
  const big = await repo.commit({ 'data/table.csv': Array.from({ length: 20000 }, (_, i) => `row ${i},${i * 7},value number ${i}`).join('\n') }, 'Add the reference table used by the area checks');
  await repo.commit({ 'notes/cafe.txt': Buffer.from('Caf\xe9 cr\xe8me notes for the latin-1 test\n', 'latin1') }, 'Add latin-1 encoded notes for the encoding checks');
  shas = { base, edit, big };
  ingest = await qaforgeJson(['--data-dir', data, 'ingest', '--repo', repo.dir, ...SOURCES, '--json']);
  after = await allRows(data);
  if (process.env.QAFORGE_TEST_KEEP) console.log(`data dir: ${data}`);
});

const outcome = (r: any, source: string) => r.sources.find((o: any) => o.source === source);

describe('ingest after a backfill', () => {
  it('re-reads only the changed files, from the cursor to HEAD', () => {
    expect(outcome(ingest, 'code')).toMatchObject({ from: shas.base, to: repo.sha, units: 2 }); // ops.py, compat/legacy.py
    expect(outcome(ingest, 'docs')).toMatchObject({ from: shas.base, to: repo.sha, units: 2 }); // guide.md, overview.md
    expect(outcome(ingest, 'commits')).toMatchObject({ from: shas.base, to: repo.sha, units: 3 });
  });

  it('retires the pairs of a changed docstring and a deleted function, with the commit, and stages their successors', () => {
    const retired = after.corpus.filter((r) => r.status === 'retired' && r.path === 'pkg/ops.py');
    expect(retired.every((r) => r.retired_commit === repo.sha && r.retired_reason === `evidence changed in ${repo.sha.slice(0, 12)}`)).toBe(true);
    // add's docstring is the context of its purpose, parameter, return and signature pairs (a
    // documented signature says what the call does). Every pair of the deleted scale goes (it
    // describes no parameter, so it had no parameters pair). Every pair of the deleted scale goes.
    expect(retired.map((r) => `${r.qualname}:${r.category}`).sort()).toEqual(
      ['add:parameters', 'add:purpose', 'add:returns', 'add:signature', 'scale:purpose', 'scale:returns', 'scale:signature'],
    );
    const wasLive = code(before).filter((r) => r.path === 'pkg/ops.py');
    const stillLive = new Set(code(after).map((r) => r.id));
    expect(retired.map((r) => r.id).sort()).toEqual(wasLive.filter((r) => !stillLive.has(r.id)).map((r) => r.id).sort());
    const now = code(after).filter((r) => r.path === 'pkg/ops.py');
    expect(now.find((r) => r.qualname === 'add' && r.category === 'purpose')!.answer).toContain('Return the sum of two integers.');
    // mul's return is a bare `int` annotation: rejected as low value, not staged.
    expect(now.filter((r) => r.qualname === 'mul').map((r) => r.category).sort()).toEqual(['purpose', 'signature']);
    expect(now.some((r) => r.qualname === 'scale')).toBe(false);
  });

  it('keeps the pair ids of untouched files and of unchanged evidence in changed files', () => {
    const ids = (rows: Rows, path: string) => code(rows).filter((r) => r.path === path).map((r) => r.id).sort();
    expect(ids(after, 'pkg/stable.py')).toEqual(ids(before, 'pkg/stable.py'));
    // Registry: purpose (its one-method listing is low value); register: purpose, signature (its
    // parameter is not described).
    expect(ids(after, 'pkg/stable.py')).toHaveLength(3);
    // The module's docstring did not change: its purpose pair is the same pair, verified at the new
    // commit, and back to validated so the next promotion refreshes its corpus row.
    const sig = before.staging.find((r) => r.path === 'pkg/ops.py' && r.category === 'module_purpose')!;
    const sigNow = after.staging.find((r) => r.id === sig.id)!;
    expect(sigNow).toMatchObject({ status: 'validated', commit_first_seen: shas.base, commit_last_verified: repo.sha });
    expect(after.staging.filter((r) => r.id === sig.id)).toHaveLength(1);
  });

  it('retires the pairs of a renamed file with the new name in the reason, and reads it at its new path', () => {
    const old = after.corpus.filter((r) => r.path === 'pkg/legacy.py' && r.source_kind === 'code_symbol');
    // legacy_entry's `str` return says nothing its docstring does not, and its parameter is not
    // described: no returns or parameters pair.
    expect(old.map((r) => r.category).sort()).toEqual(['purpose', 'signature']);
    expect(old.every((r) => r.status === 'retired' && r.retired_reason === `renamed to pkg/compat/legacy.py in ${repo.sha.slice(0, 12)}`)).toBe(true);
    expect(code(after).filter((r) => r.path === 'pkg/compat/legacy.py').map((r) => r.category).sort()).toEqual(['purpose', 'signature']);
  });

  it('retires the sections of a doc that were edited or deleted and keeps the untouched one', () => {
    const guide = (rows: Rows) => docs(rows).filter((r) => r.path === 'docs/guide.md');
    const install = guide(before).filter((r) => r.qualname === 'Guide > Install');
    expect(install.map((r) => r.category).sort()).toEqual(['doc_example', 'doc_section']);
    expect(guide(after).filter((r) => r.qualname === 'Guide > Install').map((r) => r.id).sort()).toEqual(install.map((r) => r.id).sort());
    const gone = after.corpus.filter((r) => r.path === 'docs/guide.md' && r.source_kind === 'doc_section' && r.status === 'retired');
    expect(gone.map((r) => r.qualname).sort()).toEqual(['Guide > Old feature', 'Guide > Usage']);
    expect(guide(after).map((r) => r.qualname).sort()).toEqual(['Guide > Install', 'Guide > Install', 'Guide > Usage']);
    expect(guide(after).find((r) => r.qualname === 'Guide > Usage')!.answer).toContain('to get their exact sum back');
  });

  it('follows a renamed doc to its new path', () => {
    expect(docs(after).filter((r) => r.path === 'docs/intro.md')).toHaveLength(0);
    expect(after.corpus.find((r) => r.path === 'docs/intro.md' && r.source_kind === 'doc_section')!.retired_reason).toBe(`renamed to docs/overview.md in ${repo.sha.slice(0, 12)}`);
    expect(docs(after).filter((r) => r.path === 'docs/overview.md').map((r) => r.qualname)).toEqual(['Introduction']);
  });

  it('turns new commits into pairs whose provenance resolves in git', () => {
    const commitPairs = live(after, 'commit').filter((r) => r.commit_first_seen === shas.edit);
    expect(commitPairs.map((r) => `${r.category}:${r.path ?? ''}`).sort()).toEqual([
      'commit_change:docs/guide.md',
      'commit_change:pkg/ops.py',
      'commit_files:',
      'commit_why:',
      'symbol_history:pkg/ops.py',
      'symbol_history:pkg/ops.py',
    ]);
    expect(commitPairs.find((r) => r.category === 'commit_why')!.answer).toBe(
      'The old summary of add was ambiguous about overflow, so it now says it returns the sum.\nscale had no callers left after the geometry rewrite.',
    );
    // Every diff line a pair's context quotes is in `git show` of its commit, at its path.
    for (const p of commitPairs) {
      const show = execFileSync('git', ['show', '--format=%B', '-M', p.commit_first_seen as string, '--', ...(p.path ? [p.path as string] : [])], { cwd: repo.dir, encoding: 'utf8' });
      const lines = (p.context as string).split('\n').filter((l) => /^[+-](?![+-]{2} )/.test(l));
      if (p.category === 'commit_change') expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(show.split('\n')).toContain(l);
    }
  });

  it('verifies that every live pair resolves in git, and says why a pair that does not, does not', async () => {
    const r = await qaforgeJson(['--data-dir', data, 'verify', '--repo', repo.dir, '--n', '1000', '--json']);
    expect(r.failures).toEqual([]);
    expect(r.checked).toBe(live(after).length);
    // Each check is recorded (the dashboard's provenance rate reads them): one row per live pair, all resolved.
    const checks = (await allRows(data)).provenance_checks;
    expect(checks.map((c) => c.id).sort()).toEqual(live(after).map((x) => x.id).sort());
    expect(checks.every((c) => c.resolved === true && c.reason === null)).toBe(true);
    const sig = pairFromRow(after.staging.find((x) => x.qualname === 'add' && x.category === 'purpose' && x.status !== 'retired')!);
    expect(await checkProvenance(repo.dir, sig)).toBeNull();
    const moved = { ...sig, provenance: { ...sig.provenance, startLine: sig.provenance.startLine! + 8, endLine: sig.provenance.endLine! + 8 } };
    expect(await checkProvenance(repo.dir, moved)).toMatch(/^not in pkg\/ops\.py:|past the end/);
  });

  it('records the cut of a huge diff and the lossy decoding of a non-UTF-8 one', () => {
    const skips = after.skipped.map((s) => `${s.reason}:${s.path}`);
    expect(skips).toContain(`diff_truncated:commit:${shas.big}`);
    expect(skips).toContain(`not_utf8:commit:${repo.sha}`);
  });

  it('does nothing on a second ingest with nothing new', async () => {
    const again = await qaforgeJson(['--data-dir', data, 'ingest', '--repo', repo.dir, ...SOURCES, '--json']);
    expect(again.staged).toBe(0);
    expect(again.retired).toBe(0);
    expect(again.candidates).toBe(0);
    expect(again.sources.map((o: any) => o.units)).toEqual([0, 0, 0]);
    const stats = await qaforgeJson(['--data-dir', data, 'stats', '--json']);
    expect(stats.cursors).toMatchObject({ [`code:acme/shapes`]: repo.sha, [`docs:acme/shapes`]: repo.sha, [`commits:acme/shapes`]: repo.sha });
    expect(Object.keys(stats.pairsByKind).sort()).toEqual(['code_symbol', 'commit', 'doc_section']);
  });
});

describe('crash and re-run', () => {
  // Each failpoint kills the process at one step; the re-run must end where an uninterrupted run ends.
  const failpoints = ['commits.before-cursor', 'reconcile.after-flush', 'reconcile.before-cursor'];

  it.each(failpoints)('loses and duplicates nothing when killed at %s', async (fp) => {
    const d = tempDir();
    const fresh = await makeRepo({ 'pkg/ops.py': OPS_PY, 'docs/guide.md': GUIDE_MD });
    await qaforgeJson(['--data-dir', d, 'backfill', '--repo', fresh.dir, ...SOURCES, '--json']);
    await fresh.commit({ 'pkg/ops.py': OPS_PY.replace('constant factor', 'given factor'), 'docs/guide.md': GUIDE_MD.replace('removes entirely', 'drops') }, 'Reword scale and the old feature section');
    const crashed = await qaforge(['--data-dir', d, 'ingest', '--repo', fresh.dir, ...SOURCES], { env: { QAFORGE_FAILPOINT: fp } });
    expect(crashed.code).not.toBe(0);
    expect(crashed.stderr).toContain(`failpoint ${fp}`);
    await qaforgeJson(['--data-dir', d, 'ingest', '--repo', fresh.dir, ...SOURCES, '--json']);
    // The reference: the same two steps without a crash.
    const ref = tempDir();
    await qaforgeJson(['--data-dir', ref, 'backfill', '--repo', fresh.dir, '--rev', 'HEAD~1', ...SOURCES, '--json']);
    await qaforgeJson(['--data-dir', ref, 'ingest', '--repo', fresh.dir, ...SOURCES, '--json']);
    const [got, want] = [await allRows(d), await allRows(ref)];
    const state = (rows: Rows) => rows.staging.map((r) => `${r.id}:${r.status === 'retired' ? 'retired' : 'live'}`).sort();
    expect(state(got)).toEqual(state(want));
    expect(new Set(got.staging.map((r) => r.id)).size).toBe(got.staging.length);
    expect(got.sources.map((r) => r.id).sort()).toEqual(want.sources.map((r) => r.id).sort());
  });
});

describe('demo', () => {
  it('backfills every source, promotes, exports, and says in one line that GitHub is unreachable', async () => {
    const d = tempDir();
    const fresh = await makeRepo({ 'pkg/ops.py': OPS_PY, 'docs/guide.md': GUIDE_MD, LICENSE });
    await fresh.commit({ 'pkg/ops.py': OPS_PY.replace('constant factor', 'given factor') }, 'Say that scale takes the factor it is given\n\nThe old wording suggested the factor was fixed, which confused callers.');
    // A port nothing listens on: the connection is refused.
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    const api = `http://127.0.0.1:${port}`;
    const r = await qaforge(['--data-dir', d, 'demo', '--repo', fresh.dir, '--github-api-url', api], { env: { QAFORGE_LOG_LEVEL: 'warn' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`PRs and issues skipped: GitHub API ${api} unreachable`);
    expect(r.stdout).toMatch(/^ {2}code {5}start → [0-9a-f]{12}: 1 read/m);
    expect(r.stdout).toMatch(/^ {2}docs {5}start → [0-9a-f]{12}: 1 read/m);
    expect(r.stdout).toMatch(/^ {2}commits {2}start → [0-9a-f]{12}: 2 read/m);
    expect(r.stdout).toMatch(/Q: .*"Say that scale takes the factor it is given".*\?\n {2}A: The old wording suggested the factor was fixed, which confused callers\./);
    const stats = await qaforgeJson(['--data-dir', d, 'stats', '--json']);
    expect(stats.skipped).toEqual({ api_error: 1 });
    expect(Object.keys(stats.corpus.byCategory)).toEqual(expect.arrayContaining(['purpose', 'commit_why', 'doc_section']));
  });
});
