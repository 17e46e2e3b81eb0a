// End to end through the real CLI: a fixture git repository → staging → corpus → JSONL export.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExportedChat, ExportedQA } from '../datasets/schemas.js';
import { Stores, SCHEMAS, type TableName } from '../datasets/store.js';
import { qaforge, qaforgeJson } from './cli.js';
import {
  BROKEN_PY,
  EDGE_PY,
  FAKE_TOKEN,
  GENERIC_PY,
  MODELS_PY,
  SECRETS_PY,
  SHAPES_LOW_VALUE,
  SHAPES_PAIRS,
  SHAPES_PY,
  bigModule,
  makeRepo,
  tempDir,
  type FixtureRepo,
} from './fixtures.js';

const LICENSE = 'MIT License\n\nCopyright (c) 2026 Acme\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n';

let repo: FixtureRepo;
let data: string;
let first: any;

const files = () => ({
  'pkg/shapes.py': SHAPES_PY,
  'pkg/edge.py': EDGE_PY,
  'pkg/generic.py': GENERIC_PY,
  'pkg/broken.py': BROKEN_PY,
  'pkg/latin1.py': Buffer.from('"""Caf\xe9 module."""\ndef f():\n    pass\n', 'latin1'),
  'pkg/blob.py': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1, 2, 3]),
  'pkg/big.py': bigModule(),
  'pkg/secrets.py': SECRETS_PY,
  'pkg/models.py': MODELS_PY,
  'README.md': '# Shapes\n',
  LICENSE,
});

async function allRows(dataDir: string): Promise<Record<TableName, Record<string, unknown>[]>> {
  const stores = await Stores.open(dataDir);
  const out = {} as Record<TableName, Record<string, unknown>[]>;
  for (const name of Object.keys(SCHEMAS) as TableName[]) {
    out[name] = [];
    for await (const rows of stores.scan(name, SCHEMAS[name].fields.map((f) => f.name))) out[name].push(...rows);
  }
  stores.close();
  return out;
}

beforeAll(async () => {
  repo = await makeRepo(files());
  data = tempDir();
  first = await qaforgeJson(['--data-dir', data, 'backfill', '--sources', 'code', '--repo', repo.dir, '--json']);
});

describe('backfill', () => {
  it('extracts the exact symbols of the fixture and records what it skipped', async () => {
    expect(first.repo).toEqual({ repo: 'acme/shapes', sha: repo.sha });
    expect(first.license).toBe('MIT');
    expect(first.files).toBe(9);
    expect(first.symbols).toEqual({ module: 7, class: 11, function: 32_017, method: 10 });
    const stats = await qaforgeJson(['--data-dir', data, 'stats', '--json']);
    expect(stats.symbols).toEqual({ module: 7, class: 11, function: 32_017, method: 10 });
    expect(stats.skipped).toEqual({ not_utf8: 1, binary: 1, syntax_error: 1 });
    const rows = await allRows(data);
    const skipped = Object.fromEntries(rows.skipped.map((r) => [r.path, r.reason]));
    expect(skipped).toEqual({ 'pkg/latin1.py': 'not_utf8', 'pkg/blob.py': 'binary', 'pkg/broken.py': 'syntax_error' });
    expect(rows.skipped.find((r) => r.path === 'pkg/broken.py')!.detail).toMatch(/^line 5, column \d+: .*; 5 symbols still extracted$/);
  });

  it('rejects every pair from a docstring holding a token, and stores the token nowhere', async () => {
    const rows = await allRows(data);
    const secretRejects = rows.rejected.filter((r) => (r.reasons as string).split(',').includes('secret'));
    // connect(): its purpose and its signature (which says what the call does) quote the docstring.
    // login(): the token is a default value, so its signature goes (it describes no parameter, so it
    // has no parameters pair).
    expect(secretRejects.map((r) => `${r.category}:${r.qualname}`).sort()).toEqual(['purpose:connect', 'signature:connect', 'signature:login']);
    expect(secretRejects.every((r) => r.path === 'pkg/secrets.py')).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(FAKE_TOKEN);
    // Nor in any file under the data dir, compressed or not.
    const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
    for (const f of walk(data)) expect(readFileSync(f).includes(FAKE_TOKEN), f).toBe(false);
    // The rest of the rejects are trivia the value score turns away (shapes.py's are counted by hand).
    const lowValue = rows.rejected.filter((r) => r.reasons === 'low_value');
    expect(lowValue.filter((r) => r.path === 'pkg/shapes.py')).toHaveLength(Object.values(SHAPES_LOW_VALUE).reduce((a, b) => a + b, 0));
    expect(first.rejected).toBe(3 + lowValue.length);
    expect(rows.rejected).toHaveLength(first.rejected);
    expect(first.nearDuplicates).toBeGreaterThanOrEqual(1);
  });

  it('promotes into the corpus with the hand-counted pairs per category for shapes.py', async () => {
    const p = await qaforgeJson(['--data-dir', data, 'promote']);
    expect(p.promoted).toBe(first.staged);
    expect(p.inserted).toBe(first.staged);
    const rows = await allRows(data);
    const counts: Record<string, number> = {};
    for (const r of rows.corpus.filter((r) => r.path === 'pkg/shapes.py')) counts[r.category as string] = (counts[r.category as string] ?? 0) + 1;
    expect(counts).toEqual(SHAPES_PAIRS);
    expect(rows.staging.every((r) => r.status === 'promoted')).toBe(true);
    // Near-duplicates are kept and clustered: the two forward() docstrings.
    const forwards = rows.corpus.filter((r) => r.category === 'purpose' && (r.qualname as string).endsWith('.forward'));
    expect(forwards).toHaveLength(2);
    expect(forwards.filter((r) => r.near_dup_cluster !== null)).toHaveLength(1);
    expect(forwards.find((r) => r.near_dup_cluster !== null)!.near_dup_cluster).toBe(forwards.find((r) => r.near_dup_cluster === null)!.id);
  });

  it('adds nothing when the same backfill runs again, and promotes nothing new', async () => {
    const again = await qaforgeJson(['--data-dir', data, 'backfill', '--sources', 'code', '--repo', repo.dir, '--json']);
    expect(again.staged).toBe(0);
    expect(again.rejected).toBe(0);
    expect(again.alreadyKnown).toBe(first.candidates);
    const before = await qaforgeJson(['--data-dir', data, 'stats', '--json']);
    expect(before.skipped).toEqual({ not_utf8: 1, binary: 1, syntax_error: 1 });
    const p = await qaforgeJson(['--data-dir', data, 'promote']);
    expect(p.promoted).toBe(0);
    const after = await qaforgeJson(['--data-dir', data, 'stats', '--json']);
    expect(after.corpus).toEqual(before.corpus);
  });

  it('exports QA and chat JSONL valid against the schema, with no file in two splits, and a dataset card', async () => {
    const stats = await qaforgeJson(['--data-dir', data, 'stats', '--json']);
    for (const format of ['qa', 'chat'] as const) {
      const out = join(tempDir('qaforge-export-'), format);
      const r = await qaforgeJson(['--data-dir', data, 'export', '--out', out, '--format', format]);
      expect(r.rows).toBe(stats.corpus.active);
      const groupSplit = new Map<string, string>();
      let lines = 0;
      // A split with no rows has no file (every fixture file lands in train).
      expect(r.files).toEqual(['train', 'validation', 'test'].filter((s) => r.bySplit[s] > 0).map((s) => `${s}.jsonl`));
      for (const split of r.files.map((f: string) => f.replace(/\.jsonl$/, ''))) {
        for (const line of readFileSync(join(out, `${split}.jsonl`), 'utf8').split('\n').filter(Boolean)) {
          lines++;
          const row = format === 'qa' ? ExportedQA.parse(JSON.parse(line)) : ExportedChat.parse(JSON.parse(line));
          expect(row.split).toBe(split);
          const path = format === 'qa' ? (row as ExportedQA).path! : (row as ExportedChat).metadata.path!;
          expect(groupSplit.get(path) ?? split, `${path} in two splits`).toBe(split);
          groupSplit.set(path, split);
        }
      }
      expect(lines).toBe(stats.corpus.active);
      const card = readFileSync(join(out, 'README.md'), 'utf8');
      expect(card).toContain('license: mit');
      expect(card).toContain(`commit(s): ${repo.sha}`);
      expect(card).toContain('code-rules@2.0.0');
      expect(card).toContain(`- rows: ${stats.corpus.active}`);
    }
  });

  it('keeps pairs of moved symbols, retires pairs whose evidence changed at a new commit, exports an older version, and retires a pair', async () => {
    const v1 = (await qaforgeJson(['--data-dir', data, 'stats', '--json'])).corpus;
    // Two comment lines on top move every symbol of shapes.py: only provenance lines change.
    // Rewording docstring text below two summaries changes those contexts but not the answers drawn
    // from them: the module purpose, Circle's purpose and Circle's methods get new contexts.
    const shifted = `# comment one\n# comment two\n${SHAPES_PY}`
      .replace('Used by the fixture tests.', 'Used by the fixture tests and nothing else.')
      .replace('Radius of the circle, in units.', 'Radius of the circle, in metres.');
    await repo.commit({ 'pkg/shapes.py': shifted }, 'shift shapes');
    const second = await qaforgeJson(['--data-dir', data, 'backfill', '--sources', 'code', '--repo', repo.dir, '--json']);
    expect(second.repo.sha).toBe(repo.sha);
    // The old pairs are retired with the commit; the same question and answer from the new context is
    // the successor, not a duplicate of the pair it replaces.
    const changed = 3;
    expect(second.staged).toBe(changed);
    expect(second.rejected).toBe(0);
    expect(second.retired).toBe(changed);
    expect(second.alreadyKnown).toBe(first.candidates - changed);
    const rows = await allRows(data);
    const retiredNow = rows.corpus.filter((r) => r.status === 'retired');
    expect(retiredNow).toHaveLength(changed);
    expect(new Set(retiredNow.map((r) => r.retired_commit))).toEqual(new Set([repo.sha]));
    expect(retiredNow.filter((r) => r.category !== 'location').map((r) => `${r.category}:${r.qualname}`).sort()).toEqual(['methods:Circle', 'module_purpose:pkg.shapes', 'purpose:Circle']);
    // An untouched symbol of the changed file keeps its pair id, now with its new lines.
    const area = rows.staging.find((r) => r.category === 'purpose' && r.qualname === 'Shape.area')!;
    expect(area.start_line).toBe(rows.corpus.find((r) => r.id === area.id)!.start_line as number + 2);
    await qaforgeJson(['--data-dir', data, 'promote']);
    const old = await qaforgeJson(['--data-dir', data, 'export', '--out', join(tempDir('qaforge-export-'), 'v1'), '--version', String(v1.version)]);
    expect(old.rows).toBe(v1.active);

    const now = await allRows(data);
    expect(now.corpus.find((r) => r.id === area.id)!.start_line).toBe(area.start_line);
    const target = now.corpus.find((r) => r.category === 'purpose' && r.qualname === 'Circle' && r.status === 'active')!;
    const retired = await qaforge(['--data-dir', data, 'retire', target.id as string, '--reason', 'wrong answer']);
    expect(retired.code).toBe(0);
    const shown = await qaforgeJson(['--data-dir', data, 'show', target.id as string]);
    expect(shown.map((s: any) => `${s.where}:${s.status}`).sort()).toEqual(['corpus:retired', 'staging:retired']);
    // A backfill of an older revision adds what is new to it and retires nothing.
    const third = await qaforgeJson(['--data-dir', data, 'backfill', '--sources', 'code', '--repo', repo.dir, '--rev', 'HEAD~1', '--json']);
    expect(third.staged).toBe(0);
    expect(third.retired).toBe(0);
    const exported = await qaforgeJson(['--data-dir', data, 'export', '--out', join(tempDir('qaforge-export-'), 'now')]);
    const ids = exported.files.flatMap((f: string) => readFileSync(join(exported.out, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).id));
    expect(ids).not.toContain(target.id);
    expect(ids).toHaveLength(v1.active - 1);
  });

  it('samples pairs by category', async () => {
    const pairs = await qaforgeJson(['--data-dir', data, 'sample', '--n', '5', '--category', 'raises', '--json']);
    expect(pairs.length).toBeGreaterThanOrEqual(1);
    expect(pairs.every((p: any) => p.category === 'raises')).toBe(true);
  });
});

describe('limits and errors', () => {
  it('skips a file over --max-file-bytes with its reason', async () => {
    const d = tempDir();
    const r = await qaforgeJson(['--data-dir', d, 'backfill', '--sources', 'code', '--repo', repo.dir, '--max-file-bytes', '1000000', '--include', 'pkg/big.py', '--include', 'pkg/shapes.py', '--json']);
    expect(r.files).toBe(1);
    const stats = await qaforgeJson(['--data-dir', d, 'stats', '--json']);
    expect(stats.skipped).toEqual({ too_large: 1 });
  });

  it('says in one line what is wrong, with a non-zero exit', async () => {
    const d = tempDir();
    const cases: [string[], RegExp][] = [
      [['--data-dir', d, 'backfill', '--sources', 'code', '--repo', join(d, 'nope')], /^qaforge: repository not found: .*nope/],
      [['--data-dir', d, 'backfill', '--sources', 'code', '--repo', d], /^qaforge: not a git repository: /],
      [['--data-dir', d, 'backfill', '--sources', 'code', '--repo', repo.dir, '--rev', 'no-such-branch'], /^qaforge: revision not found in .*: no-such-branch/],
      [['--data-dir', d, 'backfill', '--sources', 'code', '--repo', 'http://127.0.0.1:9/acme/shapes.git'], /^qaforge: cannot clone http:\/\/127\.0\.0\.1:9\/acme\/shapes\.git: the network is unreachable.*--repo <path>/],
      [['--data-dir', d, 'backfill', '--sources', 'code', '--repo', repo.dir, '--workers', '0'], /--workers must be a positive integer/],
      [['--data-dir', d, 'export', '--out', join(d, 'x'), '--version', '99'], /^qaforge: corpus version 99 does not exist/],
      [['--data-dir', d, 'show', 'xyz'], /^qaforge: not a pair id: xyz/],
    ];
    for (const [args, re] of cases) {
      const r = await qaforge(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('{')).join('\n'), args.join(' ')).toMatch(re);
    }
    const file = join(d, 'a-file');
    writeFileSync(file, 'x');
    const r = await qaforge(['--data-dir', join(file, 'sub'), 'stats']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^qaforge: data dir .* is not writable: ENOTDIR/);
  });

  it('clones a git URL blobless and backfills it', async () => {
    const d = tempDir();
    const r = await qaforgeJson(['--data-dir', d, 'backfill', '--sources', 'code', '--repo', `file://${repo.dir}`, '--include', 'pkg/shapes.py', '--json']);
    expect(r.repo.sha).toBe(repo.sha);
    expect(r.symbols).toEqual({ module: 1, class: 3, function: 6, method: 5 });
    const clone = r.repo.path ?? join(d, 'repos', readdirSync(join(d, 'repos'))[0]!);
    const partial = () => execFileSync('git', ['config', '--get', 'remote.origin.partialclonefilter'], { cwd: clone, encoding: 'utf8' }).trim();
    expect(partial()).toBe('blob:none');
    // Commit history asked for: the blobless clone gets its blobs, in one fetch, and stops being partial.
    const h = await qaforgeJson(['--data-dir', d, 'backfill', '--sources', 'commits', '--repo', `file://${repo.dir}`, '--json']);
    const commits = Number(execFileSync('git', ['rev-list', '--count', '--first-parent', 'HEAD'], { cwd: repo.dir, encoding: 'utf8' }));
    expect(h.sources[0]).toMatchObject({ source: 'commits', units: commits });
    expect(partial).toThrow();
  });
});

describe('config', () => {
  it('layers file < env < flags and masks secrets', async () => {
    const cwd = tempDir('qaforge-cwd-');
    writeFileSync(join(cwd, 'qaforge.config.json'), JSON.stringify({ dataDir: 'from-file', workers: 1, maxFileBytes: 1234, include: ['src/**/*.py'] }));
    const token = 'ghp_' + 'Z'.repeat(36);
    const r = await qaforge(['--data-dir', 'from-flag', 'config'], { cwd, env: { QAFORGE_WORKERS: '2', GITHUB_TOKEN: token } });
    expect(r.code).toBe(0);
    const cfg = JSON.parse(r.stdout);
    expect(cfg).toMatchObject({ dataDir: 'from-flag', workers: 2, maxFileBytes: 1234, include: ['src/**/*.py'], githubToken: '****(set)', hfToken: '(unset)' });
    expect(r.stdout + r.stderr).not.toContain(token);
    writeFileSync(join(cwd, 'qaforge.config.json'), JSON.stringify({ workers: 'many' }));
    const bad = await qaforge(['config'], { cwd, env: { QAFORGE_WORKERS: '' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^qaforge: invalid configuration at workers: /);
  });
});
