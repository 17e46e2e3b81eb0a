// The model step of a run: self-instruct over a sample of the source records (code symbols, docs
// sections, commits, PRs, issues), or paraphrase over a sample of the validated rule pairs; each new
// pair held to the deterministic checks and then judged by a second model; only pairs both pass are
// staged, the rest are kept in `rejected` with the reason. Units are taken in a stable hash order and
// marked done per task and generator model, so a re-run or a retry resumes where it stopped, and
// every call it repeats is answered from the model cache.
import type { QAPair, SourceKind, SourceRecord } from '../datasets/schemas.js';
import { livePairsBy, livePairsNotBy, sourceIdsOf, sourcesByIds, stagedPairsByIds } from '../datasets/queries.js';
import { splitGroupOf } from '../generators/pair.js';
import { loadSeedPool } from '../generators/seeds.js';
import { FEEDBACK_CORRECTION } from '../generators/correction.js';
import { maxParaphraseChars, paraphrasePrompt, paraphraseRule, PARAPHRASE } from '../generators/paraphrase.js';
import { selfInstructPair, selfInstructPrompt, SELF_INSTRUCT, type Example } from '../generators/self-instruct.js';
import { failpoint } from '../lib/failpoint.js';
import { unitInterval } from '../lib/hash.js';
import { BudgetExhausted, type Usage } from '../lib/models/cache.js';
import type { ModelTask } from '../lib/models/config.js';
import { openChatModels, type ModelChoice, type Models } from '../lib/models/index.js';
import { failedReasons } from '../validators/checks.js';
import { describeHits, screenInjection } from '../validators/injection.js';
import { judgePair, judgeParaphrase, judgePrompt, paraphraseJudgePrompt, type JudgeResult } from '../validators/judge.js';
import { checkModelPair, checkParaphrasePair } from '../validators/model-pair.js';
import type { RunContext } from './context.js';
import type { Source, SourcePlan, UnitResult } from './source.js';
import { modelDoneKey } from '../datasets/state-keys.js';

const KINDS: SourceKind[] = ['code_symbol', 'doc_section', 'commit', 'pull_request', 'issue'];
const MARK_EVERY = 8;

export interface ModelRun {
  choice: ModelChoice;
  /** What the step wrote: self-instruct pairs or paraphrases of rule pairs. */
  task: ModelTask;
  usage: Usage;
  /** Records left for a later run because the token budget ran out. */
  leftByBudget: number;
  /** Units not yet written for after this pass: the backlog later passes work through, `llmSample` at a time. */
  backlog: number;
}


/** One thing the model step writes from: a source record (self-instruct) or a rule pair (paraphrase). */
interface Unit {
  id: string;
  /** The untrusted text a model would be shown: screened first, never shown when it speaks to a model. */
  shown: string;
  /** Where a skip is recorded. */
  locator: string;
}

/** What the generator made of one unit. */
type Written =
  | { kind: 'pair'; pair: QAPair }
  /** Checked and failed before any judge call (self-instruct's novelty filter). */
  | { kind: 'rejected'; checked: QAPair; stat: string }
  /** No pair: recorded as a skip with its reason. */
  | { kind: 'skip'; stat: string; detail: string }
  /** Nothing to write from (a record with no line to quote). */
  | { kind: 'none'; stat: string };

/** A task of the model step: its units in order, how one is written, checked and judged. */
interface ModelStep<U extends Unit> {
  name: 'self-instruct' | 'paraphrase';
  /** This pass's units, in order. */
  units: U[];
  /** Units not yet done before this pass (this pass's and the backlog behind them). */
  waiting: number;
  write(u: U, batch: U[]): Promise<Written>;
  /** The deterministic layers; a pair failing any of them costs no judge call. */
  check(pair: QAPair, u: U): QAPair;
  judge(checked: QAPair, u: U): Promise<JudgeResult>;
  /** Called for a pair the judge passed. */
  passed?(pair: QAPair, u: U): void;
}

const rank = (id: string) => unitInterval(id, 'self-instruct-order');

interface ModelPlan extends SourcePlan {
  models: Models;
  step: ModelStep<Unit>;
  key: (id: string) => string;
  leftByBudget: number;
}

/**
 * The model step of a run: self-instruct or paraphrase (models.task; on the local backend `auto` is
 * paraphrase), each written pair checked, then judged, then handed to the sink. `modelRun()` says
 * which models it used and what that cost.
 */
export function selfInstructSource(): Source<ModelPlan> & { modelRun(): ModelRun | null } {
  let last: ModelPlan | null = null;
  return {
    name: 'self-instruct',
    modelRun: () => (last ? { choice: last.models.choice, task: last.models.choice.task, usage: last.models.meter.usage, leftByBudget: last.leftByBudget, backlog: backlogOf(last) } : null),
    async plan(run) {
      const { cfg, log, stores } = run;
      const models = openChatModels(cfg);
      try {
        const { choice } = models;
        const task = choice.task;
        if (choice.sameModelNote) log.warn(choice.sameModelNote);
        const key = (id: string) => modelDoneKey(task, choice.generator.model, id);
        const done = new Set(Object.keys(await stores.stateWithPrefix(key(''))).map((k) => k.slice(k.lastIndexOf(':') + 1)));
        const step: ModelStep<Unit> = task === 'paraphrase' ? await paraphraseStep(run, models, done) : await selfInstructStep(run, models, done);
        const unitName = task === 'paraphrase' ? 'pairs' : 'records';
        const what = task === 'paraphrase' ? 'rule pairs' : 'records';
        log.info(
          { task, units: step.units.length, waiting: step.waiting, generator: choice.generator.model, judge: choice.judge.model, backend: choice.backend },
          `${step.name}: ${step.units.length} ${what} this pass (models.llmSample), ${step.waiting - step.units.length} more waiting in the backlog`,
        );
        last = { from: null, to: null, total: step.units.length, unitName, stageNames: { read: null, extract: null, generate: step.name, judge: 'judge' }, models, step, key, leftByBudget: 0, cursor: null };
        return last;
      } catch (e) {
        await models.close();
        throw e;
      }
    },
    read: (run, plan) => readModelStep(run, plan),
    note(plan) {
      const { choice, meter } = plan.models;
      const u = meter.usage;
      return `${plan.step.name}, ${choice.backend}: ${choice.generator.model} writes, ${choice.judge.model} judges; ${u.calls} calls, ${u.cacheHits} cached, ${u.promptTokens + u.completionTokens} tokens${plan.leftByBudget ? `; budget reached, ${plan.leftByBudget} left` : ''}; backlog ${backlogOf(plan)}${choice.sameModelNote ? `; ${choice.sameModelNote}` : ''}`;
    },
  };
}

const backlogOf = (plan: ModelPlan) => plan.step.waiting - plan.step.units.length + plan.leftByBudget;

/** Each unit screened, written, checked and judged, in order; its done-mark written once its pairs are staged. */
async function* readModelStep(run: RunContext, plan: ModelPlan): AsyncGenerator<UnitResult> {
  const { cfg, log } = run;
  const { models, step, key } = plan;
  const { choice } = models;
  const sample = step.units;
  const width = choice.backend === 'local' ? 1 : cfg.models.concurrency;
  let marks: Record<string, string> = {};
  // The pairs first, then the marks that say they are in: the runner flushes before it writes them.
  const withMark = (u: Unit, out: UnitResult): UnitResult => {
    marks[key(u.id)] = run.runId;
    if (Object.keys(marks).length < MARK_EVERY) return out;
    const state = marks;
    marks = {};
    return { ...out, checkpoint: { state } };
  };
  let processed = 0;
  let budgetHit = false;
  try {
    await run.sink.ready();
    for (let i = 0; i < sample.length && !budgetHit; i += width) {
      const batch: Unit[] = [];
      for (const u of sample.slice(i, i + width)) {
        // Untrusted text that speaks to a model is never shown to one: recorded, and the unit done.
        const screen = screenInjection(u.shown);
        if (!screen.flagged) {
          batch.push(u);
          continue;
        }
        processed++;
        const detail = `${screen.version}: not sent to ${models.generator.model}: ${describeHits(screen.hits)}`.slice(0, 400);
        yield withMark(u, { skips: [{ stage: 'generate', skip: { path: u.locator, reason: 'prompt_injection', detail } }] });
      }
      const t = performance.now();
      const results = await Promise.allSettled(batch.map(async (u) => ({ u, out: await step.write(u, batch) })));
      const generate = (performance.now() - t) / 1000 / Math.max(1, batch.length);
      for (const r of results) {
        if (r.status === 'rejected') {
          if (!(r.reason instanceof BudgetExhausted)) throw r.reason;
          budgetHit = true;
          continue;
        }
        const { u, out } = r.value;
        let result: UnitResult;
        if (out.kind === 'pair') {
          // Judged before it counts: a budget that runs out here leaves the unit for the next run.
          const judged = await judgeWritten(run, out.pair, u, step).catch((e: unknown) => {
            if (e instanceof BudgetExhausted) return null;
            throw e;
          });
          if (judged === null) {
            budgetHit = true;
            continue;
          }
          if (judged.passed) step.passed?.(out.pair, u);
          result = judged.result;
        } else if (out.kind === 'none') result = { rejects: [{ stage: 'generate', reason: out.stat }] };
        else if (out.kind === 'skip') result = { skips: [{ stage: 'generate', skip: { path: u.locator, reason: 'model_output', detail: `${models.generator.model}: ${out.detail}` } }] };
        else result = { checked: [{ pair: out.checked, rejected: out.stat }] };
        processed++;
        yield withMark(u, { ...result, seconds: { ...result.seconds, generate } });
      }
    }
    if (budgetHit) {
      plan.leftByBudget = sample.length - processed;
      log.warn({ budget: cfg.models.budgetTokens, spent: models.meter.spent, left: plan.leftByBudget }, `${step.name} stopped: token budget of ${cfg.models.budgetTokens} reached; ${plan.leftByBudget} left for the next run`);
      yield { units: plan.leftByBudget, rejects: [{ stage: 'generate', reason: 'budget', n: plan.leftByBudget }] };
    }
    if (Object.keys(marks).length) yield { units: 0, checkpoint: { state: marks } };
  } finally {
    await models.close();
  }
}

/**
 * Deterministic layers first (cheap); only a pair that passes them all costs a judge call, and the
 * judge's pass alone never stages a pair.
 */
async function judgeWritten<U extends Unit>(run: RunContext, pair: QAPair, u: U, step: ModelStep<U>): Promise<{ passed: boolean; result: UnitResult }> {
  const checked = step.check(pair, u);
  // A pair already stored costs no judge call either.
  if (run.sink.knows(checked.id) || failedReasons(checked).length) return { passed: false, result: { checked: [{ pair: checked }] } };
  const t = performance.now();
  const { verdict, reply } = await step.judge(checked, u);
  checked.verdicts.push(verdict);
  // A 'supported' under models.judgeMinScore is counted apart from the verdicts that fail on their own.
  const why = verdict.pass ? null : reply ? (reply.verdict === 'supported' ? 'low_score' : reply.verdict) : 'invalid_json';
  return {
    passed: verdict.pass,
    result: {
      checked: [{ pair: checked }],
      judged: { seen: 1, kept: verdict.pass ? 1 : 0 },
      rejects: why ? [{ stage: 'judge', reason: why }] : [],
      seconds: { judge: (performance.now() - t) / 1000 },
    },
  };
}

type RecordUnit = Unit & { rec: SourceRecord };

/** Self-instruct over source records, with seed and machine-written examples and a novelty filter. */
async function selfInstructStep(ctx: RunContext, models: Models, done: Set<string>): Promise<ModelStep<RecordUnit>> {
  const { cfg } = ctx;
  const { picked: sample, waiting } = await pickRecords(ctx, done);
  const prompt = selfInstructPrompt();
  const jPrompt = judgePrompt();
  const seeds = loadSeedPool();
  const pool = await machinePool(ctx);
  const poolQuestions = [...seeds.map((s) => s.question), ...pool.map((p) => p.question)];
  const judgeDeps = { chat: models.judge, prompt: jPrompt, repo: ctx.repo.repo, minScore: cfg.models.judgeMinScore };
  return {
    name: 'self-instruct',
    waiting,
    units: sample.map((rec) => ({ id: rec.id, shown: rec.text, locator: locatorOf(rec), rec })),
    async write(u, batch) {
      // Examples written from records before this batch in the order, whichever run wrote them: a
      // retry of the batch builds the same prompts, and answers them from the cache.
      const machine = pool.filter((p) => p.rank < rank(batch[0]!.id)).slice(-2);
      const out = await selfInstructPair(u.rec, machine, { chat: models.generator, prompt, seeds, poolQuestions, repo: ctx.repo.repo });
      if (out.kind === 'pair') return { kind: 'pair', pair: out.pair };
      if (out.kind === 'no_quotable_lines') return { kind: 'none', stat: 'no_quotable_lines' };
      if (out.kind === 'invalid') return { kind: 'skip', stat: 'model_output', detail: `${out.detail}; reply: ${out.raw.slice(0, 300)}` };
      const checked = checkModelPair(out.pair, cfg.limits);
      checked.verdicts.push({ check: 'novelty', pass: false, reason: 'near_seed', detail: `ROUGE-L ${out.score.toFixed(2)} against ${JSON.stringify(out.of.slice(0, 120))}` });
      return { kind: 'rejected', checked, stat: 'near_seed' };
    },
    check: (pair) => checkModelPair(pair, cfg.limits),
    judge: (checked) => judgePair(checked, judgeDeps),
    passed(pair, u) {
      pool.push({ ...exampleOf(pair), rank: rank(u.rec.id) });
      pool.sort((a, b) => a.rank - b.rank);
      poolQuestions.push(pair.question);
    },
  };
}

type RuleUnit = Unit & { rule: QAPair };

/** Paraphrase over validated rule pairs: a new question, the rule's answer verbatim, judged for sameness. */
async function paraphraseStep(ctx: RunContext, models: Models, done: Set<string>): Promise<ModelStep<RuleUnit>> {
  const { cfg } = ctx;
  const { picked: rules, waiting } = await pickRulePairs(ctx, done);
  const prompt = paraphrasePrompt();
  const jPrompt = paraphraseJudgePrompt();
  const judgeDeps = { chat: models.judge, prompt: jPrompt, repo: ctx.repo.repo, minScore: cfg.models.judgeMinScore };
  const maxChars = (rule: QAPair) => maxParaphraseChars(rule.question, cfg.limits.maxQuestionChars);
  return {
    name: 'paraphrase',
    waiting,
    // The generator sees the question; the judge also the answer: both are screened.
    units: rules.map((rule) => ({ id: rule.id, shown: `${rule.question}\n${rule.answer}`, locator: `${pairLocator(rule)} (${rule.category} pair ${rule.id})`, rule })),
    async write(u) {
      const out = await paraphraseRule(u.rule, { chat: models.generator, prompt, repo: ctx.repo.repo, maxQuestionChars: cfg.limits.maxQuestionChars });
      if (out.kind === 'pair') return out;
      if (out.kind === 'copy') return { kind: 'skip', stat: 'copy', detail: `gave the original question back verbatim; reply: ${out.raw.slice(0, 300)}` };
      return { kind: 'skip', stat: 'model_output', detail: `${out.detail}; reply: ${out.raw.slice(0, 300)}` };
    },
    check: (pair, u) => checkParaphrasePair(pair, u.rule, cfg.limits, maxChars(u.rule)),
    judge: (checked, u) => judgeParaphrase(checked, u.rule.question, judgeDeps),
  };
}

/** Generators whose pairs are model-written: never the input of a paraphrase. */
const MODEL_GENERATORS = [SELF_INSTRUCT.name, PARAPHRASE.name, FEEDBACK_CORRECTION.name];

/**
 * The rule pairs this run rewords: staged (so every check passed them), not yet done by this
 * generator, in a stable hash order, the sample shared out across the categories present so that
 * each gets its turn.
 */
async function pickRulePairs(ctx: RunContext, done: Set<string>): Promise<{ picked: QAPair[]; waiting: number }> {
  const n = ctx.cfg.models.llmSample;
  if (n === 0) return { picked: [], waiting: 0 };
  const byCategory = new Map<string, { id: string; rank: number }[]>();
  for await (const { id, category } of livePairsNotBy(ctx.stores, ctx.repo.repo, MODEL_GENERATORS)) {
    if (done.has(id)) continue;
    const list = byCategory.get(category) ?? [];
    list.push({ id, rank: rank(id) });
    byCategory.set(category, list);
  }
  const chosen = roundRobin([...byCategory.keys()].sort().map((k) => byCategory.get(k)!.sort((a, b) => a.rank - b.rank)), n === 'all' ? Infinity : n);
  chosen.sort((a, b) => a.rank - b.rank);
  const pairs = await stagedPairsByIds(ctx.stores, chosen.map((c) => c.id));
  return { picked: chosen.map((c) => pairs.get(c.id)!).filter(Boolean), waiting: [...byCategory.values()].reduce((a, l) => a + l.length, 0) };
}

/** Up to `want` items, taking the i-th of every list before any list's (i+1)-th. */
function roundRobin<T>(lists: T[][], want: number): T[] {
  const out: T[] = [];
  for (let i = 0; out.length < want; i++) {
    let any = false;
    for (const l of lists) {
      if (i >= l.length || out.length >= want) continue;
      out.push(l[i]!);
      any = true;
    }
    if (!any) break;
  }
  return out;
}

/**
 * The records this run writes for: not yet done by this generator, in a stable hash order, the
 * sample shared out across the kinds present so that each kind gets its turn.
 */
async function pickRecords(ctx: RunContext, done: Set<string>): Promise<{ picked: SourceRecord[]; waiting: number }> {
  const n = ctx.cfg.models.llmSample;
  if (n === 0) return { picked: [], waiting: 0 };
  const byKind = new Map<SourceKind, { id: string; rank: number }[]>();
  for await (const { id, kind } of sourceIdsOf(ctx.stores, ctx.repo.repo)) {
    if (done.has(id)) continue;
    const list = byKind.get(kind) ?? [];
    list.push({ id, rank: rank(id) });
    byKind.set(kind, list);
  }
  for (const list of byKind.values()) list.sort((a, b) => a.rank - b.rank);
  const chosen = roundRobin(KINDS.map((k) => byKind.get(k) ?? []), n === 'all' ? Infinity : n);
  chosen.sort((a, b) => a.rank - b.rank);
  const records = await sourcesByIds(ctx.stores, chosen.map((c) => c.id));
  return { picked: chosen.map((c) => records.get(c.id)!).filter(Boolean), waiting: [...byKind.values()].reduce((a, l) => a + l.length, 0) };
}

type PoolItem = Example & { rank: number };

/** Model-written pairs already staged: shown as examples, and the novelty filter's reference. */
async function machinePool(ctx: RunContext): Promise<PoolItem[]> {
  const pool: PoolItem[] = [];
  for await (const r of livePairsBy(ctx.stores, ctx.repo.repo, SELF_INSTRUCT.name))
    pool.push({
      kind: r.source_kind as string,
      question: r.question as string,
      answer: r.answer as string,
      context: r.context as string,
      evidence: (JSON.parse(r.record as string) as { evidence: string[] }).evidence[0] ?? '',
      rank: rank(r.source_id as string),
    });
  return pool.sort((a, b) => a.rank - b.rank);
}

const exampleOf = (p: QAPair): Example => ({ kind: p.sourceKind, context: p.context, question: p.question, answer: p.answer, evidence: p.evidence[0] ?? '' });

function locatorOf(rec: SourceRecord): string {
  const v = rec.provenance;
  return v.path ? `${v.path}${v.qualname ? `:${v.qualname}` : ''}` : splitGroupOf(rec);
}

function pairLocator(p: QAPair): string {
  const v = p.provenance;
  return v.path ? `${v.path}${v.qualname ? `:${v.qualname}` : ''}` : p.splitGroup;
}
