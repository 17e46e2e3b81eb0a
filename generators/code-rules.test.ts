import { describe, expect, it } from 'vitest';
import { codeSourceRecords } from '../extractors/code-records.js';
import { extractPythonSymbols } from '../extractors/python.js';
import { SHAPES_PAIRS, SHAPES_PY } from '../test/fixtures.js';
import { validateCandidate } from '../validators/checks.js';
import { CODE_RULES, ruleQuestionsForSymbol } from './code-rules.js';

const SHA = 'c0ffee'.padEnd(40, '0');
const records = () =>
  codeSourceRecords('pkg/shapes.py', SHAPES_PY, extractPythonSymbols(SHAPES_PY, 'pkg/shapes.py').symbols, {
    repo: 'acme/shapes',
    sha: SHA,
    webUrl: 'https://github.com/acme/shapes',
  });

describe('ruleQuestionsForSymbol', () => {
  it('yields the hand-counted pairs per category for shapes.py, all passing validation', () => {
    const pairs = records().flatMap(ruleQuestionsForSymbol).map((p) => validateCandidate(p));
    const counts: Record<string, number> = {};
    for (const p of pairs) counts[p.category] = (counts[p.category] ?? 0) + 1;
    expect(counts).toEqual(SHAPES_PAIRS);
    expect(pairs.filter((p) => p.verdicts.some((v) => !v.pass))).toEqual([]);
    expect(new Set(pairs.map((p) => p.id)).size).toBe(pairs.length);
    for (const p of pairs) expect(p.generator).toEqual(CODE_RULES);
  });

  it('answers from the docstring sections and names the variant it means', () => {
    const pairs = records().flatMap(ruleQuestionsForSymbol);
    const find = (q: string) => pairs.find((p) => p.question === q)!;
    expect(find('What parameters does the async function `fetch_shape` in `pkg/shapes.py` take?').answer).toBe(
      '- `name` (type `str`): The registered name of the shape.\n- `timeout` (type `int`, default `10`): Seconds to wait before giving up.',
    );
    expect(find('What exceptions can the method `Shape.area` in `pkg/shapes.py` raise?').answer).toBe('- `NotImplementedError`: Always, subclasses override it.');
    expect(find('What does the method `Circle.diameter` (property setter) in `pkg/shapes.py` do?').answer).toBe(
      'Set the radius from a diameter value.',
    );
    expect(find('Where is `scale` (overload 2 of 2) defined?').answer).toBe('In `pkg/shapes.py`, lines 66-67.');
    expect(find('What public methods does the class `Circle` in `pkg/shapes.py` define?').answer).toBe('2 public methods: `diameter`, `area`.');
    const loc = find('Where is `Circle` defined?');
    expect(loc.provenance).toMatchObject({
      repo: 'acme/shapes',
      path: 'pkg/shapes.py',
      startLine: 24,
      endLine: 48,
      qualname: 'Circle',
      commitFirstSeen: SHA,
      url: `https://github.com/acme/shapes/blob/${SHA}/pkg/shapes.py#L24-L48`,
    });
    // A location context is the location line and the header, quoted verbatim.
    expect(loc.context).toBe(`# pkg/shapes.py, lines 24-48\n${SHAPES_PY.split('\n')[23]}`);
    const sig = find('What is the signature of the method `Circle.diameter` (property setter) in `pkg/shapes.py`?');
    expect(sig.context).toBe('    @diameter.setter\n    def diameter(self, value: float) -> None:');
    // A docstring answer's context holds the docstring too, and no line numbers.
    const purpose = find('What is the class `Circle` in `pkg/shapes.py` for?');
    expect(purpose.context.split('\n').slice(0, 6)).toEqual(SHAPES_PY.split('\n').slice(23, 29));
  });

  it('draws no docstring pair from a private undocumented or boilerplate symbol', () => {
    const src = 'def _hidden(x):\n    pass\n\ndef forward(x):\n    """Forward pass."""\n    return x\n';
    const recs = codeSourceRecords('m.py', src, extractPythonSymbols(src, 'm.py').symbols, { repo: 'a/b', sha: SHA, webUrl: null });
    const cats = recs.flatMap(ruleQuestionsForSymbol).map((p) => `${p.category}:${p.provenance.qualname}`);
    expect(cats.sort()).toEqual(['location:forward', 'signature:forward']);
  });

  it('keeps the ids of pairs whose symbol only moved, and gives twins distinct labels', () => {
    const ids = (src: string) =>
      new Set(
        codeSourceRecords('pkg/shapes.py', src, extractPythonSymbols(src, 'pkg/shapes.py').symbols, { repo: 'acme/shapes', sha: SHA, webUrl: null })
          .flatMap(ruleQuestionsForSymbol)
          .filter((p) => p.category !== 'location' && p.category !== 'module_purpose')
          .map((p) => p.id),
      );
    expect(ids(`import os\n\n${SHAPES_PY}`)).toEqual(ids(SHAPES_PY));
    const twins = 'class A:\n    if X:\n        @property\n        def p(self):\n            """First getter of the value."""\n    else:\n        @property\n        def p(self):\n            """Second getter of the value."""\n';
    const labels = extractPythonSymbols(twins, 'a.py').symbols.map((s) => s.variant);
    expect(labels).toEqual([null, null, 'property getter 1 of 2', 'property getter 2 of 2']);
  });

  it('keeps ids independent of the commit sha', () => {
    const src = SHAPES_PY;
    const at = (sha: string) =>
      codeSourceRecords('pkg/shapes.py', src, extractPythonSymbols(src, 'pkg/shapes.py').symbols, { repo: 'acme/shapes', sha, webUrl: null })
        .flatMap(ruleQuestionsForSymbol)
        .map((p) => p.id);
    expect(at('1'.repeat(40))).toEqual(at('2'.repeat(40)));
  });
});
