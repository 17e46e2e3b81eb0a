// Measures the answer-support check against known-good and known-bad pairs to choose SUPPORT_THRESHOLD.
// Run: node --import tsx scripts/tune-support.ts   (prints JSON)
import { codeSourceRecords, type RepoRef } from '../extractors/code-records.js';
import { docSectionRecords } from '../extractors/docs.js';
import { extractPythonSymbols } from '../extractors/python.js';
import { loadSeedPool } from '../generators/seeds.js';
import { modelContext, quotableLines } from '../generators/self-instruct.js';
import { GUIDE_MD, INJECTED_ISSUE, INJECTED_WRONG_ANSWER, OPS_PY } from '../test/model-cases.js';
import { answerSupport, SUPPORT_THRESHOLD, type AnswerSupport, type SupportOptions } from '../validators/support.js';

interface Case {
  id: string;
  group: string;
  answer: string;
  context: string;
}

/**
 * The pairs the scripted server of test/models.e2e.test.ts writes: for each record, the answer
 * `The line "<evidence>".` with the first quotable line of the model's context as evidence.
 */
function scriptedModelPairs(): Case[] {
  const ref: RepoRef = { repo: 'fixture', sha: '0'.repeat(40), webUrl: null };
  const records = [...codeSourceRecords('ops.py', OPS_PY, extractPythonSymbols(OPS_PY, 'ops.py').symbols, ref), ...docSectionRecords('docs/guide.md', GUIDE_MD, ref)];
  return records.flatMap((rec) => {
    const context = modelContext(rec);
    const evidence = quotableLines(context)[0];
    if (!evidence) return [];
    return [{ id: `e2e:${rec.provenance.path}:${rec.provenance.qualname}`, group: 'scripted_model_pair', answer: `The line "${evidence}".`, context }];
  });
}

const seeds = loadSeedPool();
const positives: Case[] = [...seeds.map((s) => ({ id: s.id, group: `seed:${s.kind}`, answer: s.answer, context: s.context })), ...scriptedModelPairs()];
const negatives: Case[] = [
  ...seeds.flatMap((a) =>
    seeds.filter((c) => c.id !== a.id).map((c) => ({ id: `${a.id}@${c.id}`, group: a.kind === c.kind ? 'cross_seed_same_kind' : 'cross_seed_other_kind', answer: a.answer, context: c.context })),
  ),
  { id: 'injected_wrong_answer', group: 'injected', answer: INJECTED_WRONG_ANSWER, context: INJECTED_ISSUE },
];

interface Scored extends Case {
  s: AnswerSupport;
  /** Fails on a missing number or identifier, whatever the threshold. */
  ruleFail: boolean;
}
const score = (cases: Case[], opts: SupportOptions = {}): Scored[] =>
  cases.map((c) => {
    const s = answerSupport(c.answer, c.context, opts);
    return { ...c, s, ruleFail: s.missing.numbers.length + s.missing.identifiers.length > 0 };
  });

const pos = score(positives);
const neg = score(negatives);
const passes = (x: Scored, t: number) => !x.ruleFail && x.s.score >= t;
const pct = (n: number, d: number) => Math.round((1000 * n) / d) / 10;
const round = (x: number) => Math.round(x * 1000) / 1000;

const thresholds = Array.from({ length: 13 }, (_, i) => round(0.3 + 0.05 * i));
const table = thresholds.map((t) => {
  const posPass = pos.filter((x) => passes(x, t)).length;
  const negPass = neg.filter((x) => passes(x, t)).length;
  const byRule = neg.filter((x) => x.ruleFail).length;
  const byCoverage = neg.filter((x) => !x.ruleFail && x.s.score < t).length;
  const groups: Record<string, { passed: number; of: number }> = {};
  for (const x of neg) {
    const g = (groups[x.group] ??= { passed: 0, of: 0 });
    g.of++;
    if (passes(x, t)) g.passed++;
  }
  return {
    threshold: t,
    positives: { passed: posPass, of: pos.length, passRate: pct(posPass, pos.length) },
    negatives: { passed: negPass, of: neg.length, passRate: pct(negPass, neg.length), stoppedByNumberOrIdentifier: byRule, stoppedByCoverageOnly: byCoverage, byGroup: groups },
  };
});

// The rule: keep at least 90 % of positives, stop as many negatives as possible; among equals, keep
// more positives, then take the lower threshold (the looser one for paraphrases not measured here).
const eligible = table.filter((r) => r.positives.passRate >= 90);
const best = eligible.sort((a, b) => a.negatives.passed - b.negatives.passed || b.positives.passed - a.positives.passed || a.threshold - b.threshold)[0] ?? null;

const caseSensitive = { pos: score(positives, { caseSensitiveIdentifiers: true }), neg: score(negatives, { caseSensitiveIdentifiers: true }) };
const brief = (x: Scored) => ({ id: x.id, group: x.group, score: round(x.s.score), words: x.s.terms.words.length, missing: x.s.missing });

console.log(
  JSON.stringify(
    {
      command: 'node --import tsx scripts/tune-support.ts',
      counts: { positives: pos.length, negatives: neg.length },
      table,
      chosen: best && { threshold: best.threshold, positives: best.positives, negatives: best.negatives },
      shipped: { SUPPORT_THRESHOLD, matchesChosen: best?.threshold === SUPPORT_THRESHOLD },
      positivesFailingNumberOrIdentifierRule: pos.filter((x) => x.ruleFail).map(brief),
      positives: pos.map(brief).sort((a, b) => a.score - b.score),
      negativesPassingRulesByScore: neg.filter((x) => !x.ruleFail).map(brief).sort((a, b) => b.score - a.score),
      injectedWrongAnswer: brief(neg.find((x) => x.id === 'injected_wrong_answer')!),
      caseSensitiveIdentifiers: {
        positivesFailingRule: caseSensitive.pos.filter((x) => x.ruleFail).map((x) => ({ id: x.id, missingIdentifiers: x.s.missing.identifiers })),
        extraNegativesStoppedByRule: caseSensitive.neg.filter((x) => x.ruleFail).length - neg.filter((x) => x.ruleFail).length,
      },
    },
    null,
    2,
  ),
);
