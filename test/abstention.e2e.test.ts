// `qaforge eval abstention` through the real CLI on a corpus built here (code of one file, embedded by
// the local MiniLM): the scores it reports are the service's (best cosine similarity of each question
// to the hits), the threshold is the best balanced accuracy over them, and it is stored where
// `qaforge serve` reads it. Real embeddings differ across CPUs in the last digits: no exact scores.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Stores } from '../datasets/store.js';
import { chooseThreshold, type AbstentionCalibration } from '../evals/abstention.js';
import { loadConfig } from '../lib/config.js';
import { abstainThreshold } from '../serve/app.js';
import { qaforge, qaforgeJson } from './cli.js';
import { makeRepo, SHAPES_PY, tempDir } from './fixtures.js';
import { ABSTAIN_KEY } from '../datasets/state-keys.js';

const ZERO = '0'.repeat(40);
const item = (id: string, question: string, gold: object[], extra: object = {}) => ({ id, repo: 'acme/shapes', question, answer: 'see the gold', kind: 'code', gold, difficulty: 'easy', commit: ZERO, ...extra });
const SET = [
  item('in-fetch', 'How do I fetch a shape by its registered name?', [{ path: 'shapes/core.py', start_line: 51, end_line: 61 }]),
  item('in-diameter', 'How do I set the radius of a circle from its diameter?', [{ path: 'shapes/core.py', start_line: 39, end_line: 42 }]),
  item('in-scale', 'What does scale do to a number?', [{ path: 'shapes/core.py', start_line: 64, end_line: 70 }]),
  item('in-area', 'What does Shape.area raise in the base class?', [{ path: 'shapes/core.py', start_line: 12, end_line: 21 }]),
  item('out-ethanol', 'What is the boiling point of ethanol at sea level?', [], { out_of_scope: true }),
  item('out-football', 'Who won the 2018 FIFA World Cup?', [], { out_of_scope: true }),
  item('out-sourdough', 'How do I make a sourdough starter from scratch?', [], { out_of_scope: true }),
];

let data: string;
let setFile: string;
const cli = (...args: string[]) => qaforge(['--data-dir', data, ...args]);

beforeAll(async () => {
  const repo = await makeRepo({ 'shapes/core.py': SHAPES_PY });
  data = tempDir();
  setFile = join(tempDir('qaforge-set-'), 'shapes.jsonl');
  writeFileSync(setFile, SET.map((x) => JSON.stringify(x)).join('\n') + '\n');
  await qaforgeJson(['--data-dir', data, 'backfill', '--repo', repo.dir, '--sources', 'code', '--json']);
  const r = await cli('promote');
  expect(r.code, r.stderr).toBe(0);
}, 180_000);

describe('qaforge eval abstention', () => {
  it('scores every question as the service does, picks the best balanced accuracy, and stores it for serve', async () => {
    const cfg = loadConfig({ flags: { dataDir: data }, env: {} });
    const before = await Stores.openFor(cfg).then(async (s) => {
      try {
        return await abstainThreshold(s, cfg);
      } finally {
        s.close();
      }
    });
    expect(before).toBe(0.35);

    const c = (await qaforgeJson(['--data-dir', data, 'eval', 'abstention', '--set', setFile, '--json'])) as AbstentionCalibration;
    expect(c.sets).toEqual([{ id: 'shapes', hash: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(c).toMatchObject({ mode: 'hybrid', k: 10, embedder: 'all-MiniLM-L6-v2 (int8 ONNX)' });
    expect(c.questions.map((q) => q.id)).toEqual(SET.map((x) => x.id));
    expect(c.questions.filter((q) => q.group === 'out_of_scope').map((q) => q.id)).toEqual(['out-ethanol', 'out-football', 'out-sourdough']);
    // Each in-scope question names a symbol the corpus has pairs on: its gold is among the top 10.
    expect(c.questions.filter((q) => q.group === 'answerable').map((q) => q.id)).toEqual(['in-fetch', 'in-diameter', 'in-scale', 'in-area']);
    expect(c.counts).toEqual({ answerable: 4, missed: 0, outOfScope: 3 });
    for (const q of c.questions) expect(q.score).toBeGreaterThan(-1), expect(q.score).toBeLessThanOrEqual(1);
    // The threshold is the choice over the reported scores.
    const again = chooseThreshold(
      c.questions.filter((q) => q.group === 'answerable').map((q) => q.score),
      c.questions.filter((q) => q.group === 'out_of_scope').map((q) => q.score),
    );
    expect({ threshold: c.threshold, answered: c.answered, abstained: c.abstained }).toEqual({ threshold: again.threshold, answered: again.answered, abstained: again.abstained });
    // Questions about the file score well above unrelated ones with MiniLM: the two groups separate.
    expect(c.balancedAccuracy).toBe(1);

    const stores = await Stores.openFor(cfg);
    try {
      const stored = JSON.parse((await stores.getState(ABSTAIN_KEY))!) as AbstentionCalibration;
      expect(stored.threshold).toBe(c.threshold);
      expect(stored).not.toHaveProperty('questions');
      expect(await abstainThreshold(stores, cfg)).toBe(c.threshold);
      // serve.abstainThreshold in the configuration still wins.
      expect(await abstainThreshold(stores, loadConfig({ flags: { dataDir: data, serve: { abstainThreshold: 0.1 } }, env: {} }))).toBe(0.1);
    } finally {
      stores.close();
    }
  });

  it('a set without out-of-scope questions is refused in one line', async () => {
    const inScopeOnly = join(tempDir('qaforge-set-'), 'in.jsonl');
    writeFileSync(inScopeOnly, SET.filter((x) => !('out_of_scope' in x)).map((x) => JSON.stringify(x)).join('\n') + '\n');
    const r = await cli('eval', 'abstention', '--set', inScopeOnly, '--no-record');
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe('qaforge: abstention is calibrated on both kinds of question: 4 answerable in scope (a gold among the hits), 0 out of scope; add out-of-scope items (out_of_scope: true) to the sets');
  });
});
