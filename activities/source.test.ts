import { afterAll, describe, expect, it } from 'vitest';
import { docSectionRecords } from '../extractors/docs.js';
import { docQuestions } from '../generators/doc-rules.js';
import { Stores } from '../datasets/store.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { StageStats } from '../lib/progress.js';
import { failedReasons, validateCandidate } from '../validators/checks.js';
import { cursorKey } from '../datasets/state-keys.js';
import { tempDir } from '../test/fixtures.js';
import type { RunContext } from './context.js';
import { PairSink } from './pair-sink.js';
import { extractUnit, runSource, type Source, type SourcePlan } from './source.js';

const SHA = 'c0ffee'.padEnd(40, '0');
const MID = 'beef'.padEnd(40, '1');
const REPO = { repo: 'acme/widgets', sha: SHA, webUrl: null, path: '.', spec: '.' };
const PAGE = '# Widgets\n\nWidgets are the building blocks of every layout: each one draws itself and lays out its children.\n\n## Install\n\nInstall widgets with `pip install widgets`, then import `widgets` in your code.\n';

const opened: Stores[] = [];
afterAll(() => opened.forEach((s) => s.close()));

async function runContext(): Promise<RunContext> {
  const dataDir = tempDir();
  const cfg = loadConfig({ env: {}, flags: { dataDir, repo: '.', logLevel: 'silent' } });
  const stores = await Stores.open(dataDir);
  opened.push(stores);
  const stages = [new StageStats('validate'), new StageStats('stage')];
  const sink = new PairSink(stores, 'run-test', cfg.nearDupThreshold, stages[0]!, stages[1]!);
  return { cfg, log: createLogger('silent', false), stores, sink, repo: REPO, runId: 'run-test', incremental: false, stages };
}

describe('runSource', () => {
  it('counts every stage, records every skip, stages before the cursor moves, and says what it did', async () => {
    const run = await runContext();
    const seenAtCheckpoint: { cursor: string | null; skips: number }[] = [];
    const source: Source<SourcePlan> = {
      name: 'docs',
      plan: async () => ({ from: null, to: SHA, total: 3, unitName: 'files', cursor: { name: 'docs', value: SHA } }),
      note: (_p, done) => `${done.units} units, ${done.records} records`,
      async *read(r) {
        // A unit the read stage drops, with why.
        yield { skips: [{ stage: 'read', skip: { path: 'docs/logo.md', reason: 'binary', detail: 'NUL byte at 3' } }] };
        // A unit read whole: its records and candidate pairs; the cursor may move once it is staged.
        yield { ...extractUnit('docs/index.md', SHA, () => docSectionRecords('docs/index.md', PAGE, { repo: REPO.repo, sha: SHA, webUrl: null }), docQuestions), checkpoint: { cursor: MID } };
        seenAtCheckpoint.push({ cursor: await r.stores.getState(cursorKey('docs', REPO.repo)), skips: await r.stores.count('skipped') });
        // A unit whose rules throw is an extract_error skip; a note about a kept unit is recorded only.
        const broken = extractUnit('docs/broken.md', SHA, () => { throw new Error('boom'); }, docQuestions);
        expect(broken.skips).toMatchObject([{ stage: 'extract', skip: { path: 'docs/broken.md', reason: 'extract_error' } }]);
        yield { ...broken, skips: [...broken.skips!, { stage: null, skip: { path: 'docs/broken.md', reason: 'diff_truncated', detail: 'kept with the first part' } }] };
      },
    };
    const [outcome] = await runSource(run, source);

    const records = docSectionRecords('docs/index.md', PAGE, { repo: REPO.repo, sha: SHA, webUrl: null });
    const candidates = records.flatMap(docQuestions);
    const passing = candidates.filter((c) => !failedReasons(validateCandidate(c, run.cfg.limits)).length).length;
    expect(records).toHaveLength(2);
    expect(candidates.length).toBeGreaterThan(0);
    expect(outcome).toMatchObject({ source: 'docs', from: null, to: SHA, units: 3, records: 2, candidates: candidates.length, staged: passing, retired: 0, note: '3 units, 2 records' });
    const stage = (name: string) => run.stages.find((s) => s.name === name)!.toJSON();
    expect(stage('docs.read')).toMatchObject({ seen: 3, kept: 2, rejected: { binary: 1 } });
    expect(stage('docs.extract')).toMatchObject({ seen: 2, kept: 2, rejected: { extract_error: 1 } });
    expect(stage('docs.generate')).toMatchObject({ seen: 2, kept: candidates.length, rejected: {} });
    expect(run.stages.map((s) => s.name)).toEqual(['docs.read', 'docs.extract', 'docs.generate', 'validate', 'stage']);
    // At the checkpoint the unit's pairs and the skip before it were durable, and the cursor had moved.
    expect(seenAtCheckpoint).toEqual([{ cursor: MID, skips: 1 }]);
    expect(await run.stores.count('staging')).toBe(passing);
    expect(await run.stores.count('sources')).toBe(2);
    expect(await run.stores.getState(cursorKey('docs', REPO.repo))).toBe(SHA);
    const skipped = [];
    for await (const rows of run.stores.scan('skipped', ['path', 'reason'])) skipped.push(...rows.map((r) => `${r.reason}:${r.path}`));
    expect(skipped.sort()).toEqual(['binary:docs/logo.md', 'diff_truncated:docs/broken.md', 'extract_error:docs/broken.md']);
  });

  it('reads nothing from the stores on a pass with nothing to do, and still lists its stages', async () => {
    const run = await runContext();
    const source: Source<SourcePlan> = {
      name: 'commits',
      plan: async () => ({ from: SHA, to: SHA, total: 0, unitName: 'commits', cursor: null }),
      async *read() {},
    };
    const [outcome] = await runSource(run, source);
    expect(outcome).toMatchObject({ source: 'commits', units: 0, records: 0, candidates: 0, staged: 0, note: null });
    expect(() => run.sink.knows('x')).toThrow(/before ready/);
    expect(run.stages.map((s) => s.toJSON())).toMatchObject([
      { stage: 'commits.read', seen: 0 },
      { stage: 'commits.extract', seen: 0 },
      { stage: 'commits.generate', seen: 0 },
      { stage: 'validate', seen: 0 },
      { stage: 'stage', seen: 0 },
    ]);
  });
});
