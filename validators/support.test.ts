import { describe, expect, it } from 'vitest';
import { RejectReason, Verdict, type QAPair } from '../datasets/schemas.js';
import { loadSeedPool } from '../generators/seeds.js';
import { answerSupport, checkAnswerSupported, lightStem, SUPPORT_THRESHOLD } from './support.js';
import { INJECTED_ISSUE, INJECTED_WRONG_ANSWER } from '../test/model-cases.js';

const pairOf = (answer: string, context: string): QAPair => ({
  id: 'a'.repeat(32),
  question: 'How do I stop the Trainer from hanging when it saves checkpoints to NFS?',
  answer,
  context,
  evidence: [],
  category: 'self_instruct',
  sourceId: 'b'.repeat(32),
  sourceKind: 'issue',
  symbolKind: null,
  variant: null,
  provenance: {
    repo: 'huggingface/transformers',
    commitFirstSeen: 'c'.repeat(40),
    commitLastVerified: 'c'.repeat(40),
    path: null,
    startLine: null,
    endLine: null,
    qualname: null,
    url: null,
    prNumber: null,
    issueNumber: 4242,
    commentId: null,
  },
  generator: { name: 'self-instruct', version: '1.0.0', promptVersion: 'self-instruct.v1+00000000', model: 'm' },
  splitGroup: 'issue:4242',
  verdicts: [],
  nearDupCluster: null,
});

describe('lightStem', () => {
  it('meets the forms of one word', () => {
    for (const w of ['pad', 'pads', 'padded', 'padding']) expect(lightStem(w), w).toBe('pad');
    for (const w of ['cache', 'caches', 'cached', 'caching']) expect(lightStem(w), w).toBe('cach');
    for (const w of ['use', 'uses', 'used', 'using']) expect(lightStem(w), w).toBe('us');
    for (const w of ['entry', 'entries']) expect(lightStem(w), w).toBe('entry');
    // -eed is not -ed: "need" keeps its stem, and "needed" meets it.
    expect([lightStem('need'), lightStem('needed'), lightStem('needs')]).toEqual(['need', 'need', 'need']);
    expect([lightStem('class'), lightStem('classes'), lightStem('status')]).toEqual(['clas', 'clas', 'status']);
  });
});

describe('answerSupport, hand-computed', () => {
  it('stems plurals and -ing/-ed forms to meet the context: 5 of 5 content words', () => {
    // pads→pad, every, sequence→sequenc, longest, one→on all occur; "it", "to", "the" are stop words.
    expect(answerSupport('It pads every sequence to the longest one.', 'Pad every sequence in a batch with pad_id to the length of the longest one.')).toEqual({
      score: 1,
      missing: { numbers: [], identifiers: [], words: [] },
      terms: { numbers: [], identifiers: [], words: ['pads', 'every', 'sequence', 'longest', 'one'] },
    });
  });

  it('compares plain decimals by value and versions as written, and finds words inside identifiers', () => {
    // v4.36.2 = 4.36.2 (a leading v does not count); 3 = 3.0 and 1e-05 = 1e-5 by value; 0.1 is absent.
    // install; train and epochs are parts of num_train_epochs; lr and warmup are absent: 3/5.
    expect(answerSupport('Install v4.36.2 and train for 3 epochs with lr 1e-05 and warmup 0.1.', 'pip install transformers==4.36.2\nlearning_rate=1e-5, num_train_epochs=3.0')).toEqual({
      score: 0.6,
      missing: { numbers: ['0.1'], identifiers: [], words: ['lr', 'warmup'] },
      terms: { numbers: ['v4.36.2', '3', '1e-05', '0.1'], identifiers: [], words: ['install', 'train', 'epochs', 'lr', 'warmup'] },
    });
  });

  it('matches a dotted name as written or by all of its parts', () => {
    // torch.cuda.manual_seed_all is in the context as written; trainer.train by its parts (Trainer, train);
    // torch.mps.seed is neither (no "mps"). use→us and covered→cover are absent: 0/2.
    expect(answerSupport('Use `torch.cuda.manual_seed_all` or `trainer.train`; `torch.mps.seed` is not covered.', 'torch.cuda.manual_seed_all(seed)\nclass Trainer:\n    def train(self):')).toEqual({
      score: 0,
      missing: { numbers: [], identifiers: ['torch.mps.seed'], words: ['use', 'covered'] },
      terms: { numbers: [], identifiers: ['torch.cuda.manual_seed_all', 'trainer.train', 'torch.mps.seed'], words: ['use', 'covered'] },
    });
  });

  it('reads a code span: names are identifiers, values are words', () => {
    // `device_map="auto"`: device_map is a name, "auto" a value (a word, found); `from_pretrained` is one
    // token, so a name. "pass" is not in the context: 1/2.
    expect(answerSupport('Pass `device_map="auto"` to `from_pretrained`.', 'model = AutoModel.from_pretrained(name, device_map="auto")')).toEqual({
      score: 0.5,
      missing: { numbers: [], identifiers: [], words: ['pass'] },
      terms: { numbers: [], identifiers: ['device_map', 'from_pretrained'], words: ['auto', 'pass'] },
    });
  });

  it('matches identifiers case-insensitively unless told otherwise', () => {
    const answer = 'NumPy and `Trainer` are seeded.';
    const context = 'np.random.seed(seed)\nimport numpy\ntrainer = make()';
    // Code spans are read first, then the prose: Trainer, then NumPy. seeded→seed occurs: 1/1.
    expect(answerSupport(answer, context)).toEqual({ score: 1, missing: { numbers: [], identifiers: [], words: [] }, terms: { numbers: [], identifiers: ['Trainer', 'NumPy'], words: ['seeded'] } });
    expect(answerSupport(answer, context, { caseSensitiveIdentifiers: true }).missing.identifiers).toEqual(['Trainer', 'NumPy']);
  });

  it('scores an answer with no content words 1, and names mixing letters and digits are identifiers', () => {
    expect(answerSupport('Use fp16.', 'Pass bf16=True.')).toEqual({
      score: 0,
      missing: { numbers: [], identifiers: ['fp16'], words: ['use'] },
      terms: { numbers: [], identifiers: ['fp16'], words: ['use'] },
    });
    expect(answerSupport('`bf16`', 'Pass bf16=True.').score).toBe(1);
  });
});

describe('checkAnswerSupported', () => {
  it('fails the injected wrong answer: PyTorch and 3.0 are not in the issue', () => {
    const s = answerSupport(INJECTED_WRONG_ANSWER, INJECTED_ISSUE);
    expect(s.missing.identifiers).toContain('PyTorch');
    expect(s.missing.numbers).toContain('3.0');
    // checkpoints occurs; upgrade, removes, entirely do not: 1/4.
    expect(s.score).toBe(0.25);
    expect(checkAnswerSupported(pairOf(INJECTED_WRONG_ANSWER, INJECTED_ISSUE))).toEqual({
      check: 'support',
      pass: false,
      reason: 'unsupported_claim',
      detail: 'numbers not in context: 3.0; identifiers not in context: PyTorch; coverage 0.25 of 4 content words (< 0.45); words not in context: upgrade, removes, entirely',
    });
  });

  it("passes the maintainer's answer and a paraphrase of it", () => {
    for (const answer of ['Set save_on_each_node=False and write checkpoints to local disk, then copy them.', 'Saving checkpoints on NFS blocks for minutes; write them to a local disk and copy them over.'])
      expect(checkAnswerSupported(pairOf(answer, INJECTED_ISSUE)), answer).toMatchObject({ check: 'support', pass: true, reason: null });
  });

  it('passes a fully supported paraphrase of a seed answer', () => {
    const seed = loadSeedPool().find((s) => s.id === 'seed-02')!;
    const paraphrase = "Padding to 'max_length' with no max_length argument pads sequences to the maximum acceptable input length for the model.";
    // max_length is an identifier; padding and pads share the stem pad, so 8 distinct content words, all found.
    expect(answerSupport(paraphrase, seed.context)).toMatchObject({
      score: 1,
      missing: { numbers: [], identifiers: [], words: [] },
      terms: { identifiers: ['max_length'], words: ['padding', 'argument', 'sequences', 'maximum', 'acceptable', 'input', 'length', 'model'] },
    });
    expect(checkAnswerSupported(pairOf(paraphrase, seed.context))).toEqual({ check: 'support', pass: true, reason: null, detail: 'coverage 1.00 of 8 content words' });
  });

  it('holds coverage to the threshold it is given', () => {
    const p = pairOf('Install v4.36.2 and train for 3 epochs.', 'pip install transformers==4.36.2\nnum_train_epochs=3.0, lr=1e-5');
    expect(answerSupport(p.answer, p.context).score).toBe(1);
    const q = pairOf('Install it and train with warmup.', 'pip install transformers\nnum_train_epochs=3.0');
    expect(answerSupport(q.answer, q.context).score).toBeCloseTo(2 / 3, 10);
    expect(checkAnswerSupported(q, 0.6).pass).toBe(true);
    expect(checkAnswerSupported(q, 0.7)).toEqual({ check: 'support', pass: false, reason: 'unsupported_claim', detail: 'coverage 0.67 of 3 content words (< 0.7); words not in context: warmup' });
  });

  it('produces a verdict the Verdict schema accepts', () => {
    expect(Verdict.parse(checkAnswerSupported(pairOf(INJECTED_WRONG_ANSWER, INJECTED_ISSUE)))).toMatchObject({ reason: 'unsupported_claim' });
  });
});

describe('the seed pool at SUPPORT_THRESHOLD', () => {
  // What scripts/tune-support.ts measures as failing, and why; every other seed must pass.
  const KNOWN_FAILING: Record<string, RegExp> = {
    // 40 and 10 are arithmetic on the question's numbers (a 40-token prompt, max_length=50).
    'seed-06': /^numbers not in context: 40, 10; coverage 0\.54 of 13 content words$/,
    // The advice on device_map="auto" and accelerate goes beyond the context.
    'seed-05': /^coverage 0\.38 of 13 content words \(< 0\.45\)/,
  };

  it('is 0.45', () => expect(SUPPORT_THRESHOLD).toBe(0.45));

  for (const seed of loadSeedPool()) {
    it(`${seed.id}: ${seed.id in KNOWN_FAILING ? 'fails as measured' : 'passes'} against its own context`, () => {
      const v = checkAnswerSupported(pairOf(seed.answer, seed.context));
      if (seed.id in KNOWN_FAILING) {
        expect(v.pass).toBe(false);
        expect(v.detail).toMatch(KNOWN_FAILING[seed.id]!);
      } else expect(v, v.detail ?? '').toMatchObject({ pass: true, reason: null });
    });
  }

  it("passes the scripted model test's answer that quotes its evidence line", () => {
    const context = 'def add(a: int, b: int) -> int:\n    """Add two integers and return their sum."""';
    // add, two, integers, return, sum occur; "line" does not: 5/6.
    expect(checkAnswerSupported(pairOf('The line "Add two integers and return their sum.".', context))).toEqual({ check: 'support', pass: true, reason: null, detail: 'coverage 0.83 of 6 content words' });
  });
});
