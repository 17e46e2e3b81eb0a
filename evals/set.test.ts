import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UserError } from '../lib/errors.js';
import { loadEvalSet, type EvalItem } from './set.js';

const setPath = (name: string) => fileURLToPath(new URL(`./sets/${name}.jsonl`, import.meta.url));

const countBy = (items: EvalItem[], key: (x: EvalItem) => string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of items) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
};

describe('the hand-written eval sets', () => {
  it('peft: at least 60 in-scope questions, 8–12 out of scope, the counts per kind the README gives', () => {
    const set = loadEvalSet(setPath('peft'));
    const inScope = set.items.filter((x) => !x.out_of_scope);
    const outOfScope = set.items.filter((x) => x.out_of_scope);
    expect(set.id).toBe('peft');
    expect(inScope.length).toBeGreaterThanOrEqual(60);
    expect(outOfScope.length).toBeGreaterThanOrEqual(8);
    expect(outOfScope.length).toBeLessThanOrEqual(12);
    expect(countBy(inScope, (x) => x.kind)).toEqual({ code: 34, docs: 16, commit: 16 });
    expect(new Set(set.items.map((x) => x.repo))).toEqual(new Set(['huggingface/peft']));
    expect(new Set(set.items.map((x) => x.commit))).toEqual(new Set(['5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40']));
    // Every in-scope gold has the shape of its kind.
    for (const x of inScope) {
      const shape = x.kind === 'code' ? 'start_line' : x.kind === 'docs' ? 'heading' : 'sha';
      expect(x.gold.every((g) => shape in g), x.id).toBe(true);
    }
    expect(new Set(set.items.map((x) => x.id)).size).toBe(set.items.length);
  });

  it('github-fixture: 8–12 questions on PRs and issues, counts per kind as written', () => {
    const set = loadEvalSet(setPath('github-fixture'));
    expect(set.items.length).toBeGreaterThanOrEqual(8);
    expect(set.items.length).toBeLessThanOrEqual(12);
    expect(set.items.every((x) => !x.out_of_scope)).toBe(true);
    expect(countBy(set.items, (x) => x.kind)).toEqual({ issue: 6, pr: 6 });
    expect(set.items.every((x) => x.gold.every((g) => 'pr' in g || 'issue' in g))).toBe(true);
    expect(new Set(set.items.map((x) => x.repo))).toEqual(new Set(['acme/shapes']));
    expect(new Set(set.items.map((x) => x.id)).size).toBe(set.items.length);
  });
});

describe('a bad eval set', () => {
  const good = {
    id: 'ok-1',
    repo: 'acme/shapes',
    question: 'Which PR added the thing?',
    answer: 'PR #7.',
    kind: 'pr',
    gold: [{ pr: 7 }],
    difficulty: 'easy',
    commit: '0'.repeat(40),
  };
  const write = (lines: string[]) => {
    const path = join(mkdtempSync(join(tmpdir(), 'qaforge-evalset-')), 'bad.jsonl');
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  };
  const failure = (path: string): UserError => {
    try {
      loadEvalSet(path);
    } catch (e) {
      return e as UserError;
    }
    throw new Error('loadEvalSet accepted a bad set');
  };

  it('names the line of a non-JSON line, a missing field and gold on an out-of-scope item', () => {
    const { answer: _answer, ...noAnswer } = good;
    const path = write([
      JSON.stringify(good),
      '{"id": "broken", ',
      JSON.stringify({ ...noAnswer, id: 'no-answer' }),
      JSON.stringify({ ...good, id: 'oos-with-gold', out_of_scope: true }),
    ]);
    const e = failure(path);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/3 bad line\(s\)/);
    expect(e.message).toMatch(/line 2: not JSON/);
    expect(e.message).toMatch(/line 3: answer: /);
    expect(e.message).toMatch(/line 4: .*gold is empty exactly when out_of_scope is true/);
    expect(e.message).not.toMatch(/line 1:/);
  });

  it('names the line of a duplicate id', () => {
    const e = failure(write([JSON.stringify(good), JSON.stringify(good)]));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/line 2: duplicate id ok-1/);
  });
});
