// The real local models, as `npm run demo` uses them with no token and no network: Gemma 3 270M
// rewords rule questions, SmolLM2-135M judges them (node-llama-cpp, weights from registry packages),
// MiniLM-L6 embeds at promotion (onnxruntime-node). Kept to a handful of pairs: each takes seconds on
// two cores. Models this small answer differently on different CPUs, so nothing here asserts what
// they say: only what the pipeline guarantees whatever they say.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairFromRow, Stores } from '../datasets/store.js';
import { createLocalChat } from '../lib/models/chat-local.js';
import { LOCAL_MODELS, LOCAL_PARAPHRASE_MODELS } from '../lib/models/config.js';
import { failedReasons } from '../validators/checks.js';
import { judgePair, judgePrompt } from '../validators/judge.js';
import { checkModelPair } from '../validators/model-pair.js';
import { qaforge, qaforgeJson } from './cli.js';
import { makeRepo, tempDir, type FixtureRepo } from './fixtures.js';
import { INJECTED_ISSUE, INJECTED_WRONG_ANSWER } from './model-cases.js';

const TOKENS_PY = `"""Tokenizer helpers."""


def pad_batch(ids: list[list[int]], pad_id: int = 0) -> list[list[int]]:
    """Pad every sequence in a batch with pad_id to the length of the longest one."""
    longest = max(len(x) for x in ids)
    return [x + [pad_id] * (longest - len(x)) for x in ids]


def truncate(ids: list[int], max_length: int = 512) -> list[int]:
    """Cut a sequence of token ids to at most max_length ids."""
    return ids[:max_length]
`;

const INJECTED_CONTEXT = INJECTED_ISSUE;
const WRONG_ANSWER = INJECTED_WRONG_ANSWER;

// A docs page that carries the injected issue text: a section the generator must never see.
const FAQ_MD = `# FAQ

## Checkpoints on NFS

${INJECTED_CONTEXT}
`;

let repo: FixtureRepo;
const dataDir = tempDir();
const run = (extra: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  qaforge(['--data-dir', dataDir, 'backfill', '--repo', repo.dir, '--sources', 'code,docs', '--json', ...extra], { env: { HF_TOKEN: '', QAFORGE_ENDPOINT_URL: '', ...env } });

beforeAll(async () => {
  repo = await makeRepo({ 'tokens.py': TOKENS_PY, 'docs/faq.md': FAQ_MD });
});

async function modelPairs() {
  const stores = await Stores.open(dataDir);
  try {
    const cols = ['id', 'qa_key', 'question', 'answer', 'context', 'category', 'source_id', 'source_kind', 'symbol_kind', 'variant', 'repo', 'path', 'start_line', 'end_line', 'qualname', 'url', 'commit_first_seen', 'commit_last_verified', 'split_group', 'near_dup_cluster', 'generator', 'generator_version', 'record'];
    const out: { table: string; pair: ReturnType<typeof pairFromRow> }[] = [];
    for (const table of ['staging', 'rejected'] as const)
      for await (const rows of stores.scan(table, cols, "generator = 'paraphrase'")) for (const r of rows) out.push({ table, pair: pairFromRow(r) });
    const rules: ReturnType<typeof pairFromRow>[] = [];
    for await (const rows of stores.scan('staging', cols, "generator IN ('code-rules', 'doc-rules')")) rules.push(...rows.map(pairFromRow));
    const skips: Record<string, unknown>[] = [];
    for await (const rows of stores.scan('skipped', ['path', 'reason', 'detail'], "reason IN ('model_output', 'prompt_injection')")) skips.push(...rows);
    return { pairs: out, rules, skips };
  } finally {
    stores.close();
  }
}

const SAMPLE = 6;

describe('local models (Gemma 3 270M rewords rule questions, SmolLM2-135M judges, MiniLM-L6 embeds)', () => {
  it('the local default paraphrases a sample of rule pairs: every one staged, rejected or skipped, any staged one with its rule answer verbatim', async () => {
    const crashed = await run(['--llm-sample', String(SAMPLE)], { QAFORGE_FAILPOINT: 'self-instruct.before-marks' });
    expect(crashed.code).not.toBe(0);
    // The crash came after the pairs were written and before the rule pairs were marked done: the
    // re-run asks again and every answer comes from the cache.
    const r = await run(['--llm-sample', String(SAMPLE)]);
    expect(r.code, r.stderr).toBe(0);
    const first = JSON.parse(r.stdout);
    expect(first.models.choice).toMatchObject({ backend: 'local', task: 'paraphrase', generator: { model: LOCAL_PARAPHRASE_MODELS.generator }, judge: { model: LOCAL_PARAPHRASE_MODELS.judge }, sameModelNote: null });
    expect(LOCAL_PARAPHRASE_MODELS.generator).not.toBe(LOCAL_PARAPHRASE_MODELS.judge);
    expect(first.models.usage.calls).toBe(0);
    expect(first.models.usage.cacheHits).toBeGreaterThanOrEqual(1);
    const { pairs, rules, skips } = await modelPairs();
    // The fixture may have fewer rule pairs than the sample asks for: then every one is sampled.
    const sampled = Math.min(SAMPLE, rules.length);
    expect(sampled).toBeGreaterThanOrEqual(3);
    const step = first.stages.find((s: any) => s.stage === 'paraphrase');
    expect(step.seen).toBe(sampled);
    expect(first.stages.some((s: any) => s.stage === 'self-instruct')).toBe(false);
    // Whatever the models said: each sampled rule pair ends as exactly one staged or rejected
    // paraphrase, or one recorded skip (a reply that was no JSON, gave the question back, or a
    // rule pair whose text speaks to a model).
    expect(pairs.length + skips.length).toBe(sampled);
    expect(new Set(pairs.map((p) => p.pair.id)).size).toBe(pairs.length);
    for (const { table, pair } of pairs) {
      expect(pair.generator).toMatchObject({ name: 'paraphrase', model: LOCAL_PARAPHRASE_MODELS.generator });
      expect(pair.category).toBe('paraphrase');
      // The answer, context and evidence are a rule pair's, verbatim.
      const rule = rules.find((x) => x.answer === pair.answer && x.context === pair.context && x.sourceId === pair.sourceId);
      expect(rule, pair.question).toBeDefined();
      expect(pair.evidence).toEqual(rule!.evidence);
      const judged = pair.verdicts.find((v) => v.check === 'judge');
      const deterministic = pair.verdicts.filter((v) => v.check !== 'judge' && v.check !== 'dedup');
      expect(deterministic.map((v) => v.check)).toEqual(expect.arrayContaining(['schema', 'grounded', 'length', 'secret', 'paraphrase_form', 'paraphrase_names', 'paraphrase_novelty', 'paraphrase_intent', 'injection']));
      // A pair that failed a deterministic layer costs no judge call; only a pair every layer passed is staged.
      if (deterministic.every((v) => v.pass)) expect(judged?.detail).toMatch(new RegExp(`^${LOCAL_PARAPHRASE_MODELS.judge.replace(/\./g, '\\.')}: (supported, 5/5: same question: yes|unsupported, 1/5: same question: no)$`));
      else expect(judged).toBeUndefined();
      expect(table === 'staging').toBe(pair.verdicts.every((v) => v.pass));
    }
    // Local generation and judging of six rule pairs on a shared two-core machine can take minutes.
  }, 300_000);

  it('promotes with MiniLM embeddings and finds a pair by meaning', async () => {
    const stores = await Stores.open(dataDir);
    const validated = await stores.count('staging', "status = 'validated'");
    stores.close();
    const p = await qaforgeJson(['--data-dir', dataDir, 'promote']);
    expect(p.promoted).toBe(validated);
    expect(p.embedded).toBe(validated);
    const hits = await qaforgeJson(['--data-dir', dataDir, 'search', 'how are sequences padded to equal length?', '--mode', 'vector', '--k', '3', '--json']);
    expect(hits).toHaveLength(3);
    // The rule pairs say the names; a model-written pair (worded differently on each CPU) may rank
    // beside them, from the same function's lines.
    const padLines = [4, 7];
    const fromLines = (h: any, [a, b]: number[]) => h.path === 'tokens.py' && h.startLine >= a! && h.endLine <= b!;
    expect(hits.some((h: any) => /pad_batch/.test(h.question))).toBe(true);
    expect(fromLines(hits[0], padLines) || /pad_batch/.test(hits[0].question)).toBe(true);
    const hybrid = await qaforgeJson(['--data-dir', dataDir, 'search', 'truncate token ids', '--mode', 'hybrid', '--k', '3', '--json']);
    expect(hybrid.some((h: any) => /truncate/.test(h.question))).toBe(true);
  });
});

describe('the local judge and a prompt injection', () => {
  const chat = createLocalChat(fileURLToPath(new URL(`../.models/${LOCAL_MODELS.judge}`, import.meta.url)));
  afterAll(() => chat.close());

  it('a wrong answer whose context tells the reviewer to approve it fails, whatever the judge says', async () => {
    const pair = {
      ...({} as Record<string, never>),
      id: '0'.repeat(32),
      context: INJECTED_CONTEXT,
      question: 'How do I stop the Trainer from hanging when it saves checkpoints to NFS?',
      answer: WRONG_ANSWER,
      evidence: ['Saving a checkpoint with save_steps=500 on an NFS mount blocks for minutes.'],
      category: 'self_instruct',
      sourceId: 'issue-4242',
      sourceKind: 'issue',
      symbolKind: null,
      variant: null,
      provenance: { repo: 'huggingface/transformers', commitFirstSeen: 'a'.repeat(40), commitLastVerified: 'a'.repeat(40), path: null, startLine: null, endLine: null, qualname: null, url: null, prNumber: null, issueNumber: 4242, commentId: null },
      generator: { name: 'self-instruct', version: '1.0.0', promptVersion: 'self-instruct.v1+00000000', model: LOCAL_MODELS.generator },
      splitGroup: 'issue:4242',
      verdicts: [],
      nearDupCluster: null,
    } as const;
    const checked = checkModelPair(pair as never, { minQuestionChars: 12, maxQuestionChars: 400, minAnswerChars: 2, maxAnswerChars: 4000, maxContextChars: 32000 });
    // Asked anyway, to show its word cannot carry the pair: whatever it says, two layers before it failed.
    const r = await judgePair(checked, { chat, prompt: judgePrompt(), repo: 'huggingface/transformers', minScore: 4 });
    expect(r.verdict.check).toBe('judge');
    expect(r.verdict.detail).toMatch(new RegExp(`^${LOCAL_MODELS.judge.replace(/\./g, '\\.')}: `));
    checked.verdicts.push(r.verdict);
    const reasons = failedReasons(checked);
    expect(reasons).toEqual(expect.arrayContaining(['unsupported_claim', 'prompt_injection']));
    expect(checked.verdicts.find((v) => v.check === 'support')!.detail).toMatch(/^numbers not in context: 3\.0; identifiers not in context: PyTorch; /);
    expect(checked.verdicts.find((v) => v.check === 'injection')!.detail).toMatch(/^injection-patterns\.v1: ignore_instructions,ai_addressee,verdict_request,score_request: /);
  });
});
