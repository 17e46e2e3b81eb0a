import { describe, expect, it } from 'vitest';
import { normalizeForMatch } from '../validators/checks.js';
import {
  codeUsageExamples,
  dedentCall,
  displayName,
  docUsageExamples,
  extractUsageCalls,
  isInsidePackage,
  MAX_PER_SYMBOL,
  topLevelPackages,
  type UsageCall,
} from './usage.js';
import { LORA_TEST_PY, QUICKTOUR_MD, REF } from '../test/fixtures/usage.js';

const brief = (c: UsageCall) => [c.qualname, c.callee, c.startLine, c.endLine, c.keywords.join(','), c.positional, c.enclosing];

describe('extractUsageCalls', () => {
  const calls = extractUsageCalls(LORA_TEST_PY, ['peft']);

  it("finds the calls of the package's public names through every kind of import, each call shape once", () => {
    expect(calls.map(brief)).toEqual([
      ['peft.LoraConfig', 'LoraConfig', 18, 22, 'r,target_modules,lora_dropout', 0, 'TestLoraUsage.test_lora_dropout'],
      ['peft.get_peft_model', 'get_peft_model', 23, 23, '', 2, 'TestLoraUsage.test_lora_dropout'],
      // The repeated call on line 28 is the same text: one example. The one in the comment and the one
      // in the string are no calls; _private_helper is private; the inner get_peft_model(...) on line 31
      // repeats line 23's keyword set (none).
      ['peft.LoraConfig', 'LoraConfig', 27, 27, 'r,target_modules', 0, 'TestLoraUsage.test_repeated_call'],
      ['peft.PeftModel.from_pretrained', 'PM.from_pretrained', 31, 31, 'adapter_name', 2, 'TestLoraUsage.test_repeated_call'],
      ['peft.LoraConfig', 'peft.LoraConfig', 32, 32, 'r,use_dora', 0, 'TestLoraUsage.test_repeated_call'],
      // `from peft import config` inside test_local_import binds nothing here: config is a local variable.
      ['peft.LoraConfig', 'LoraConfig', 39, 39, 'r,bias', 0, 'TestLoraUsage.test_local_variable'],
    ]);
  });

  it('keeps the multi-line call verbatim, with the lines and indentation it needs for the answer', () => {
    const c = calls[0]!;
    expect(c.text).toBe('LoraConfig(\n            r=8,\n            target_modules=["q_proj", "v_proj"],\n            lora_dropout=0.1,\n        )');
    expect([c.name, c.indent, c.enclosingDefLine]).toEqual(['LoraConfig', 8, 16]);
    expect(dedentCall(c.text, c.indent)).toBe('LoraConfig(\n    r=8,\n    target_modules=["q_proj", "v_proj"],\n    lora_dropout=0.1,\n)');
    expect(normalizeForMatch(dedentCall(c.text, c.indent))).toBe(normalizeForMatch(c.text));
    expect(calls[3]!.name).toBe('PeftModel.from_pretrained');
  });

  it('finds nothing without the package, or in a file that does not import it', () => {
    expect(extractUsageCalls(LORA_TEST_PY, [])).toEqual([]);
    expect(extractUsageCalls(LORA_TEST_PY, ['transformers']).map((c) => c.qualname)).toEqual(['transformers.AutoModelForCausalLM.from_pretrained']);
    expect(extractUsageCalls('from .testing_common import LoraConfig\nLoraConfig(r=8)\n', ['peft'])).toEqual([]);
  });

  it('resolves submodule imports, aliases of modules, and skips private modules, dunders and elided calls', () => {
    const src = [
      'import peft.tuners.lora',
      'import peft.utils.other as other',
      'from peft.tuners import _private as pv',
      'peft.tuners.lora.LoraLayer(base, adapter_name="default")',
      'other.prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)',
      'pv.helper(1)',
      'peft.LoraConfig.__init__(cfg, r=1)',
      'peft(1)',
      'peft.LoraConfig(...)',
      '',
    ].join('\n');
    expect(extractUsageCalls(src, ['peft']).map(brief)).toEqual([
      ['peft.tuners.lora.LoraLayer', 'peft.tuners.lora.LoraLayer', 4, 4, 'adapter_name', 1, null],
      ['peft.utils.other.prepare_model_for_kbit_training', 'other.prepare_model_for_kbit_training', 5, 5, 'use_gradient_checkpointing', 1, null],
    ]);
    expect(displayName('peft.tuners.lora.LoraLayer')).toBe('LoraLayer');
    expect(displayName('peft.utils.other.prepare_model_for_kbit_training')).toBe('prepare_model_for_kbit_training');
  });

  it(`bounds a symbol to ${MAX_PER_SYMBOL} examples per file, one per keyword set, in file order`, () => {
    const lines = ['from peft import LoraConfig', ...Array.from({ length: 10 }, (_, i) => `LoraConfig(k${i}=1)`), 'LoraConfig(k0=2)', 'LoraConfig()'];
    const got = extractUsageCalls(lines.join('\n'), ['peft']);
    expect(got.map((c) => [c.startLine, c.text])).toEqual(Array.from({ length: MAX_PER_SYMBOL }, (_, i) => [i + 2, `LoraConfig(k${i}=1)`]));
  });
});

describe('topLevelPackages', () => {
  it('names the packages at the root and under src/, not tests, docs or examples', () => {
    const paths = ['src/peft/__init__.py', 'src/peft/tuners/__init__.py', 'tests/__init__.py', 'examples/__init__.py', 'other/__init__.py', 'setup.py', '__init__.py'];
    expect(topLevelPackages(paths)).toEqual(['other', 'peft']);
    expect(isInsidePackage('src/peft/mapping.py', ['peft'])).toBe(true);
    expect(isInsidePackage('peft/mapping.py', ['peft'])).toBe(true);
    expect(isInsidePackage('tests/test_peft.py', ['peft'])).toBe(false);
  });
});

describe('codeUsageExamples', () => {
  it('makes one code_symbol record per call: the def line and the call lines, provenance at the call', () => {
    const ex = codeUsageExamples('tests/test_lora_usage.py', LORA_TEST_PY, ['peft'], REF, 'test');
    expect(ex).toHaveLength(6);
    const { record, origin } = ex[0]!;
    expect(origin).toBe('test');
    expect(record.kind).toBe('code_symbol');
    expect(record.code).toBeNull();
    expect(record.text).toBe('    def test_lora_dropout(self):\n        config = LoraConfig(\n            r=8,\n            target_modules=["q_proj", "v_proj"],\n            lora_dropout=0.1,\n        )');
    expect(record.provenance).toMatchObject({
      path: 'tests/test_lora_usage.py',
      startLine: 18,
      endLine: 22,
      qualname: 'peft.LoraConfig',
      url: `https://github.com/acme/peft/blob/${REF.sha}/tests/test_lora_usage.py#L18-L22`,
    });
    // Ids hash content, not lines: the same test moved down the file keeps its records.
    const moved = codeUsageExamples('tests/test_lora_usage.py', `\n\n${LORA_TEST_PY}`, ['peft'], REF, 'test');
    expect(moved.map((e) => e.record.id)).toEqual(ex.map((e) => e.record.id));
    expect(moved[0]!.record.provenance.startLine).toBe(20);
    expect(new Set(ex.map((e) => e.record.id)).size).toBe(6);
  });
});

describe('docUsageExamples', () => {
  it("finds calls in a page's Python blocks with the page's imports; records keep the section's lines", () => {
    const ex = docUsageExamples('docs/source/quicktour.md', QUICKTOUR_MD, ['peft'], REF);
    expect(ex.map((e) => [...brief(e.call), e.record.provenance.startLine, e.record.provenance.endLine, e.record.kind, e.record.provenance.qualname])).toEqual([
      ['peft.LoraConfig', 'LoraConfig', 8, 8, 'task_type,inference_mode,r,lora_alpha,lora_dropout', 0, null, 1, 10, 'doc_section', 'peft.LoraConfig'],
      // The bash block is not Python, and the call in the last block is a string.
      ['peft.get_peft_model', 'get_peft_model', 16, 18, '', 2, null, 11, 27, 'doc_section', 'peft.get_peft_model'],
    ]);
    // The record text is the file's lines verbatim (the list indentation kept); the call is the block's.
    expect(ex[1]!.record.text).toBe('   model = get_peft_model(\n       model, peft_config\n   )');
    expect(ex[1]!.call.text).toBe('get_peft_model(\n    model, peft_config\n)');
    expect(ex.every((e) => e.origin === 'docs')).toBe(true);
  });

  it('finds nothing on a page that does not import the package', () => {
    expect(docUsageExamples('docs/x.md', '# X\n\n```py\nget_peft_model(model, cfg)\n```\n', ['peft'], REF)).toEqual([]);
  });
});
