// The model step of a run: self-instruct over a sample of the source records (code symbols, docs
// sections, commits, PRs, issues), each new pair held to the deterministic checks and then judged by
// a second model; only pairs both pass are staged, the rest are kept in `rejected` with the reason.
// Records are taken in a stable hash order and marked done per generator model, so a re-run or a
// retry resumes where it stopped, and every call it repeats is answered from the model cache.
import type { QAPair, SourceKind, SourceRecord } from '../datasets/schemas.js';
import { sourceFromRow, sqlString } from '../datasets/store.js';
import { splitGroupOf } from '../generators/pair.js';
import { loadSeedPool } from '../generators/seeds.js';
import { selfInstructPair, selfInstructPrompt, SELF_INSTRUCT, type Example } from '../generators/self-instruct.js';
import { failpoint } from '../lib/failpoint.js';
import { unitInterval } from '../lib/hash.js';
import { BudgetExhausted, type Usage } from '../lib/models/cache.js';
import { openChatModels, type ModelChoice } from '../lib/models/index.js';
import type { PromptTemplate } from '../lib/models/prompt-template.js';
import type { ChatModel } from '../lib/models/types.js';
import { startProgress, type StageStats } from '../lib/progress.js';
import { failedReasons } from '../validators/checks.js';
import { describeHits, screenInjection } from '../validators/injection.js';
import { judgePair, judgePrompt } from '../validators/judge.js';
import { checkModelPair } from '../validators/model-pair.js';
import { sinkDelta, stage, type RunContext, type SourceOutcome } from './context.js';

const KINDS: SourceKind[] = ['code_symbol', 'doc_section', 'commit', 'pull_request', 'issue'];
const MARK_EVERY = 8;

export interface ModelRun {
  choice: ModelChoice;
  usage: Usage;
  /** Records left for a later run because the token budget ran out. */
  leftByBudget: number;
}

const doneKey = (model: string, recordId: string) => `selfinstruct:${model}:${recordId}`;
const rank = (id: string) => unitInterval(id, 'self-instruct-order');

export async function selfInstructSource(ctx: RunContext): Promise<{ outcome: SourceOutcome; models: ModelRun }> {
  const t0 = performance.now();
  const { cfg, log, stores, sink } = ctx;
  const before = { ...sink.counts };
  const models = openChatModels(cfg);
  const { choice } = models;
  const st = stage(ctx, 'self-instruct');
  const stJudge = stage(ctx, 'judge');
  let leftByBudget = 0;
  try {
    if (choice.sameModelNote) log.warn(choice.sameModelNote);
    const done = new Set(Object.keys(await stores.stateWithPrefix(doneKey(choice.generator.model, ''))).map((k) => k.slice(k.lastIndexOf(':') + 1)));
    const sample = await pickRecords(ctx, done);
    const prompt = selfInstructPrompt();
    const jPrompt = judgePrompt();
    const seeds = loadSeedPool();
    const pool = await machinePool(ctx);
    const poolQuestions = [...seeds.map((s) => s.question), ...pool.map((p) => p.question)];
    log.info({ records: sample.length, generator: choice.generator.model, judge: choice.judge.model, backend: choice.backend }, `self-instruct: ${sample.length} records`);
    await sink.ready();
    const progress = startProgress('self-instruct', sample.length, log, 'records');
    const width = choice.backend === 'local' ? 1 : cfg.models.concurrency;
    let marks: Record<string, string> = {};
    const mark = async (force: boolean) => {
      if (!force && Object.keys(marks).length < MARK_EVERY) return;
      await sink.flush(true); // the pairs first, then the marks that say they are in
      failpoint('self-instruct.before-marks');
      await stores.setState(marks, ctx.runId);
      marks = {};
    };
    let processed = 0;
    let budgetHit = false;
    for (let i = 0; i < sample.length && !budgetHit; i += width) {
      const batch: SourceRecord[] = [];
      for (const rec of sample.slice(i, i + width)) {
        // Untrusted text that speaks to a model is never shown to one: recorded, and the record done.
        const screen = screenInjection(rec.text);
        if (!screen.flagged) {
          batch.push(rec);
          continue;
        }
        st.seen++;
        st.reject('prompt_injection');
        processed++;
        sink.addSkip({ path: locatorOf(rec), reason: 'prompt_injection', detail: `${screen.version}: not sent to ${models.generator.model}: ${describeHits(screen.hits)}`.slice(0, 400) }, ctx.repo.sha);
        marks[doneKey(choice.generator.model, rec.id)] = ctx.runId;
        progress.tick(1);
      }
      const results = await Promise.allSettled(
        batch.map(async (rec) => {
          // Examples written from records before this batch in the order, whichever run wrote them: a
          // retry of the batch builds the same prompts, and answers them from the cache.
          const machine = pool.filter((p) => p.rank < rank(batch[0]!.id)).slice(-2);
          const out = await selfInstructPair(rec, machine, { chat: models.generator, prompt, seeds, poolQuestions, repo: ctx.repo.repo });
          return { rec, out };
        }),
      );
      for (const r of results) {
        if (r.status === 'rejected') {
          if (!(r.reason instanceof BudgetExhausted)) throw r.reason;
          budgetHit = true;
          continue;
        }
        const { rec, out } = r.value;
        if (out.kind === 'pair') {
          // Judged before it counts: a budget that runs out here leaves the record for the next run.
          const passed = await judgeAndAdd(ctx, out.pair, { chat: models.judge, prompt: jPrompt, stJudge }).catch((e: unknown) => {
            if (e instanceof BudgetExhausted) return null;
            throw e;
          });
          if (passed === null) {
            budgetHit = true;
            continue;
          }
          st.kept++;
          if (passed) {
            pool.push({ ...exampleOf(out.pair), rank: rank(rec.id) });
            pool.sort((a, b) => a.rank - b.rank);
            poolQuestions.push(out.pair.question);
          }
        } else if (out.kind === 'no_quotable_lines') st.reject('no_quotable_lines');
        else if (out.kind === 'invalid') {
          st.reject('model_output');
          sink.addSkip({ path: locatorOf(rec), reason: 'model_output', detail: `${models.generator.model}: ${out.detail}; reply: ${out.raw.slice(0, 300)}` }, ctx.repo.sha);
        } else {
          st.reject('near_seed');
          const checked = checkModelPair(out.pair, cfg.limits);
          checked.verdicts.push({ check: 'novelty', pass: false, reason: 'near_seed', detail: `ROUGE-L ${out.score.toFixed(2)} against ${JSON.stringify(out.of.slice(0, 120))}` });
          sink.addChecked(checked);
        }
        st.seen++;
        processed++;
        marks[doneKey(choice.generator.model, rec.id)] = ctx.runId;
        progress.tick(1);
      }
      await mark(false);
    }
    if (budgetHit) leftByBudget = sample.length - processed;
    await mark(true);
    progress.stop();
    if (leftByBudget) {
      st.reject('budget', leftByBudget);
      log.warn({ budget: cfg.models.budgetTokens, spent: models.meter.spent, left: leftByBudget }, `self-instruct stopped: token budget of ${cfg.models.budgetTokens} reached; ${leftByBudget} records left for the next run`);
    }
    st.seconds += (performance.now() - t0) / 1000;
    const u = models.meter.usage;
    const outcome: SourceOutcome = {
      source: 'self-instruct',
      from: null,
      to: null,
      units: sample.length,
      records: st.seen,
      ...sinkDelta(sink, before),
      retired: 0,
      note: `${choice.backend}: ${choice.generator.model} writes, ${choice.judge.model} judges; ${u.calls} calls, ${u.cacheHits} cached, ${u.promptTokens + u.completionTokens} tokens${leftByBudget ? `; budget reached, ${leftByBudget} left` : ''}${choice.sameModelNote ? `; ${choice.sameModelNote}` : ''}`,
      seconds: (performance.now() - t0) / 1000,
    };
    return { outcome, models: { choice, usage: u, leftByBudget } };
  } finally {
    await models.close();
  }
}

/**
 * Deterministic layers first (cheap: checks, answer support, injection screening); only a pair that
 * passes them all costs a judge call, and the judge's pass alone never stages a pair.
 */
async function judgeAndAdd(ctx: RunContext, pair: QAPair, j: { chat: ChatModel; prompt: PromptTemplate; stJudge: StageStats }): Promise<boolean> {
  const checked = checkModelPair(pair, ctx.cfg.limits);
  if (ctx.sink.knows(checked.id) || failedReasons(checked).length) {
    ctx.sink.addChecked(checked);
    return false;
  }
  const t = performance.now();
  const { verdict, reply } = await judgePair(checked, { chat: j.chat, prompt: j.prompt, repo: ctx.repo.repo, minScore: ctx.cfg.models.judgeMinScore });
  j.stJudge.seen++;
  j.stJudge.seconds += (performance.now() - t) / 1000;
  if (verdict.pass) j.stJudge.kept++;
  else j.stJudge.reject(reply ? reply.verdict : 'invalid_json');
  checked.verdicts.push(verdict);
  ctx.sink.addChecked(checked);
  return verdict.pass;
}

/**
 * The records this run writes for: not yet done by this generator, in a stable hash order, the
 * sample shared out across the kinds present so that each kind gets its turn.
 */
async function pickRecords(ctx: RunContext, done: Set<string>): Promise<SourceRecord[]> {
  const n = ctx.cfg.models.llmSample;
  if (n === 0) return [];
  const byKind = new Map<SourceKind, { id: string; rank: number }[]>();
  for await (const rows of ctx.stores.scan('sources', ['id', 'kind'], `repo = ${sqlString(ctx.repo.repo)}`))
    for (const r of rows) {
      const id = r.id as string;
      if (done.has(id)) continue;
      const kind = r.kind as SourceKind;
      byKind.set(kind, [...(byKind.get(kind) ?? []), { id, rank: rank(id) }]);
    }
  for (const list of byKind.values()) list.sort((a, b) => a.rank - b.rank);
  const chosen: { id: string; rank: number }[] = [];
  const want = n === 'all' ? Infinity : n;
  for (let i = 0; chosen.length < want; i++) {
    let any = false;
    for (const k of KINDS) {
      const item = byKind.get(k)?.[i];
      if (!item || chosen.length >= want) continue;
      chosen.push(item);
      any = true;
    }
    if (!any) break;
  }
  chosen.sort((a, b) => a.rank - b.rank);
  const records = new Map<string, SourceRecord>();
  for (let i = 0; i < chosen.length; i += 500) {
    const ids = chosen.slice(i, i + 500).map((c) => sqlString(c.id)).join(',');
    for await (const rows of ctx.stores.scan('sources', ['id', 'kind', 'repo', 'path', 'qualname', 'start_line', 'end_line', 'commit_first_seen', 'commit_last_verified', 'record'], `id IN (${ids})`))
      for (const r of rows) records.set(r.id as string, sourceFromRow(r));
  }
  return chosen.map((c) => records.get(c.id)!).filter(Boolean);
}

type PoolItem = Example & { rank: number };

/** Model-written pairs already staged: shown as examples, and the novelty filter's reference. */
async function machinePool(ctx: RunContext): Promise<PoolItem[]> {
  const pool: PoolItem[] = [];
  const where = `generator = ${sqlString(SELF_INSTRUCT.name)} AND status != 'retired' AND repo = ${sqlString(ctx.repo.repo)}`;
  for await (const rows of ctx.stores.scan('staging', ['question', 'answer', 'context', 'source_kind', 'source_id', 'record'], where))
    for (const r of rows)
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
