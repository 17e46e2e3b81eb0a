import { describe, expect, it } from 'vitest';
import { processCodeBatch, restoreContexts } from '../activities/code-batch.js';
import { repoPackages } from '../activities/code-source.js';
import type { SourceRecord } from '../datasets/schemas.js';
import { checkProvenance } from '../evals/verify.js';
import { provenanceAt } from '../extractors/code-records.js';
import { docSectionRecords } from '../extractors/docs.js';
import { codeUsageExamples, docUsageExamples, type UsageCall, type UsageExample } from '../extractors/usage.js';
import { LORA_TEST_PY, QUICKTOUR_MD, REF } from '../test/fixtures/usage.js';
import { makeRepo } from '../test/fixtures.js';
import { DEFAULT_LIMITS, failedReasons, validateCandidate } from '../validators/checks.js';
import { NUM_PERM } from '../validators/dedup.js';
import { docQuestions } from './doc-rules.js';
import { USAGE_RULES, usageExamplePair, usageQuestion, withUsageExamples } from './usage-rules.js';

const TEST_PATH = 'tests/test_lora_usage.py';
const codeExamples = (ref = REF) => codeUsageExamples(TEST_PATH, LORA_TEST_PY, ['peft'], ref, 'test');

/** A question with every `code` span, "quoted" span, hex sha and number replaced: what a template is. */
const template = (q: string) =>
  q
    .replace(/`[^`]*`/g, '<code>')
    .replace(/"[^"]*"/g, '<quote>')
    .replace(/\b[0-9a-f]{7,40}\b/g, '<sha>')
    .replace(/\b\d+\b/g, '<n>');

describe('usageExamplePair', () => {
  it('asks how to use the symbol with its keywords and answers with the verbatim call and where it is', () => {
    const p = usageExamplePair(codeExamples()[0]!);
    expect(p.question).toBe('How is `LoraConfig` called when setting `lora_dropout`, `r` and `target_modules`?');
    expect(p.answer).toBe(
      [
        'The test `TestLoraUsage.test_lora_dropout` calls `peft.LoraConfig` with `r`, `target_modules` and `lora_dropout`:',
        '',
        '```python',
        'LoraConfig(',
        '    r=8,',
        '    target_modules=["q_proj", "v_proj"],',
        '    lora_dropout=0.1,',
        ')',
        '```',
        '',
        '(from `tests/test_lora_usage.py`, lines 18-22)',
      ].join('\n'),
    );
    expect(p.evidence).toEqual(['LoraConfig(\n            r=8,\n            target_modules=["q_proj", "v_proj"],\n            lora_dropout=0.1,\n        )']);
    expect(p).toMatchObject({ category: 'usage_example', sourceKind: 'code_symbol', symbolKind: null, generator: USAGE_RULES, splitGroup: TEST_PATH });
    expect(p.provenance).toMatchObject({ path: TEST_PATH, startLine: 18, endLine: 22, qualname: 'peft.LoraConfig' });
  });

  it('words positional-only calls and aliased callees, and says so in the answer', () => {
    const [, getPeft, , fromPretrained] = codeExamples().map(usageExamplePair);
    expect(getPeft!.question).toBe('Can you show an example of calling `get_peft_model`?');
    expect(getPeft!.answer).toBe(
      'The test `TestLoraUsage.test_lora_dropout` calls `peft.get_peft_model` with 2 positional arguments:\n\n```python\nget_peft_model(model, config)\n```\n\n(from `tests/test_lora_usage.py`, line 23)',
    );
    expect(fromPretrained!.question).toBe('Show me how to set `adapter_name` when calling `PeftModel.from_pretrained`.');
    expect(fromPretrained!.answer.split('\n')[0]).toBe('The test `TestLoraUsage.test_repeated_call` calls `peft.PeftModel.from_pretrained` (as `PM.from_pretrained`) with `adapter_name`:');
  });

  it('gives docs examples questions of their own and answers that point at the page lines', () => {
    const [config, getPeft] = docUsageExamples('docs/source/quicktour.md', QUICKTOUR_MD, ['peft'], REF).map(usageExamplePair);
    expect(config!.question).toBe('How does the documentation pass `inference_mode`, `lora_alpha`, `lora_dropout`, `r` and `task_type` to `LoraConfig`?');
    expect(getPeft!.question).toBe('How does the documentation use `get_peft_model`?');
    expect(getPeft!.answer).toBe(
      'The documentation calls `peft.get_peft_model` with 2 positional arguments:\n\n```python\nget_peft_model(\n    model, peft_config\n)\n```\n\n(from `docs/source/quicktour.md`, lines 16-18)',
    );
    expect(getPeft).toMatchObject({ sourceKind: 'doc_section', splitGroup: 'docs/source/quicktour.md' });
  });

  it('every pair of the fixtures passes validation and its provenance resolves in the repository', async () => {
    const repo = await makeRepo({ [TEST_PATH]: LORA_TEST_PY, 'docs/source/quicktour.md': QUICKTOUR_MD, 'src/peft/__init__.py': '' }, 'https://github.com/acme/peft.git');
    const ref = { ...REF, sha: repo.sha };
    const pairs = [...codeExamples(ref), ...docUsageExamples('docs/source/quicktour.md', QUICKTOUR_MD, ['peft'], ref)].map((e) => validateCandidate(usageExamplePair(e)));
    expect(pairs).toHaveLength(8);
    for (const p of pairs) {
      expect(failedReasons(p), p.question).toEqual([]);
      expect(p.quality).toEqual({ score: 1, reasons: [] });
      expect(await checkProvenance(repo.dir, p), p.question).toBeNull();
    }
    expect(await repoPackages(repo.dir, repo.sha)).toEqual(['peft']);
  });
});

describe('usageQuestion', () => {
  const example = (qualname: string, keywords: string[], origin: UsageExample['origin'] = 'test', path = TEST_PATH): UsageExample => {
    const call: UsageCall = { qualname, name: qualname.split('.').pop()!, callee: qualname.split('.').pop()!, text: `x(${keywords.join(', ')})`, startLine: 1, endLine: 1, keywords, positional: 0, enclosing: null, enclosingDefLine: null, indent: 0 };
    const record: SourceRecord = { id: 'f'.repeat(32), kind: 'code_symbol', text: call.text, contentHash: '', provenance: provenanceAt('acme/peft', REF.sha, { path }), code: null, redactions: [] };
    return { record, call, origin };
  };

  it('asks the same question for the same symbol and keyword set anywhere, so a second answer is ambiguous', () => {
    const a = usageQuestion(example('peft.LoraConfig', ['target_modules', 'r']));
    expect(usageQuestion(example('peft.LoraConfig', ['r', 'target_modules'], 'code', 'examples/train.py'))).toBe(a);
    expect(usageQuestion(example('peft.LoraConfig', ['r', 'target_modules'], 'docs', 'docs/x.md'))).not.toBe(a);
  });

  it('has at least six wordings per kind that differ outside the code spans, and spreads a corpus over them', () => {
    const symbols = Array.from({ length: 40 }, (_, i) => `peft.Config${i}`);
    const sets = [[], ['r'], ['r', 'lora_alpha'], ['r', 'lora_alpha', 'target_modules']];
    for (const origin of ['test', 'docs'] as const) {
      const questions = symbols.flatMap((s) => sets.map((k) => usageQuestion(example(s, k, origin))));
      const counts = new Map<string, number>();
      for (const q of questions) counts.set(template(q), (counts.get(template(q)) ?? 0) + 1);
      for (const k of sets.map((s) => s.length)) {
        const forCount = questions.filter((_, i) => sets[i % sets.length]!.length === k).map(template);
        expect(new Set(forCount).size, `${origin}, ${k} keywords`).toBeGreaterThanOrEqual(6);
      }
      // 4 keyword counts × ≥ 6 wordings: no template holds more than a tenth of the questions.
      expect(Math.max(...counts.values()) / questions.length, origin).toBeLessThanOrEqual(0.1);
      expect(counts.size, origin).toBeGreaterThanOrEqual(24);
    }
  });
});

describe('in a code batch', () => {
  const files = (entries: Record<string, string>) => Object.entries(entries).map(([path, text]) => ({ path, data: new TextEncoder().encode(text) }));
  const input = {
    files: files({
      [TEST_PATH]: LORA_TEST_PY,
      // The package's own code calls its names as implementation: not mined.
      'src/peft/mapping.py': 'from peft import LoraConfig\n\n\ndef default_config():\n    """The default config."""\n    return LoraConfig(r=8, lora_alpha=16)\n',
      'examples/train.py': 'from peft import LoraConfig\n\nconfig = LoraConfig(r=16, lora_alpha=32)\n',
    }),
    ref: REF,
    limits: DEFAULT_LIMITS,
  };

  it('adds usage pairs from tests and examples, validated, beside the rule pairs, and counts them as generation', () => {
    const out = processCodeBatch({ ...input, packages: ['peft'] });
    restoreContexts(out);
    const usage = out.pairs.filter((p) => p.category === 'usage_example');
    expect(usage.map((p) => `${p.provenance.path}:${p.provenance.startLine}:${p.provenance.qualname}`)).toEqual([
      `${TEST_PATH}:18:peft.LoraConfig`,
      `${TEST_PATH}:23:peft.get_peft_model`,
      `${TEST_PATH}:27:peft.LoraConfig`,
      `${TEST_PATH}:31:peft.PeftModel.from_pretrained`,
      `${TEST_PATH}:32:peft.LoraConfig`,
      `${TEST_PATH}:39:peft.LoraConfig`,
      'examples/train.py:3:peft.LoraConfig',
    ]);
    expect(usage.every((p) => failedReasons(p).length === 0)).toBe(true);
    // Each usage pair's context is its record's text, sent once.
    expect(usage.every((p) => p.contextRecord >= 0 && out.records[p.contextRecord]!.id === p.sourceId)).toBe(true);
    expect(out.records.filter((r) => r.code === null)).toHaveLength(7);
    expect(out.symbols).toEqual(processCodeBatch(input).symbols);
    expect(out.signatures.length).toBe(out.pairs.length * NUM_PERM);
    expect(out.seconds.generate).toBeGreaterThan(0);
  });

  it('makes none without the packages', () => {
    const out = processCodeBatch(input);
    expect(out.pairs.filter((p) => p.category === 'usage_example')).toEqual([]);
    expect(out.records.every((r) => r.code !== null)).toBe(true);
  });
});

describe('withUsageExamples', () => {
  it("gives a docs page's usage records the usage pair and its sections the doc rules' pairs", () => {
    const path = 'docs/source/quicktour.md';
    const unit = withUsageExamples(() => docSectionRecords(path, QUICKTOUR_MD, REF), () => docUsageExamples(path, QUICKTOUR_MD, ['peft'], REF), docQuestions);
    const records = unit.records();
    const sections = docSectionRecords(path, QUICKTOUR_MD, REF);
    expect(records.slice(0, sections.length)).toEqual(sections);
    expect(records.slice(sections.length).map((r) => r.provenance.qualname)).toEqual(['peft.LoraConfig', 'peft.get_peft_model']);
    for (const r of sections) expect(unit.questions(r)).toEqual(docQuestions(r));
    expect(records.slice(sections.length).map((r) => unit.questions(r).map((p) => p.category))).toEqual([['usage_example'], ['usage_example']]);
  });
});
