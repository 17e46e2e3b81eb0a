import { describe, expect, it } from 'vitest';
import { codeSourceRecords } from '../extractors/code-records.js';
import { extractPythonSymbols } from '../extractors/python.js';
import { candidatePair } from '../generators/pair.js';
import { QuestionIndex, questionKey } from './ambiguity.js';
import { failedReasons, validateCandidate } from './checks.js';
import { isBuildPath, isScriptPath, isTestPath, newContentWords, scoreValue } from './value.js';

const SHA = 'a'.repeat(40);
const GEN = { name: 'code-rules', version: 'test', promptVersion: null, model: null };
const recordOf = (path: string, src: string, qualname: string) =>
  codeSourceRecords(path, src, extractPythonSymbols(src, path).symbols, { repo: 'acme/lib', sha: SHA, webUrl: null }).find((r) => r.provenance.qualname === qualname)!;

describe('scoreValue', () => {
  it('names every reason a code pair loses points for, and keeps documented public API whole', () => {
    const src = [
      'class Config:',
      '    """Settings for the adapter: rank, alpha and dropout."""',
      '    def __repr__(self) -> str:',
      '        return "Config"',
      '    def _check(self, x):',
      '        """Check the rank is positive."""',
      '        def helper(y):',
      '            return y',
      '',
    ].join('\n');
    const at = (qualname: string, category: 'purpose' | 'signature' | 'returns', question: string, answer: string, path = 'lib/config.py') => {
      const rec = recordOf(path, src, qualname);
      return scoreValue(candidatePair(rec, GEN, { category, question, answer, evidence: [] }), rec.code);
    };
    expect(at('Config', 'purpose', 'What is the class `Config` in `lib/config.py` for?', 'Settings for the adapter: rank, alpha and dropout.')).toEqual({ score: 1, reasons: [] });
    expect(at('Config.__repr__', 'returns', 'What does the method `Config.__repr__` in `lib/config.py` return?', 'It is annotated to return `str`.')).toEqual({
      score: 0,
      reasons: ['dunder', 'undocumented', 'trivial_type'],
    });
    expect(at('Config._check', 'signature', 'What is the signature of the method `Config._check` in `lib/config.py`?', '`def _check(self, x)`').reasons).toEqual(['private', 'bare_signature']);
    expect(at('Config._check.<locals>.helper', 'signature', 'What is the signature of `helper`?', '`def helper(y)`').reasons).toEqual(['locals', 'private', 'undocumented', 'bare_signature']);
    expect(at('Config', 'purpose', 'What is the class `Config` in `tests/test_config.py` for?', 'Settings for the adapter: rank, alpha and dropout.', 'tests/test_config.py')).toEqual({
      score: 0.4,
      reasons: ['test_code'],
    });
  });

  it('counts what an answer adds to its question', () => {
    expect(newContentWords('What does `scale` do?', 'Scale a number.')).toBe(1);
    expect(newContentWords('What does `scale` do?', 'Call `scale(x)`: doubles a number.')).toBe(4);
    expect(newContentWords('What is the signature of `test_step`?', '`def test_step()`')).toBe(2);
    expect(isTestPath('tests/test_lora.py')).toBe(true);
    expect(isTestPath('src/peft/testing_utils.py')).toBe(false);
    expect(isTestPath('src/pkg/conftest.py')).toBe(true);
    expect(isTestPath('examples/train_test.py')).toBe(true);
    expect(isTestPath('src/peft/tuners/lora/layer.py')).toBe(false);
    expect(isScriptPath('examples/sft/train.py')).toBe(true);
    expect(isScriptPath('src/peft/utils/other.py')).toBe(false);
    expect(isBuildPath('.github/workflows/tests.yml')).toBe(true);
    expect(isBuildPath('docker/peft-gpu/Dockerfile')).toBe(true);
    expect(isBuildPath('src/peft/config.py')).toBe(false);
  });

  it('rejects a commit that lists one file as low value and passes the threshold through the config', () => {
    const rec = recordOf('lib/config.py', 'x = 1\n', 'lib.config');
    const single = candidatePair({ ...rec, kind: 'commit', code: null }, GEN, { category: 'commit_files', question: 'Which files did commit abc change?', answer: 'One file: `lib/config.py`.', evidence: ['lib/config.py'], context: 'lib/config.py' });
    const checked = validateCandidate(single);
    expect(checked.quality).toEqual({ score: 0.5, reasons: ['single_file'] });
    expect(failedReasons(checked)).toEqual([]);
    expect(failedReasons(validateCandidate(single, { minQuestionChars: 1, maxQuestionChars: 400, minAnswerChars: 1, maxAnswerChars: 4000, maxContextChars: 32000, minQuality: 0.6 }))).toEqual(['low_value']);
    expect(checked.verdicts.find((v) => v.check === 'value')!.detail).toBe('score 0.5: single_file');
  });
});

describe('scoreValue on names, bases and lists', () => {
  it('rejects a purpose that restates the name, a trivial base and a one-method listing; keeps a how-to answered with the call', () => {
    const src = [
      'class PeftWarning(UserWarning):',
      '    """Base PEFT warning."""',
      'class Block(nn.Module):',
      '    """A residual block with two convolutions and a skip connection."""',
      '    def forward(self, x):',
      '        """Run the block."""',
      'def scale(x):',
      '    """Scale a number by two."""',
      '',
    ].join('\n');
    const score = (qualname: string, category: 'purpose' | 'bases' | 'methods', question: string, answer: string) => {
      const rec = recordOf('lib/blocks.py', src, qualname);
      return scoreValue(candidatePair(rec, GEN, { category, question, answer, evidence: [] }), rec.code).reasons;
    };
    expect(score('PeftWarning', 'purpose', 'What is the class `PeftWarning` in `lib/blocks.py` for?', 'Base PEFT warning.')).toEqual(['restates_name']);
    expect(score('Block', 'bases', 'What does the class `Block` in `lib/blocks.py` subclass?', 'It inherits from `nn.Module`.')).toEqual(['trivial_base']);
    expect(score('Block', 'methods', 'What public methods does the class `Block` in `lib/blocks.py` define?', '1 public method: `forward`.')).toEqual(['single_method']);
    expect(score('scale', 'purpose', 'How do I scale a number by two using `lib.blocks`?', 'Call `scale(x)` in `lib/blocks.py`: Scale a number by two.')).toEqual([]);
    expect(score('Block', 'purpose', 'What does the class `Block` in `lib/blocks.py` represent?', 'A residual block with two convolutions and a skip connection.')).toEqual([]);
  });

  it('scores commit diffs of tests, CI files and generated dummies, and structural facts about scripts', () => {
    const rec = recordOf('lib/config.py', 'x = 1\n', 'lib.config');
    const commit = (path: string, category: 'commit_change' | 'symbol_history') =>
      scoreValue(
        candidatePair({ ...rec, kind: 'commit', code: null, provenance: { ...rec.provenance, path } }, GEN, {
          category,
          question: `How did commit abc change \`${path}\`?`,
          answer: 'It adds a retry loop around the upload and logs each failed attempt.',
          evidence: [],
        }),
      ).reasons;
    expect(commit('tests/test_upload.py', 'commit_change')).toEqual(['test_code']);
    expect(commit('.github/workflows/ci.yml', 'commit_change')).toEqual(['build_file']);
    expect(commit('src/pkg/utils/dummy_pt_objects.py', 'commit_change')).toEqual(['generated_code']);
    expect(commit('examples/train.py', 'symbol_history')).toEqual(['script_code']);
    expect(commit('src/pkg/upload.py', 'commit_change')).toEqual([]);
  });
});

describe('QuestionIndex', () => {
  it('takes a question once and names the pair that holds it when another answer comes', () => {
    const q = new QuestionIndex();
    expect(q.check('Where is `Linear.merge` defined?', 'k1', 'id1')).toBeNull();
    expect(q.check('where is  `linear.merge` defined', 'k1', 'id1')).toBeNull(); // the same pair again
    expect(q.check('Where is `Linear.merge` defined?', 'k2', 'id2')).toBe('id1');
    expect(q.ambiguous).toBe(1);
    // A pair being replaced frees its question for its successor.
    q.forget('k1');
    expect(q.check('Where is `Linear.merge` defined?', 'k2', 'id2')).toBeNull();
    expect(questionKey('What is X?')).toBe(questionKey('  what is x'));
  });
});
