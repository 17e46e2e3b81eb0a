// The paraphrase task through the real CLI against the OpenAI-shaped scripted server: rule pairs
// reworded by a generator, held to the deterministic checks, judged for sameness by a second model;
// exact outcomes for a good rewording, one that drops the symbol's name, one the judge calls
// unsupported, and a reply that is not JSON twice.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QAPair } from '../datasets/schemas.js';
import { pairFromRow, Stores } from '../datasets/store.js';
import { maskNames } from '../generators/paraphrase.js';
import { keyNames } from '../validators/model-pair.js';
import { qaforge } from './cli.js';
import { makeRepo, tempDir, type FixtureRepo } from './fixtures.js';
import { OPS_PY } from './model-cases.js';
import { startModelServer, type ChatCall, type ModelServer } from './openai/server.js';

const isJudge = (c: ChatCall) => c.messages[0]!.content.includes('reviewer of reworded questions');
/** The question the generator was asked to reword (masked), from the first user message (a repair adds more). */
const maskedOf = (c: ChatCall) => /^Question: (.*)\s*$/.exec(c.messages.findLast((m) => m.role === 'user' && m.content.startsWith('Question: '))!.content)![1]!.trim();
const originalOf = (c: ChatCall) => /Original question: (.*)\n/.exec(c.messages.find((m) => m.role === 'user')!.content)![1]!;
const placeholders = (masked: string) => [...masked.matchAll(/`([A-Z])`/g)].map((m) => `\`${m[1]}\``);

/** Who plays which part: filled once the rule pairs are known. */
const script = { dropsName: '', unsupported: '', notJson: '' };
/** Masked question → the category of its rule pair: a rewording keeps what its category asks (paraphrase_intent). */
const categoryOf = new Map<string, string>();
const ASKING: Record<string, string> = { returns: 'what comes back from', raises: 'the errors of', parameters: 'the arguments of', signature: 'the signature of', bases: 'the base classes of', methods: 'the methods of', location: 'the file of', usage_example: 'an example of' };
const asking = (masked: string) => ASKING[categoryOf.get(masked) ?? ''] ?? 'the purpose of';

function answer(c: ChatCall): string {
  if (isJudge(c)) return JSON.stringify({ same_question: originalOf(c) === script.unsupported ? 'no' : 'yes' });
  const masked = maskedOf(c);
  if (masked === script.notJson) return 'Sure! {question: oops';
  const names = placeholders(masked);
  if (masked === script.dropsName) return JSON.stringify({ question: `Can you tell me ${asking(masked)} this code, please?` });
  // Numbered, so that two rule pairs about one symbol do not get one question (the sink rejects that as ambiguous).
  if (!asked.has(masked)) asked.set(masked, asked.size + 1);
  return JSON.stringify({ question: `Can you tell me ${asking(masked)} ${names.join(' and ')} (ask ${asked.get(masked)}), please?` });
}
const asked = new Map<string, number>();

let server: ModelServer;
let repo: FixtureRepo;
let configPath: string;
const dataDir = tempDir();

beforeAll(async () => {
  server = await startModelServer({ chat: answer, maxRequests: 200 });
  repo = await makeRepo({ 'ops.py': OPS_PY });
  configPath = join(tempDir('qaforge-config-'), 'qaforge.config.json');
  writeFileSync(configPath, JSON.stringify({ models: { task: 'paraphrase', retryBaseMs: 5, timeoutMs: 2000, retries: 1, embedder: { dimensions: 8 } } }));
});
afterAll(async () => {
  await server?.close();
});

const run = (extra: string[]) =>
  qaforge(['--config', configPath, '--data-dir', dataDir, 'backfill', '--repo', repo.dir, '--sources', 'code', '--endpoint-url', server.url, '--json', ...extra], { env: { HF_TOKEN: '' } });

async function pairs(table: 'staging' | 'rejected', where: string): Promise<QAPair[]> {
  const stores = await Stores.open(dataDir, { vectorDimensions: 8 });
  try {
    const out: QAPair[] = [];
    const cols = ['id', 'qa_key', 'question', 'answer', 'context', 'category', 'source_id', 'source_kind', 'symbol_kind', 'variant', 'repo', 'path', 'start_line', 'end_line', 'qualname', 'url', 'commit_first_seen', 'commit_last_verified', 'split_group', 'near_dup_cluster', 'generator', 'generator_version', 'record'];
    for await (const b of stores.scan(table, cols, where)) out.push(...b.map(pairFromRow));
    return out;
  } finally {
    stores.close();
  }
}

async function skips(): Promise<Record<string, unknown>[]> {
  const stores = await Stores.open(dataDir, { vectorDimensions: 8 });
  try {
    const out: Record<string, unknown>[] = [];
    for await (const b of stores.scan('skipped', ['path', 'reason', 'detail'])) out.push(...b);
    return out;
  } finally {
    stores.close();
  }
}

describe('paraphrase against an OpenAI-compatible endpoint (models.task = paraphrase)', () => {
  let rules: QAPair[];
  let result: any;
  const byQuestion = (q: string) => rules.find((r) => r.question === q)!;

  it('rules first: the pairs a paraphrase may start from', async () => {
    const r = await run(['--llm-sample', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(server.calls).toHaveLength(0);
    rules = await pairs('staging', "generator = 'code-rules'");
    // Parts for three rule pairs whose questions name two things (a symbol and its file, masked as one)
    // and are told apart by the generator's script.
    const masked = new Map<string, number>();
    for (const p of rules) masked.set(maskNames(p.question).text, (masked.get(maskNames(p.question).text) ?? 0) + 1);
    for (const p of rules) categoryOf.set(maskNames(p.question).text, p.category);
    const usable = rules.filter((p) => masked.get(maskNames(p.question).text) === 1 && keyNames(p.question).length === 2).sort((a, b) => a.id.localeCompare(b.id));
    expect(usable.length).toBeGreaterThanOrEqual(3);
    script.dropsName = maskNames(usable[0]!.question).text;
    script.unsupported = usable[1]!.question;
    script.notJson = maskNames(usable[2]!.question).text;
  });

  it('stages a rewording with the rule answer verbatim, and rejects or skips the rest with their reasons', async () => {
    const r = await run(['--llm-sample', 'all']);
    expect(r.code, r.stderr).toBe(0);
    result = JSON.parse(r.stdout);
    expect(result.models).toMatchObject({ task: 'paraphrase', choice: { task: 'paraphrase', backend: 'hf' } });
    const step = result.stages.find((s: any) => s.stage === 'paraphrase');
    expect(step.seen).toBe(rules.length);

    const staged = await pairs('staging', "generator = 'paraphrase'");
    const rejected = await pairs('rejected', "generator = 'paraphrase'");
    const skipped = (await skips()).filter((s) => s.reason === 'model_output');
    // Every rule pair ends as a staged paraphrase, a rejected one or a recorded skip.
    expect(staged.length + rejected.length + skipped.length).toBe(rules.length);
    expect(staged).toHaveLength(rules.length - 3);
    expect(rejected).toHaveLength(2);
    expect(skipped).toHaveLength(1);

    for (const p of staged) {
      const rule = rules.find((x) => x.sourceId === p.sourceId && x.answer === p.answer && x.context === p.context)!;
      expect(rule).toBeDefined();
      const m = maskNames(rule.question);
      expect(p.question).toBe(`Can you tell me ${asking(m.text)} ${[...m.names.values()].join(' and ')} (ask ${asked.get(m.text)}), please?`);
      expect(p).toMatchObject({ category: 'paraphrase', answer: rule.answer, context: rule.context, evidence: rule.evidence, provenance: rule.provenance, splitGroup: rule.splitGroup });
      expect(p.generator).toMatchObject({ name: 'paraphrase', version: '2.0.0', model: 'Qwen/Qwen2.5-7B-Instruct' });
      expect(p.generator.promptVersion).toMatch(/^paraphrase\.v2\+[0-9a-f]{8}\+[0-9a-f]{8}$/);
      const checks = Object.fromEntries(p.verdicts.map((v) => [v.check, v.pass]));
      expect(checks).toMatchObject({ paraphrase_form: true, paraphrase_names: true, paraphrase_novelty: true, paraphrase_intent: true, injection: true, judge: true });
      expect(p.verdicts.every((v) => v.pass)).toBe(true);
      expect(p.verdicts.find((v) => v.check === 'judge')!.detail).toBe('meta-llama/Llama-3.1-8B-Instruct: supported, 5/5: same question: yes');
    }

    const dropped = rejected.find((p) => p.verdicts.some((v) => v.check === 'paraphrase_names' && !v.pass))!;
    const droppedRule = rules.find((x) => maskNames(x.question).text === script.dropsName)!;
    const [symbol, file] = keyNames(droppedRule.question);
    expect(dropped.question).toBe(`Can you tell me ${asking(script.dropsName)} this code, please?`);
    expect(dropped.answer).toBe(droppedRule.answer);
    expect(dropped.verdicts.find((v) => v.check === 'paraphrase_names')).toEqual({ check: 'paraphrase_names', pass: false, reason: 'ungrounded', detail: `drops ${JSON.stringify(symbol)}, ${JSON.stringify(file)} of the original question` });
    // A pair a deterministic layer failed costs no judge call.
    expect(dropped.verdicts.some((v) => v.check === 'judge')).toBe(false);
    expect(server.calls.filter(isJudge).map(originalOf)).not.toContain(droppedRule.question);

    const judged = rejected.find((p) => p !== dropped)!;
    expect(judged.answer).toBe(byQuestion(script.unsupported).answer);
    expect(judged.verdicts.filter((v) => !v.pass)).toEqual([{ check: 'judge', pass: false, reason: 'judge', detail: 'meta-llama/Llama-3.1-8B-Instruct: unsupported, 1/5: same question: no' }]);

    expect(skipped[0]!.detail).toMatch(/^Qwen\/Qwen2\.5-7B-Instruct: invalid JSON: .*\(after one repair retry\); reply: Sure! \{question: oops$/);
    const notJson = server.calls.filter((c) => !isJudge(c) && maskedOf(c) === script.notJson);
    expect(notJson).toHaveLength(2);
    expect(notJson[1]!.messages.at(-1)!.content).toMatch(/^That reply was not usable \(invalid JSON: .*\)\. Reply with only the JSON object\.$/);

    // Calls: one per rule pair, one repair, one judge per pair that passed the checks.
    expect(server.calls.filter((c) => !isJudge(c))).toHaveLength(rules.length + 1);
    expect(server.calls.filter(isJudge)).toHaveLength(rules.length - 2);
    expect(step.rejected).toEqual({ model_output: 1 });
    const outcome = result.sources.find((s: any) => s.source === 'self-instruct');
    expect(outcome).toMatchObject({ units: rules.length, staged: rules.length - 3, rejected: 2 });
    expect(outcome.note).toMatch(/^paraphrase, hf: Qwen\/Qwen2\.5-7B-Instruct writes, meta-llama\/Llama-3\.1-8B-Instruct judges; /);
  });

  it('a second run rewords nothing again and makes no model call', async () => {
    const before = server.calls.length;
    const again = JSON.parse((await run(['--llm-sample', 'all'])).stdout);
    expect(server.calls.length).toBe(before);
    expect(again.stages.find((s: any) => s.stage === 'paraphrase').seen).toBe(0);
    expect(again.staged).toBe(0);
  });

  it('paraphrases are never reworded again: only rule pairs are sampled', async () => {
    const staged = await pairs('staging', "generator = 'paraphrase'");
    expect(staged.length).toBeGreaterThan(0);
    // A new generator model: every rule pair is new work for it, the paraphrases are not.
    const r = await qaforge(['--config', configPath, '--data-dir', dataDir, 'backfill', '--repo', repo.dir, '--sources', 'code', '--endpoint-url', server.url, '--generator-model', 'other/model', '--llm-sample', 'all', '--json'], { env: { HF_TOKEN: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).stages.find((s: any) => s.stage === 'paraphrase').seen).toBe(rules.length);
  });
});
