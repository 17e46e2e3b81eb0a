// Dataset versions through the real CLI on a repository the test changes: two promotions (the second
// adds pairs, and retires some through an ingest of a changed file and one by hand), then versions,
// diff, tag, export of a tagged and of a rolled-back version, and a rollback that is a new version
// whose corpus, indexes and staging agree with the version it restored; a second identical rollback
// makes nothing new.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Schema } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { promoteStaged } from '../datasets/promote.js';
import { searchCorpus } from '../datasets/search.js';
import { SCHEMAS, Stores } from '../datasets/store.js';
import { lastAcceptedVersion, rollbackTo, setVersionEval, VERSIONED_TABLES } from '../datasets/versions.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { openEmbedder } from '../lib/models/index.js';
import { qaforge, qaforgeJson } from './cli.js';
import { makeRepo, SHAPES_PAIRS, SHAPES_PY, tempDir, type FixtureRepo } from './fixtures.js';

const GUIDE_MD = '# Guide\n\n## Install\n\nInstall the package with pip before you import anything from it.\n\n```bash\npip install shapes\n```\n';
const CONFIGURE_MD = '\n## Configure\n\nSet the scale factor in the configuration file before you run anything.\n';
// Two comment lines move every symbol (only their lines change); rewording text below two summaries
// changes the contexts of the module's purpose, Circle's purpose and Circle's methods (as in the backfill test).
const SHIFTED_PY = `# comment one\n# comment two\n${SHAPES_PY}`
  .replace('Used by the fixture tests.', 'Used by the fixture tests and nothing else.')
  .replace('Radius of the circle, in units.', 'Radius of the circle, in metres.');
const SHAPES_TOTAL = Object.values(SHAPES_PAIRS).reduce((a, b) => a + b, 0); // 22
const REASON = 'retrieval recall@5 fell';

type Row = Record<string, unknown>;

let repo: FixtureRepo;
let data: string;
const cli = (...args: string[]) => qaforge(['--data-dir', data, ...args]);
const cliJson = (...args: string[]) => qaforgeJson(['--data-dir', data, ...args]);

async function withStores<T>(fn: (s: Stores) => Promise<T>): Promise<T> {
  const s = await Stores.open(data);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

/** Every corpus row as it was at a LanceDB version (or the latest). */
const corpusRows = (version?: number) =>
  withStores(async (s) => {
    const t = await s.db.openTable('corpus');
    if (version !== undefined) await t.checkout(version);
    const rows = (await t.query().select(['id', 'status', 'category', 'source_kind', 'question', 'qualname']).toArray()).map((r: { toJSON(): Row }) => r.toJSON());
    t.close();
    return rows;
  });
const activeIds = (rows: Row[]) => new Set(rows.filter((r) => r.status === 'active').map((r) => r.id as string));

const tableVersionsNow = () =>
  withStores(async (s) => {
    const existing = new Set(await s.db.tableNames());
    const out: Record<string, number> = {};
    for (const name of VERSIONED_TABLES) if (existing.has(name)) out[name] = await (await s.table(name)).version();
    return out;
  });

const stagingCounts = () =>
  withStores(async (s) => {
    const out: Record<string, number> = {};
    for (const st of ['pending', 'validated', 'promoted', 'retired']) out[st] = await s.count('staging', `status = '${st}'`);
    return out;
  });

/** The ids of an export, all splits. */
const exportedIds = (out: string) =>
  new Set(['train', 'validation', 'test'].flatMap((s) => { try { return readFileSync(join(out, `${s}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).id as string); } catch { return []; } }));

/** What `diff` should say for one side: groups by (source kind, category), questions of the 3 smallest ids. */
function expectedGroups(rows: Row[]) {
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(`${r.source_kind}/${r.category}`, [...(groups.get(`${r.source_kind}/${r.category}`) ?? []), r]);
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, rs]) => ({
      sourceKind: rs[0]!.source_kind,
      category: rs[0]!.category,
      count: rs.length,
      samples: rs
        .sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : 1))
        .slice(0, 3)
        .map((r) => ({ id: r.id, question: r.question })),
    }));
}

let v1: number;
let v2: number;
let v3: number;
let tables1: Record<string, number>;
let tables2: Record<string, number>;
let rows1: Row[];
let rows2: Row[];
let areaId: string;

beforeAll(async () => {
  repo = await makeRepo({ 'pkg/shapes.py': SHAPES_PY, 'docs/guide.md': GUIDE_MD });
  data = tempDir();
  await cliJson('backfill', '--sources', 'code,docs', '--repo', repo.dir, '--json');
  v1 = (await cliJson('promote')).version;
  tables1 = await tableVersionsNow();
  rows1 = await corpusRows();
  await repo.commit({ 'pkg/shapes.py': SHIFTED_PY, 'docs/guide.md': GUIDE_MD + CONFIGURE_MD }, 'shift shapes, add a section');
  const ingest = await cliJson('ingest', '--sources', 'code,docs', '--repo', repo.dir, '--json');
  // The changed file: the module's purpose, Circle's purpose and methods; the new section.
  expect([ingest.staged, ingest.retired]).toEqual([4, 3]);
  // Shape.area's purpose did not change: retired by hand.
  areaId = rows1.find((r) => r.category === 'purpose' && r.qualname === 'Shape.area')!.id as string;
  expect((await cli('retire', areaId, '--reason', 'answer too vague')).code).toBe(0);
  const p2 = await cliJson('promote');
  v2 = p2.version;
  tables2 = await tableVersionsNow();
  rows2 = await corpusRows();
});

describe('dataset versions', () => {
  it('lists both promotions with exact counts and every table version', async () => {
    expect(rows1.filter((r) => r.status === 'active')).toHaveLength(SHAPES_TOTAL + 1);
    expect(v2).toBeGreaterThan(v1);
    expect(tables1.corpus).toBe(v1);
    expect(tables2.corpus).toBe(v2);
    expect(Object.keys(tables1).sort()).toEqual(['corpus', 'rejected', 'runs', 'skipped', 'sources', 'staging', 'state']);
    const vs = await cliJson('versions', '--json');
    const common = { kind: 'promotion', reason: null, rolledBackTo: null, evalSummary: null, tags: [], undoneBy: null, detail: null, runId: 'promote' };
    expect(vs).toEqual([
      { ...common, version: v1, at: expect.any(String), inserted: 23, updated: 0, retired: 0, active: 23, tables: tables1 },
      // 4 new pairs; the 18 code pairs produced again at the new commit (all but Shape.area's purpose,
      // retired by hand) and the Install section are refreshed; 3 retired by the ingest and 1 by hand.
      { ...common, version: v2, at: expect.any(String), inserted: 4, updated: 19, retired: 4, active: 23, tables: tables2 },
    ]);
    expect(Date.parse(vs[1].at)).toBeGreaterThan(Date.parse(vs[0].at));
    const text = (await cli('versions')).stdout.split('\n');
    expect(text[0]).toMatch(/^version\s+time\s+kind\s+added\s+retired\s+active\s+eval\s+tags\s+reason$/);
    expect(text[1]).toMatch(new RegExp(`^${v1}\\s+\\S+Z\\s+promotion\\s+\\+23\\s+-0\\s+23\\s+-\\s+-$`));
    expect(text[2]).toMatch(new RegExp(`^${v2}\\s+\\S+Z\\s+promotion\\s+\\+4\\s+-4\\s+23\\s+-\\s+-$`));
  });

  it('diffs two versions by source kind and category, with sample questions', async () => {
    const d = await cliJson('diff', String(v1), String(v2), '--json');
    const a = activeIds(rows1);
    const b = activeIds(rows2);
    const added = rows2.filter((r) => b.has(r.id as string) && !a.has(r.id as string));
    const retired = rows1.filter((r) => a.has(r.id as string) && !b.has(r.id as string));
    expect(d).toEqual({ from: v1, to: v2, added: { total: 4, groups: expectedGroups(added) }, retired: { total: 4, groups: expectedGroups(retired) } });
    const counts = (g: { sourceKind: string; category: string; count: number }[]) => g.map((x) => `${x.sourceKind}/${x.category}=${x.count}`);
    expect(counts(d.added.groups)).toEqual(['code_symbol/methods=1', 'code_symbol/module_purpose=1', 'code_symbol/purpose=1', 'doc_section/doc_section=1']);
    expect(counts(d.retired.groups)).toEqual(['code_symbol/methods=1', 'code_symbol/module_purpose=1', 'code_symbol/purpose=2']);
    expect(d.added.groups.at(-1).samples.map((s: { question: string }) => s.question)).toEqual(['What should I know about "Configure" from the "Guide" page (`docs/guide.md`)?']);
    expect(d.retired.groups.at(-1).samples.map((s: { id: string }) => s.id)).toContain(areaId);
    const one = await cliJson('diff', String(v1), String(v2), '--json', '--samples', '1');
    expect(one.added.groups.map((g: { samples: unknown[] }) => g.samples.length)).toEqual([1, 1, 1, 1]);
    const none = await cliJson('diff', String(v2), String(v2), '--json');
    expect(none).toEqual({ from: v2, to: v2, added: { total: 0, groups: [] }, retired: { total: 0, groups: [] } });
    const bad = await cli('diff', String(v1), '99999');
    expect([bad.code, bad.stderr]).toEqual([1, `qaforge: no dataset version 99999 (versions ${v1}, ${v2}; \`qaforge versions\` lists them)\n`]);
  });

  it('tags a version; export --version <tag> gives that version\'s exact rows', async () => {
    expect(await cliJson('tag', String(v1), 'first')).toEqual({ tag: 'first', version: v1 });
    const again = await cli('tag', String(v2), 'first');
    expect([again.code, again.stderr]).toEqual([1, `qaforge: tag first already names version ${v1}\n`]);
    const badName = await cli('tag', String(v2), 'no spaces');
    expect([badName.code, badName.stderr]).toEqual([1, `qaforge: bad tag name "no spaces": use letters, digits, '.', '_' and '-'\n`]);
    const numeric = await cli('tag', String(v2), '12');
    expect([numeric.code, numeric.stderr]).toEqual([1, 'qaforge: bad tag name 12: a tag must not be a number, which reads as a version\n']);
    const unknown = await cli('export', '--out', join(tempDir('qaforge-export-'), 'x'), '--version', 'nope');
    expect([unknown.code, unknown.stderr]).toEqual([1, `qaforge: no version or tag named "nope" (versions ${v1}, ${v2}; \`qaforge versions\` lists them)\n`]);
    const out = join(tempDir('qaforge-export-'), 'first');
    const r = await cliJson('export', '--out', out, '--version', 'first');
    expect([r.version, r.rows]).toEqual([v1, 23]);
    expect(exportedIds(out)).toEqual(activeIds(rows1));
    // diff takes tags too.
    expect((await cliJson('diff', 'first', String(v2), '--json')).from).toBe(v1);
  });

  it('rolls back to the first version as a new version: corpus, indexes and staging agree with it', async () => {
    expect(await stagingCounts()).toEqual({ pending: 0, validated: 0, promoted: 23, retired: 4 });
    const r = await cliJson('rollback', '--to', 'first', '--reason', REASON);
    v3 = r.version;
    const latest = await withStores(async (s) => (await s.table('corpus')).version());
    expect(v3).toBe(latest);
    expect(v3).toBeGreaterThan(v2);
    expect(r).toEqual({
      version: v3,
      restoredFrom: v1,
      reason: REASON,
      reverted: 4, // the pairs v2 added
      reactivated: 4, // the pairs retired since v1
      active: 23,
      staging: { toValidated: 4, toPromoted: 4, toRetired: 0 },
      indexes: { fts: 'kept', vector: 'none' },
      created: true,
    });
    const rows3 = await corpusRows();
    expect(activeIds(rows3)).toEqual(activeIds(rows1));
    expect(rows3).toHaveLength(rows1.length);
    // The 4 pairs v2 added wait in staging again; the 4 retired since are promoted again.
    expect(await stagingCounts()).toEqual({ pending: 0, validated: 4, promoted: 23, retired: 0 });

    await withStores(async (s) => {
      const fts = await searchCorpus(s, null, 'area of the shape', { k: 10, mode: 'fts' });
      expect(fts.map((h) => h.id)).toContain(areaId);
      expect(fts.every((h) => activeIds(rows1).has(h.id))).toBe(true);
      const cfg = loadConfig({ env: {}, flags: { dataDir: data }, cwd: tempDir('qaforge-cwd-') });
      const embedder = await openEmbedder(cfg);
      try {
        // Exhaustive at this size: every active pair of the restored corpus, nearest first, and only those.
        const all = await searchCorpus(s, embedder, 'area of the shape', { k: 100, mode: 'vector' });
        expect(new Set(all.map((h) => h.id))).toEqual(activeIds(rows1));
        const hybrid = await searchCorpus(s, embedder, 'Compute the area of the shape', { k: 3, mode: 'hybrid' });
        expect(hybrid).toHaveLength(3);
      } finally {
        await embedder.close();
      }
    });

    // The rolled-back version stays readable.
    const out = join(tempDir('qaforge-export-'), 'v2');
    const old = await cliJson('export', '--out', out, '--version', String(v2));
    expect([old.version, old.rows]).toEqual([v2, 23]);
    expect(exportedIds(out)).toEqual(activeIds(rows2));
  });

  it('makes nothing new when the same rollback is asked for again', async () => {
    const again = await cliJson('rollback', '--to', String(v1), '--reason', REASON);
    expect(again).toMatchObject({ version: v3, restoredFrom: v1, reverted: 4, reactivated: 4, created: false });
    const direct = await withStores((s) => rollbackTo(s, v1, REASON));
    expect(direct.created).toBe(false);
    expect(direct.version).toBe(v3);
    expect(await withStores(async (s) => (await s.table('corpus')).version())).toBe(v3);
    const vs = await cliJson('versions', '--json');
    expect(vs.map((v: { version: number; kind: string; undoneBy: number | null; tags: string[] }) => [v.version, v.kind, v.undoneBy, v.tags])).toEqual([
      [v1, 'promotion', null, ['first']],
      [v2, 'promotion', v3, []],
      [v3, 'rollback', null, []],
    ]);
    expect(vs[2]).toMatchObject({ rolledBackTo: v1, reason: REASON, inserted: 4, retired: 4, active: 23, runId: 'rollback', detail: { staging: { toValidated: 4, toPromoted: 4, toRetired: 0 }, indexes: { fts: 'kept', vector: 'none' } } });
    expect(vs[2].tables.corpus).toBe(v3);
    const text = (await cli('versions')).stdout.split('\n');
    expect(text[2]).toMatch(new RegExp(`^${v2}\\s+\\S+Z\\s+promotion \\(undone by ${v3}\\)\\s+\\+4\\s+-4\\s+23\\s+-\\s+-$`));
    expect(text[3]).toMatch(new RegExp(`^${v3}\\s+\\S+Z\\s+rollback to ${v1}\\s+\\+4\\s+-4\\s+23\\s+-\\s+-\\s+${REASON}$`));
    // The latest version already has the state it would restore.
    const same = await cli('rollback', '--to', String(v3), '--reason', 'again');
    expect([same.code, same.stderr]).toEqual([1, `qaforge: the corpus is at version ${v3} already: nothing to roll back\n`]);
  });

  it('records eval summaries after the fact; the last accepted version carries the one it restored', async () => {
    await withStores(async (s) => {
      expect(await lastAcceptedVersion(s)).toEqual({ version: v3, kind: 'rollback', restoredFrom: v1, evalSummary: null, evalOf: null });
      await setVersionEval(s, v1, { recall_at_5: 0.8, mrr_at_10: 0.61234, set: 'transformers-v1' });
      await setVersionEval(s, v2, { recall_at_5: 0.7 });
      expect(await lastAcceptedVersion(s)).toEqual({ version: v3, kind: 'rollback', restoredFrom: v1, evalSummary: { recall_at_5: 0.8, mrr_at_10: 0.61234, set: 'transformers-v1' }, evalOf: v1 });
      // As things stood before the rollback, v2 was the latest accepted.
      expect(await lastAcceptedVersion(s, { before: v3 })).toEqual({ version: v2, kind: 'promotion', restoredFrom: null, evalSummary: { recall_at_5: 0.7 }, evalOf: v2 });
      expect(await lastAcceptedVersion(s, { before: v1 })).toBeNull();
      await expect(setVersionEval(s, 99999, {})).rejects.toThrow('no dataset version 99999');
    });
    const text = (await cli('versions')).stdout.split('\n');
    expect(text[1]).toMatch(new RegExp(`^${v1}\\s+\\S+Z\\s+promotion\\s+\\+23\\s+-0\\s+23\\s+recall_at_5=0.800 mrr_at_10=0.612\\s+first$`));
  });

  it('a later promotion takes the pairs the rollback sent back to staging', async () => {
    const p = await cliJson('promote');
    // The 4 pairs of v2 come back; the old pairs the rollback restored stay active (the ingest cursor
    // is past the change that retired them), so the corpus holds both.
    expect([p.inserted, p.active]).toEqual([4, 27]);
    const vs = await cliJson('versions', '--json');
    expect(vs.at(-1)).toMatchObject({ version: p.version, kind: 'promotion', inserted: 4, retired: 0, active: 27 });
    expect(await stagingCounts()).toEqual({ pending: 0, validated: 0, promoted: 27, retired: 0 });
  });
});

describe('rollback when the restored version\'s index files are gone', () => {
  it('rebuilds the full-text index, and searches work', async () => {
    const r = await makeRepo({ 'pkg/shapes.py': SHAPES_PY });
    const dir = tempDir();
    const log = createLogger('silent');
    const open = () => Stores.open(dir);
    await qaforgeJson(['--data-dir', dir, 'backfill', '--sources', 'code', '--repo', r.dir, '--json']);
    let stores = await open();
    const first = await promoteStaged(stores, log, { embedder: null });
    const ftsUuid = (await (await stores.table('corpus')).listIndices()).find((i) => i.indexType === 'FTS')!.indexUuid!;
    stores.close();
    await r.commit({ 'pkg/shapes.py': SHIFTED_PY }, 'shift');
    await qaforgeJson(['--data-dir', dir, 'ingest', '--sources', 'code', '--repo', r.dir, '--json']);
    stores = await open();
    try {
      const second = await promoteStaged(stores, log, { embedder: null });
      const corpus = await stores.table('corpus');
      expect((await corpus.listIndices()).find((i) => i.indexType === 'FTS')!.indexUuid).not.toBe(ftsUuid);
      // What a cleanup of old versions would do to the first version's index.
      rmSync(join(dir, 'lancedb', 'corpus.lance', '_indices', ftsUuid), { recursive: true });
      const rb = await rollbackTo(stores, first.version, 'index test');
      expect(rb).toMatchObject({ restoredFrom: first.version, reverted: 3, reactivated: 3, active: 22, indexes: { fts: 'rebuilt', vector: 'none' }, created: true });
      // Restore, drop the broken index, build it again: three LanceDB versions.
      expect(rb.version).toBe(second.version + 3);
      expect(rb.version).toBe(await corpus.version());
      const hits = await searchCorpus(stores, null, 'area of the shape', { k: 50, mode: 'fts' });
      expect(hits.length).toBeGreaterThan(0);
      const active = new Set<string>();
      for await (const rows of stores.scan('corpus', ['id'], "status = 'active'")) for (const x of rows) active.add(x.id as string);
      expect(active.size).toBe(22);
      expect(hits.every((h) => active.has(h.id))).toBe(true);
      expect((await corpus.listIndices()).find((i) => i.indexType === 'FTS')!.numUnindexedRows).toBe(0);
    } finally {
      stores.close();
    }
  });
});

describe('an older data dir', () => {
  it('is refused with one line saying what to do', async () => {
    const dir = tempDir();
    const db = await lancedb.connect(join(dir, 'lancedb'));
    // The versions table as qaforge wrote it before dataset versions.
    const oldVersions = new Schema(['version', 'promoted_at', 'inserted', 'updated', 'active', 'run_id'].map((n) => SCHEMAS.versions.fields.find((f) => f.name === n)!));
    await db.createEmptyTable('versions', oldVersions);
    db.close();
    await expect(Stores.open(dir)).rejects.toThrow(
      `data dir ${dir} was written by an older qaforge (table versions lacks kind, retired, reason, rolled_back_to, tables, eval_summary, detail): use a new --data-dir and run backfill again`,
    );
  });
});
