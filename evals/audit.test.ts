import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../lib/hash.js';
import { UserError } from '../lib/errors.js';
import { allocateSample, contentWords, gradedRates, isTestPath, newContentWords, pairProxies, questionTemplate, readGrades, trimContext, wilsonInterval } from './audit.js';

describe('questionTemplate', () => {
  it('replaces code spans, quotes, shas and numbers by placeholders', () => {
    expect(questionTemplate('What changed in `src/peft/utils.py` in commit f5352f0 ("feat(model): accept PeftConfig (#612)")?')).toBe(
      'What changed in <code> in commit <sha> (<quote>)?',
    );
    expect(questionTemplate('What does issue #42 say about “retries”, 3 times?')).toBe('What does issue <n> say about <quote>, <n> times?');
    expect(questionTemplate('Which  commit\nintroduced `scale`?')).toBe('Which commit introduced <code>?');
    // All digits is a number, all letters a word: a sha has both.
    expect(questionTemplate('Is 1234567 the id, was it defaced, or is it 4731379dd?')).toBe('Is <n> the id, was it defaced, or is it <sha>?');
    expect(questionTemplate('What does fp16 mean for Linear8bitLt?')).toBe('What does fp<n> mean for Linear<n>bitLt?');
  });

  it('counts templates exactly over known questions', () => {
    const questions = [
      'Where is `pkg.a.f` defined?',
      'Where is `pkg.b.g` defined?',
      'Where is `pkg.c.Klass.method` defined?',
      'What is the signature of the method `A.f` in `pkg/a.py`?',
      'What is the signature of the method `B.g` in `pkg/b.py`?',
      'Which files did commit 0a1b2c3d ("Fix #12") change?',
      'Which files did commit 9f8e7d6c ("Speed up") change?',
      'What does the "Guide" documentation say about "Install"?',
      'Why was the cache added?',
    ];
    const p = pairProxies(questions.map((question) => ({ question, answer: 'an answer', category: 'purpose', sourceKind: 'code_symbol', path: 'pkg/a.py' })));
    expect(p.templates.templates).toBe(5);
    expect(p.templates.top).toEqual([
      { template: 'Where is <code> defined?', count: 3 },
      { template: 'What is the signature of the method <code> in <code>?', count: 2 },
      { template: 'Which files did commit <sha> (<quote>) change?', count: 2 },
      { template: 'What does the <quote> documentation say about <quote>?', count: 1 },
      { template: 'Why was the cache added?', count: 1 },
    ]);
    expect(p.templates.top10Share).toBe(1);
  });
});

describe('the other proxies', () => {
  it('tells test code by directory and file name', () => {
    const yes = ['tests/test_a.py', 'pkg/tests/helpers.py', 'test/x.py', 'src/test_utils.py', 'pkg/io_test.py', 'conftest.py', 'tests/conftest.py'];
    const no = ['pkg/testing.py', 'src/contest.py', 'pkg/latest/x.py', 'pkg/attest_test.txt', 'docs/tests.md', null];
    expect(yes.filter(isTestPath)).toEqual(yes);
    expect(no.filter(isTestPath)).toEqual([]);
  });

  it('counts new content words: alphanumeric, 3+ characters, no function words, not in the question', () => {
    expect([...contentWords('What does `fetch_shape` return? It returns the Shape, in 10 s.')]).toEqual(['fetch', 'shape', 'return', 'returns']);
    expect(newContentWords('Where is `pkg.shapes.scale` defined?', 'In `pkg/shapes.py`, lines 68-70.')).toBe(1); // "lines"
    expect(newContentWords('What does `scale` do?', 'It multiplies a number by the global factor of two.')).toBe(5);
  });

  it('finds questions asked twice with different answers, and answer informativeness, per category', () => {
    const pair = (question: string, answer: string, category = 'purpose', path: string | null = 'pkg/a.py', sourceKind = 'code_symbol') => ({ question, answer, category, sourceKind, path });
    const p = pairProxies([
      pair('What does `f` do?', 'Computes the area of a circle.'),
      pair('what does  `f` do?', 'Computes the diameter.'),
      pair('What does `g` do?', 'Equal text.', 'purpose', 'tests/test_a.py'),
      pair('What does `g` do?', 'Equal  text.', 'purpose', 'tests/test_a.py'),
      pair('Where is `f` defined?', 'In `pkg/a.py`.', 'location'),
      pair('Why?', 'Because the cache was slow.', 'commit_why', null, 'commit'),
    ]);
    // `f` has two answers: both pairs count; `g` has one answer written twice (whitespace aside): neither does.
    expect(p.duplicateQuestions).toEqual({ pairs: 2, questions: 1, rate: 2 / 6, examples: [{ question: 'what does `f` do?', pairs: 2, answers: 2 }] });
    expect(p.testCode).toEqual({ codePairs: 5, testPairs: 2, share: 2 / 5 });
    expect(p.bySourceKind).toEqual({ code_symbol: 5, commit: 1 });
    // New words: computes area circle = 3; computes diameter = 2; equal text = 2, twice; pkg = 1; because cache slow = 3.
    expect(p.informativeness.meanNewWords).toBe(13 / 6);
    expect(p.informativeness.under2).toBe(1);
    expect(p.informativeness.byCategory.location).toEqual({ pairs: 1, meanNewWords: 1, under2Share: 1 });
    expect(p.informativeness.byCategory.purpose).toEqual({ pairs: 4, meanNewWords: 9 / 4, under2Share: 0 });
  });
});

describe('allocateSample', () => {
  const sizes = new Map([['a', 100], ['b', 50], ['c', 1], ['d', 1]]);

  it('is proportional with at least one per stratum when n allows', () => {
    // Quotas 6.58, 3.29, 0.07, 0.07; one each for c and d takes the sum to 11; b gives one back.
    expect(allocateSample(sizes, 10)).toEqual(new Map([['a', 6], ['b', 2], ['c', 1], ['d', 1]]));
    expect(allocateSample(sizes, 4)).toEqual(new Map([['a', 1], ['b', 1], ['c', 1], ['d', 1]]));
    // Fewer than the strata: largest remainders only.
    expect(allocateSample(sizes, 3)).toEqual(new Map([['a', 2], ['b', 1]]));
    expect(allocateSample(sizes, 500)).toEqual(sizes);
  });

  it('always gives n in all, never more than a stratum holds', () => {
    const rand = seededRandom(7);
    for (let t = 0; t < 300; t++) {
      const s = new Map(Array.from({ length: 1 + Math.floor(rand() * 12) }, (_, i) => [`s${i}`, Math.floor(rand() * (rand() < 0.3 ? 3 : 400))] as [string, number]));
      const total = [...s.values()].reduce((a, b) => a + b, 0);
      const nonEmpty = [...s.values()].filter((v) => v > 0).length;
      const n = 1 + Math.floor(rand() * 200);
      const a = allocateSample(s, n);
      expect([...a.values()].reduce((x, y) => x + y, 0)).toBe(Math.min(n, total));
      for (const [k, v] of a) expect(v).toBeLessThanOrEqual(s.get(k)!);
      if (n >= nonEmpty) expect(a.size).toBe(nonEmpty);
    }
  });
});

describe('wilsonInterval and trimContext', () => {
  it('gives the textbook Wilson 95 % interval', () => {
    const w = wilsonInterval(8, 10)!;
    expect(w.low).toBeCloseTo(0.4902, 4);
    expect(w.high).toBeCloseTo(0.9433, 4);
    expect(wilsonInterval(0, 10)!.low).toBe(0);
    expect(wilsonInterval(0, 10)!.high).toBeCloseTo(0.2775, 4);
    expect(wilsonInterval(0, 0)).toBeNull();
  });

  it('keeps 25 lines and says how many were cut', () => {
    const ctx = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n');
    const t = trimContext(ctx);
    expect(t).toMatchObject({ lines: 30, cutLines: 5 });
    expect(t.text.split('\n')).toHaveLength(25);
    expect(t.text.endsWith('line 25')).toBe(true);
    expect(trimContext('a\nb\n')).toEqual({ text: 'a\nb', lines: 2, cutLines: 0 });
    expect(trimContext('x'.repeat(300)).text).toBe(`${'x'.repeat(240)}…`);
  });
});

describe('grades', () => {
  const file = (lines: string[]) => {
    const p = join(mkdtempSync(join(tmpdir(), 'qaforge-grades-')), 'audit.jsonl');
    writeFileSync(p, lines.join('\n'));
    return p;
  };
  const line = (id: string, category: string, source_kind: string, correct: unknown, standalone: unknown, useful: unknown) =>
    JSON.stringify({ n: 1, id, category, source_kind, question: 'q', grade: { correct, standalone, useful, note: null } });

  it('reads a filled-in sample and gives rates with Wilson intervals, overall and per group', () => {
    const r = gradedRates(
      readGrades(
        file([
          line('a', 'purpose', 'code_symbol', true, true, false),
          line('b', 'purpose', 'code_symbol', true, false, false),
          line('c', 'location', 'code_symbol', 1, 1, 0),
          '',
          line('d', 'commit_why', 'commit', false, true, null),
          line('e', 'commit_why', 'commit', null, null, null),
        ]),
      ),
    );
    expect(r.items).toBe(5);
    expect(r.overall.correct).toMatchObject({ n: 4, yes: 3, rate: 0.75 });
    expect(r.overall.standalone).toMatchObject({ n: 4, yes: 3, rate: 0.75 });
    expect(r.overall.useful).toMatchObject({ n: 3, yes: 0, rate: 0, low: 0 });
    expect(r.overall.correct.low).toBeCloseTo(wilsonInterval(3, 4)!.low, 12);
    expect(r.bySourceKind.commit!.correct).toMatchObject({ n: 1, yes: 0 });
    expect(r.bySourceKind.code_symbol!.correct).toMatchObject({ n: 3, yes: 3, rate: 1 });
    expect(r.byCategory.purpose!.standalone).toMatchObject({ n: 2, yes: 1, rate: 0.5 });
    expect(Object.keys(r.byCategory)).toEqual(['commit_why', 'location', 'purpose']);
  });

  it('names every bad line by its number', () => {
    const p = file([line('a', 'purpose', 'code_symbol', true, true, true), '{"id": "b", "grade": ', line('c', 'purpose', 'code_symbol', 'yes', true, true), '{"id": "d"}', line('a', 'purpose', 'code_symbol', true, true, true)]);
    expect(() => readGrades(p)).toThrow(UserError);
    const msg = (() => {
      try {
        readGrades(p);
      } catch (e) {
        return (e as Error).message;
      }
    })()!;
    const lines = msg.split('\n');
    expect(lines[0]).toBe(`grades file ${p} has 4 bad line(s):`);
    expect(lines[1]).toMatch(/^ {2}line 2: not JSON/);
    expect(lines[2]).toMatch(/^ {2}line 3: grade\.correct: /);
    expect(lines[3]).toMatch(/^ {2}line 4: grade: /);
    expect(lines[4]).toBe('  line 5: duplicate id a');
    expect(() => readGrades(file(['', '  ']))).toThrow(/holds no graded items/);
    expect(() => readGrades('/nonexistent/audit.jsonl')).toThrow(/cannot read grades file \/nonexistent\/audit\.jsonl: ENOENT/);
  });
});
