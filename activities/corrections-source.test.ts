// The corrections source on a real backfill (rules only, no model): an accepted correction goes
// through the runner and the sink, where a pair it disputes may ask its question and any other pair
// may not; a correction an accept left accepted but unstaged (stopped between marking and staging)
// is staged by the next run, and the run counts it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCorrections, writeCorrections, type CorrectionRow } from '../datasets/corrections.js';
import type { QAPair } from '../datasets/schemas.js';
import { columnsOf, pairFromRow, sqlString, Stores } from '../datasets/store.js';
import { loadConfig, type Config } from '../lib/config.js';
import { contentId } from '../lib/hash.js';
import { createLogger } from '../lib/log.js';
import { acceptCorrection } from '../serve/corrections.js';
import { feedbackRow, queryRow } from '../test/feedback-cases.js';
import { makeRepo, SHAPES_PY, tempDir } from '../test/fixtures.js';
import { runBackfill, runIngest } from './backfill.js';
import { unstagedCorrections } from './corrections-source.js';

const log = createLogger('silent');
let cfg: Config;
let stores: Stores;
/** Staged rule pairs, each asking a question no other of them asks. */
let P: QAPair[];

beforeAll(async () => {
  const repo = await makeRepo({ 'shapes/core.py': SHAPES_PY });
  const data = tempDir();
  cfg = loadConfig({ cwd: data, env: { QAFORGE_LLM_SAMPLE: '0' }, flags: { dataDir: data, repo: repo.dir, sources: ['code'], logLevel: 'silent' } });
  await runBackfill(cfg, log);
  stores = await Stores.openFor(cfg);
  const byQuestion = new Map<string, QAPair>();
  for await (const rows of stores.scan('staging', columnsOf('staging'), "category = 'purpose'")) for (const p of rows.map(pairFromRow)) byQuestion.set(p.question, p);
  P = [...byQuestion.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  expect(P.length).toBeGreaterThanOrEqual(4);
});

afterAll(() => stores?.close());

/** A run writes through stores of its own: these see what it wrote once opened again. */
async function reopen(): Promise<void> {
  stores.close();
  stores = await Stores.openFor(cfg);
}

/** A correction of `of` as a proposal writes it: the same question with another answer, checked, disputing `disputed`. */
function correction(feedbackId: string, of: QAPair, status: 'proposed' | 'accepted', disputed: QAPair[]): CorrectionRow & { candidate: QAPair } {
  const candidate: QAPair = {
    ...of,
    id: contentId('test-correction', feedbackId),
    answer: `${of.answer} It is documented in the module.`,
    category: 'feedback_correction',
    verdicts: [...of.verdicts, { check: 'ambiguity', pass: true, reason: null, detail: null }],
    feedback: { queryId: `q-${feedbackId}`, feedbackId, origin: 'manual', cited: disputed.map((p) => p.id) },
  };
  const at = new Date().toISOString();
  return {
    feedback_id: feedbackId,
    query_id: `q-${feedbackId}`,
    status,
    origin: 'manual',
    pair_id: candidate.id,
    pair: JSON.stringify(candidate),
    disputed: JSON.stringify(disputed.map((p) => p.id)),
    detail: JSON.stringify({ failed: [], candidates: [], source_pair: of.id, quotes: [], models: null, ...(status === 'accepted' ? { accepted_at: at } : {}) }),
    updated_at: at,
    promoted_version: null,
    candidate,
  };
}

/** A proposed correction with the query and feedback rows `feedback accept` looks up. */
async function propose(feedbackId: string, of: QAPair, disputed: QAPair[]): Promise<QAPair> {
  const { candidate, ...row } = correction(feedbackId, of, 'proposed', disputed);
  await stores.add('queries', [queryRow(`q-${feedbackId}`, of.question, 'A wrong answer.', disputed)]);
  await stores.add('feedback', [feedbackRow(feedbackId, `q-${feedbackId}`, 1)]);
  await writeCorrections(stores, [row]);
  return candidate;
}

async function stagingRow(id: string) {
  for await (const rows of stores.scan('staging', columnsOf('staging'), `id = ${sqlString(id)}`)) if (rows.length) return { status: rows[0]!.status, runId: rows[0]!.run_id, pair: pairFromRow(rows[0]!) };
  return null;
}

describe('corrections source', () => {
  it('stages a correction left accepted but unstaged at the next run, and the run counts it', async () => {
    // What a crash between marking and staging leaves: accepted, nothing staged.
    const { candidate, ...left } = correction('f-left', P[1]!, 'accepted', [P[1]!]);
    await writeCorrections(stores, [left]);
    expect((await unstagedCorrections(stores)).map((c) => c.feedback_id)).toEqual(['f-left']);

    const r = await runIngest(cfg, log);
    await reopen();
    expect(r.sources.map((o) => o.source)).toEqual(['corrections', 'code']);
    expect(r.sources[0]).toEqual({ source: 'corrections', from: null, to: null, units: 1, records: 0, candidates: 1, staged: 1, rejected: 0, alreadyKnown: 0, refreshed: 0, retired: 0, note: '1 accepted corrections', seconds: expect.any(Number) });
    expect(r.sources[1]).toMatchObject({ source: 'code', units: 0, candidates: 0, staged: 0 });
    expect(r).toMatchObject({ candidates: 1, staged: 1, rejected: 0, alreadyKnown: 0 });
    const stage = (name: string) => r.stages.find((s) => s.stage === name);
    expect(r.stages.filter((s) => s.stage.startsWith('corrections.')).map((s) => s.stage)).toEqual(['corrections.read']);
    expect(stage('corrections.read')).toMatchObject({ seen: 1, kept: 1, rejected: {} });
    expect(stage('validate')).toMatchObject({ seen: 1, kept: 1, rejected: {} });
    expect(stage('stage')).toMatchObject({ seen: 1, kept: 1, rejected: {} });
    // Staged validated by this run, though its disputed pair asks the same question.
    const row = await stagingRow(candidate.id);
    expect(row).toMatchObject({ status: 'validated', runId: r.runId, pair: { question: P[1]!.question, answer: candidate.answer } });
    // The proposal's duplicate and ambiguity verdicts give way to the sink's.
    expect(row!.pair.verdicts.filter((v) => v.check === 'dedup' || v.check === 'ambiguity').map((v) => [v.check, v.pass])).toEqual([['dedup', true]]);
    expect(await stagingRow(P[1]!.id)).toMatchObject({ status: 'validated' });

    // Nothing left: the next run has no corrections row.
    expect(await unstagedCorrections(stores)).toEqual([]);
    expect((await runIngest(cfg, log)).sources.map((o) => o.source)).toEqual(['code']);
  });

  it('accept stages a correction whose disputed pair asks the same question, and any an earlier accept left unstaged', async () => {
    const c1 = await propose('f1', P[0]!, [P[0]!, P[3]!]);
    const { candidate: c2, ...left } = correction('f2', P[2]!, 'accepted', [P[2]!]);
    await writeCorrections(stores, [left]);

    expect(await acceptCorrection(stores, 'f1', { cfg, log })).toEqual({ feedback_id: 'f1', status: 'accepted', pair_id: c1.id, staged: true, disputed: [P[0]!.id, P[3]!.id] });
    for (const c of [c1, c2]) expect(await stagingRow(c.id), c.feedback!.feedbackId).toMatchObject({ status: 'validated', runId: 'feedback-accept-f1' });
    expect(await stores.count('rejected', "category = 'feedback_correction'")).toBe(0);
    expect((await readCorrections(stores)).get('f1')).toMatchObject({ status: 'accepted', pair_id: c1.id });
    // The disputed pairs stay live until promotion retires them.
    for (const p of [P[0]!, P[3]!]) expect(await stagingRow(p.id)).toMatchObject({ status: 'validated' });
  });

  it('rejects at staging a correction asking the question of a live pair it does not dispute: accepted, not staged, not retried', async () => {
    const c = await propose('f3', P[3]!, [P[1]!]);
    expect(await acceptCorrection(stores, 'f3', { cfg, log })).toMatchObject({ pair_id: c.id, staged: false });
    expect(await stagingRow(c.id)).toBeNull();
    const rejected: Record<string, unknown>[] = [];
    for await (const rows of stores.scan('rejected', ['id', 'reasons', 'detail'], `id = ${sqlString(c.id)}`)) rejected.push(...rows);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.detail).toContain(`same question as ${P[3]!.id} with a different answer`);
    expect(await unstagedCorrections(stores)).toEqual([]);
  });
});
