import { describe, expect, it } from 'vitest';
import { codeSourceRecords } from '../extractors/code-records.js';
import { extractPythonSymbols } from '../extractors/python.js';
import type { QAPair } from '../datasets/schemas.js';
import { SHAPES_LOW_VALUE, SHAPES_PAIRS, SHAPES_PY } from '../test/fixtures.js';
import { failedReasons, validateCandidate } from '../validators/checks.js';
import { CODE_RULES, ruleQuestionsForSymbol, taskPhrase } from './code-rules.js';

const SHA = 'c0ffee'.padEnd(40, '0');
const records = () =>
  codeSourceRecords('pkg/shapes.py', SHAPES_PY, extractPythonSymbols(SHAPES_PY, 'pkg/shapes.py').symbols, {
    repo: 'acme/shapes',
    sha: SHA,
    webUrl: 'https://github.com/acme/shapes',
  });

const recordsOf = (path: string, src: string) => codeSourceRecords(path, src, extractPythonSymbols(src, path).symbols, { repo: 'a/b', sha: SHA, webUrl: null });
const checkedPairs = (path: string, src: string) => recordsOf(path, src).flatMap((r) => ruleQuestionsForSymbol(r).map((p) => validateCandidate(p, undefined, r.code)));
const byCategory = (pairs: QAPair[]) => {
  const counts: Record<string, number> = {};
  for (const p of pairs) counts[p.category] = (counts[p.category] ?? 0) + 1;
  return counts;
};

describe('ruleQuestionsForSymbol', () => {
  it('stages the hand-counted pairs per category for shapes.py and rejects the trivia as low_value', () => {
    const pairs = records().flatMap((r) => ruleQuestionsForSymbol(r).map((p) => validateCandidate(p, undefined, r.code)));
    const kept = pairs.filter((p) => !failedReasons(p).length);
    const rejected = pairs.filter((p) => failedReasons(p).length);
    expect(byCategory(kept)).toEqual(SHAPES_PAIRS);
    expect(byCategory(rejected)).toEqual(SHAPES_LOW_VALUE);
    for (const p of rejected) expect(failedReasons(p)).toEqual(['low_value']);
    expect(rejected.map((p) => `${p.provenance.qualname} ${p.quality!.reasons.join('+')}`).sort()).toEqual([
      'Circle.area undocumented+self_only',
      'Circle.area undocumented+trivial_type',
      'Circle.diameter self_only',
      'Circle.diameter trivial_type',
      'Shape single_method',
      'Shape.area self_only',
      'scale undocumented+trivial_type',
      'scale undocumented+trivial_type',
    ]);
    expect(new Set(pairs.map((p) => p.id)).size).toBe(pairs.length);
    for (const p of pairs) expect(p.generator).toEqual(CODE_RULES);
  });

  it('answers from the docstring sections and the body, and names the variant it means', () => {
    const pairs = records().flatMap(ruleQuestionsForSymbol);
    const find = (category: string, qualname: string, variant: string | null = null) => {
      const hit = pairs.filter((p) => p.category === category && p.provenance.qualname === qualname && p.variant === variant);
      expect(hit).toHaveLength(1);
      return hit[0]!;
    };
    expect(find('parameters', 'fetch_shape').answer).toBe(
      '- `name` (type `str`): The registered name of the shape.\n- `timeout` (type `int`, default `10`): Seconds to wait before giving up.',
    );
    // Raises: the docstring's entry, and what the body raises that the docstring does not say.
    expect(find('raises', 'Shape.area').answer).toBe('- `NotImplementedError`: Always, subclasses override it.');
    expect(find('raises', 'fetch_shape').answer).toBe('- `KeyError` (raised in the body)');
    expect(find('raises', 'fetch_shape').context).toBe(`${find('purpose', 'fetch_shape').context}\nraise KeyError(name)`);
    // Returns: the Returns section without its leading type, then the annotation.
    expect(find('returns', 'Shape.area').answer).toBe('It returns the area in square units. (annotated `float`)');
    expect(find('returns', 'fetch_shape').answer).toBe('It returns the shape registered under that name. (annotated `Shape`)');
    expect(find('purpose', 'Circle.diameter', 'property setter').answer).toBe('Set the radius from a diameter value.');
    expect(find('methods', 'Circle').answer).toBe('2 public methods: `diameter`, `area`.');
    // No location pairs: the span is in every pair's provenance.
    expect(pairs.filter((p) => p.category === 'location')).toEqual([]);
    expect(find('purpose', 'Circle').provenance).toMatchObject({
      repo: 'acme/shapes',
      path: 'pkg/shapes.py',
      startLine: 24,
      endLine: 48,
      qualname: 'Circle',
      commitFirstSeen: SHA,
      url: `https://github.com/acme/shapes/blob/${SHA}/pkg/shapes.py#L24-L48`,
    });
    const sig = find('signature', 'Circle.diameter', 'property setter');
    expect(sig.question).toBe('What is the signature of the method `Circle.diameter` (property setter) in `pkg/shapes.py`?');
    // A documented signature says what the call does, from the docstring in its context.
    expect(sig.answer).toBe('`def diameter(self, value: float) -> None`: Set the radius from a diameter value.');
    expect(sig.context).toBe('    @diameter.setter\n    def diameter(self, value: float) -> None:\n        """Set the radius from a diameter value."""');
    // An undocumented one is the header alone.
    expect(find('signature', 'scale', 'overload 1 of 2').context).toBe('@overload\ndef scale(x: int) -> int: ...');
    // A docstring answer's context holds the docstring too, and no line numbers.
    const purpose = find('purpose', 'Circle');
    expect(purpose.question).toBe('What does the class `Circle` in `pkg/shapes.py` represent?');
    expect(purpose.context.split('\n').slice(0, 6)).toEqual(SHAPES_PY.split('\n').slice(23, 29));
    // A summary that names a task is asked the way a user would, and answered with the call.
    const task = find('purpose', 'Shape.area');
    expect(task.question).toBe('How do I compute the area of the shape with a `Shape` (`pkg.shapes`)?');
    expect(task.answer).toBe('Call `Shape.area(self) -> float` in `pkg/shapes.py`: Compute the area of the shape.');
  });

  it('raises = the docstring and every raise of the body, each with its condition', () => {
    const src = [
      'def load(path: str, strict: bool = True):',
      '    """Load a config file from disk.',
      '',
      '    Raises:',
      '        FileNotFoundError: When the file does not exist.',
      '    """',
      '    if not isinstance(path, str):',
      '        raise TypeError(f"path must be a str, got {type(path)}")',
      '    elif strict and path.endswith(".tmp"):',
      '        raise ValueError("temporary files are not configs")',
      '    def inner():',
      '        raise KeyError("nested definitions keep their own raises")',
      '    try:',
      '        return open(path).read()',
      '    except OSError:',
      '        raise',
      '',
    ].join('\n');
    const pairs = checkedPairs('pkg/io.py', src);
    const raises = pairs.find((p) => p.category === 'raises' && p.provenance.qualname === 'load')!;
    expect(raises.answer).toBe(
      ['- `FileNotFoundError`: When the file does not exist.', '- `TypeError` when `not isinstance(path, str)`', '- `ValueError` when `strict and path.endswith(".tmp")`'].join('\n'),
    );
    expect(failedReasons(raises)).toEqual([]);
    expect(raises.context.endsWith('not isinstance(path, str)\nraise TypeError(f"path must be a str, got {type(path)}")\nstrict and path.endswith(".tmp")\nraise ValueError("temporary files are not configs")')).toBe(true);
    const inner = extractPythonSymbols(src, 'pkg/io.py').symbols.find((s) => s.qualname === 'load.<locals>.inner')!;
    expect(inner.raises).toEqual([{ name: 'KeyError', line: 12, text: 'raise KeyError("nested definitions keep their own raises")', condition: null }]);
  });

  it('raises under nested ifs: the answer joins their conditions, the evidence quotes each as it stands in the source', () => {
    const src = [
      'def pick(field, plan):',
      '    if field is not None:',
      '        if len(field) != 2:',
      '            raise ValueError("field must have two names")',
      '    if plan is not None or field is None:',
      '        if not plan.startswith("row"):',
      '            raise RuntimeError("row plans only")',
      '',
    ].join('\n');
    const sym = extractPythonSymbols(src, 'pkg/pick.py').symbols.find((s) => s.qualname === 'pick')!;
    expect(sym.raises).toEqual([
      { name: 'ValueError', line: 4, text: 'raise ValueError("field must have two names")', condition: 'field is not None and len(field) != 2', parts: ['field is not None', 'len(field) != 2'] },
      { name: 'RuntimeError', line: 7, text: 'raise RuntimeError("row plans only")', condition: '(plan is not None or field is None) and not plan.startswith("row")', parts: ['plan is not None or field is None', 'not plan.startswith("row")'] },
    ]);
    const raises = checkedPairs('pkg/pick.py', src).find((p) => p.category === 'raises')!;
    expect(raises.answer).toBe(['- `ValueError` when `field is not None and len(field) != 2`', '- `RuntimeError` when `(plan is not None or field is None) and not plan.startswith("row")`'].join('\n'));
    expect(raises.evidence).toEqual(['ValueError', 'field is not None', 'len(field) != 2', 'RuntimeError', 'plan is not None or field is None', 'not plan.startswith("row")']);
    expect(failedReasons(raises)).toEqual([]);
    // Every piece of evidence is on the symbol's lines of the file, as `qaforge verify` checks.
    const lines = src.split('\n').slice(raises.provenance.startLine! - 1, raises.provenance.endLine!).join('\n');
    for (const e of raises.evidence) expect(lines).toContain(e);
  });

  it('purpose adds the next informative sentence when the summary only restates the name; returns come from prose', () => {
    const src = [
      'class LoraLayer:',
      '    """LoRA layer class.',
      '',
      '    Wraps a base layer and adds low-rank update matrices A and B to its weights.',
      '    """',
      '',
      '    def count(self) -> int:',
      '        """Count the trainable parameters of this layer.',
      '',
      '        Returns the number of elements in every A and B matrix together.',
      '        """',
      '',
    ].join('\n');
    const pairs = checkedPairs('pkg/layer.py', src);
    expect(pairs.find((p) => p.category === 'purpose' && p.provenance.qualname === 'LoraLayer')!.answer).toBe(
      'LoRA layer class. Wraps a base layer and adds low-rank update matrices A and B to its weights.',
    );
    const returns = pairs.find((p) => p.category === 'returns')!;
    expect(returns.answer).toBe('Returns the number of elements in every A and B matrix together. (annotated `int`)');
    expect(failedReasons(returns)).toEqual([]);
  });

  it('scores structural facts about test code as low value, whatever the wording', () => {
    const src = 'class TestLora:\n    """Tests for LoRA."""\n\n    def test_merge(self):\n        """Merging keeps outputs close."""\n        assert True\n';
    const pairs = checkedPairs('tests/test_lora.py', src);
    expect(pairs.length).toBeGreaterThan(0);
    for (const p of pairs) {
      expect(failedReasons(p)).toEqual(['low_value']);
      expect(p.quality!.reasons).toContain('test_code');
    }
  });

  it('draws no docstring pair from a private undocumented or boilerplate symbol', () => {
    const src = 'def _hidden(x):\n    pass\n\ndef forward(x):\n    """Forward pass."""\n    return x\n';
    const recs = codeSourceRecords('m.py', src, extractPythonSymbols(src, 'm.py').symbols, { repo: 'a/b', sha: SHA, webUrl: null });
    const cats = recs.flatMap(ruleQuestionsForSymbol).map((p) => `${p.category}:${p.provenance.qualname}`);
    expect(cats.sort()).toEqual(['signature:forward']);
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

describe('taskPhrase', () => {
  it('turns a summary that starts with a known verb into the task a user asks about', () => {
    expect(taskPhrase('Merges the adapter weights into the base model.')).toBe('merge the adapter weights into the base model');
    expect(taskPhrase('Returns the number of trainable parameters.')).toBe('get the number of trainable parameters');
    expect(taskPhrase('Applies dropout to the input.')).toBe('apply dropout to the input');
    expect(taskPhrase('A helper for the config.')).toBeNull();
    expect(taskPhrase('Load `x`: see below.')).toBeNull();
  });
});
