// The embedders: the local int8 MiniLM run for real, and the HF embedder against a TEI-shaped server
// started here on 127.0.0.1.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { InferenceSession } from 'onnxruntime-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { UserError } from '../errors.js';
import { createHfEmbedder } from './embed-hf.js';
import { createLocalEmbedder, embedBatch, loadTokenizer, openSession, rawOnnxEmbed, tokenize, type LocalEmbedder } from './embed-local.js';
import { openEmbedder } from './index.js';

const models = fileURLToPath(new URL('../../.models/', import.meta.url));
const modelPath = join(models, 'all-minilm-l6-v2-q.onnx');
const tokenizerPath = join(models, 'all-minilm-l6-v2-q-tokenizer.json');

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));

const QUESTION = 'How do I load a pretrained tokenizer?';
// A question / answer / context text as the pipeline embeds them.
const PAIR = `How does merge_and_unload fold LoRA weights into the base model?
It adds the scaled product of lora_B and lora_A to each target weight, then replaces the LoRA layers with the original modules.
def merge_and_unload(self, progressbar: bool = False, safe_merge: bool = False, adapter_names=None):
    """Merge the LoRA layers into the base model so that it can be used as a standalone model."""
    return self._unload_and_optionally_merge(progressbar=progressbar, safe_merge=safe_merge, adapter_names=adapter_names)`;
// 2,000 words, ~12,000 characters: far past 256 tokens.
const WORDS = ['adapter', 'weights', 'merge', 'rank', 'scaling', 'dropout', 'module'];
const LONG = Array.from({ length: 2000 }, (_, i) => `${WORDS[i % 7]}${i % 13}`).join(' ');

describe('local embedder (all-MiniLM-L6-v2 int8 ONNX)', () => {
  let e: LocalEmbedder;
  beforeAll(async () => {
    e = await createLocalEmbedder({ modelPath, tokenizerPath });
  });
  afterAll(() => e?.close());

  it('gives 384-dim unit vectors, one per text, in order', async () => {
    expect([e.backend, e.model, e.dimensions]).toEqual(['local', 'all-MiniLM-L6-v2 (int8 ONNX)', 384]);
    const texts = [QUESTION, '', 'def merge_and_unload(self): ...', LONG];
    const v = await e.embed(texts);
    expect(v).toHaveLength(4);
    for (const x of v) {
      expect(x).toBeInstanceOf(Float32Array);
      expect(x).toHaveLength(384);
      expect(Math.abs(norm(x) - 1)).toBeLessThan(1e-5);
    }
    expect(v[0]).toEqual((await e.embed([QUESTION]))[0]);
    expect(await e.embed([])).toEqual([]);
  });

  it('matches an independent reference: Rust tokenizers + Python onnxruntime', async () => {
    // Produced with Python `tokenizers` 0.23.3 and `onnxruntime` 1.32.0 (CPU, graph optimisation BASIC:
    // the graph as written), batch of one, mean of last_hidden_state, L2-normalised; dims 0-4, 100, 383.
    // The longer text matters: with 'all' optimisations its dim 1 comes out -0.058204, not -0.061663.
    const tk = loadTokenizer(tokenizerPath);
    expect(tokenize(tk, QUESTION, 256)).toEqual([101, 2129, 2079, 1045, 7170, 1037, 3653, 23654, 2098, 19204, 17629, 1029, 102]);
    expect(tokenize(tk, PAIR, 256)).toHaveLength(149);
    const [short, long] = await e.embed([QUESTION, PAIR]);
    const expected = [
      [-0.023107, -0.023169, 0.009567, 0.038979, -0.02846, -0.017968, -0.036728],
      [-0.094024, -0.061663, -0.013056, 0.025612, 0.023749, -0.029238, 0.004523],
    ];
    [0, 1, 2, 3, 4, 100, 383].forEach((d, k) => {
      expect(short![d]).toBeCloseTo(expected[0]![k]!, 5);
      expect(long![d]).toBeCloseTo(expected[1]![k]!, 5);
    });
  });

  it('is deterministic, and a text gets the same vector alone as among longer and shorter ones', async () => {
    const [alone] = await e.embed([QUESTION]);
    const [again] = await e.embed([QUESTION]);
    const among = await e.embed([LONG, 'LoRA', QUESTION, 'class PeftModel(PushToHubMixin, torch.nn.Module):']);
    expect(again).toEqual(alone);
    expect(among[2]).toEqual(alone);
    expect(dot(among[2]!, alone!)).toBeGreaterThan(0.9999);
  });

  it('ranks by meaning', async () => {
    const [q, near, far, code] = await e.embed([
      QUESTION,
      'AutoTokenizer.from_pretrained loads a tokenizer',
      'The learning rate scheduler decays linearly',
      'git rebase rewrites commit history',
    ]);
    expect(dot(q!, near!)).toBeGreaterThan(dot(q!, far!));
    expect(dot(q!, near!)).toBeGreaterThan(dot(q!, code!));
    expect(dot(q!, near!)).toBeGreaterThan(0.5);
    expect(dot(q!, far!)).toBeLessThan(0.3);
  });

  it('truncates to 256 tokens including [CLS] and [SEP], exactly as tokenising the whole text would', () => {
    expect(e.tokenCounts([LONG, QUESTION, ''])).toEqual([256, 13, 2]);
    const tk = loadTokenizer(tokenizerPath);
    const full = tk.encode(LONG).ids;
    expect(full.length).toBeGreaterThan(4000);
    // tokenize() reads only a prefix of long texts: its ids must still be the whole text's first ones.
    expect(tokenize(tk, LONG, 256)).toEqual([...full.slice(0, 255), 102]);
    expect(tokenize(tk, LONG, 16)).toEqual([...full.slice(0, 15), 102]);
  });

  it('fails with one line pointing at `npm run setup` when the model is missing', async () => {
    const missing = join(tmpdir(), 'qaforge-no-such-model.onnx');
    const err = await createLocalEmbedder({ modelPath: missing, tokenizerPath }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`all-MiniLM-L6-v2 (int8 ONNX) model not found at ${missing}: run \`npm run setup\` to fetch the local models`);
    await expect(createLocalEmbedder({ modelPath, tokenizerPath: missing })).rejects.toThrow(
      `all-MiniLM-L6-v2 (int8 ONNX) tokenizer not found at ${missing}: run \`npm run setup\` to fetch the local models`,
    );
  });

  describe('rawOnnxEmbed (benchmark baseline)', () => {
    let session: InferenceSession;
    beforeAll(async () => {
      session = await openSession(modelPath);
    });
    afterAll(() => session?.release());

    it('gives the pipeline vector for a text run alone, unit vectors in input order for 33 texts', async () => {
      const tk = loadTokenizer(tokenizerPath);
      expect(await rawOnnxEmbed(session, tk, [QUESTION])).toEqual(await e.embed([QUESTION]));
      const texts = Array.from({ length: 33 }, (_, i) => `text number ${i}: ${'word '.repeat(i)}`);
      const raw = await rawOnnxEmbed(session, tk, texts);
      expect(raw).toHaveLength(33);
      for (const x of raw) expect(Math.abs(norm(x) - 1)).toBeLessThan(1e-5);
      // The 33rd text is a batch of its own, so unpadded: exactly the pipeline's vector.
      expect(raw[32]).toEqual((await e.embed([texts[32]!]))[0]);
    });

    it('shows why the pipeline never batches: padding shifts the int8 model’s vectors', async () => {
      // DynamicQuantizeLinear picks one scale per tensor, so a batch-mate's (and padding's) activations
      // change every row's quantisation. If this ever passes at ~1, batching has become safe.
      const tk = loadTokenizer(tokenizerPath);
      const q = tokenize(tk, QUESTION, 256);
      const [alone] = await embedBatch(session, [q]);
      const [padded] = await embedBatch(session, [q, tokenize(tk, LONG, 64)]);
      expect(dot(alone!, padded!)).toBeLessThan(0.999);
      expect(dot(alone!, padded!)).toBeGreaterThan(0.95);
    });
  });
});

describe('HF embedder against a TEI-shaped server', () => {
  const TOKEN = 'hf_test_token_never_in_errors';
  let app: FastifyInstance;
  let base: string;
  let seen: { body: unknown; auth: string | undefined }[];
  let answer: (req: FastifyRequest, reply: FastifyReply, n: number) => unknown;

  beforeAll(async () => {
    app = Fastify({ forceCloseConnections: true });
    app.post('/embed', async (req, reply) => {
      seen.push({ body: req.body, auth: req.headers.authorization });
      return answer(req, reply, seen.length);
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => app?.close());
  beforeEach(() => {
    seen = [];
  });

  const embedder = (over: Partial<Parameters<typeof createHfEmbedder>[0]> = {}) =>
    createHfEmbedder({ model: 'sentence-transformers/all-MiniLM-L6-v2', endpointUrl: `${base}/embed`, accessToken: TOKEN, dimensions: 3, retries: 2, retryBaseMs: 5, timeoutMs: 2000, ...over });
  const failure = (p: Promise<unknown>) => p.then(() => expect.unreachable('should have failed'), (x: unknown) => x as Error);

  it('POSTs TEI batches to the URL as given and L2-normalises the answer', async () => {
    answer = (req) => (req.body as { inputs: string[] }).inputs.map((t) => (t === 'zero' ? [0, 0, 0] : [3, 4 * t.length, 0]));
    const e = embedder({ batchSize: 2 });
    expect([e.backend, e.model, e.dimensions]).toEqual(['hf', 'sentence-transformers/all-MiniLM-L6-v2', 3]);
    const progress: number[] = [];
    const v = await e.embed(['a', 'b', 'zero'], { onProgress: (n) => progress.push(n) });
    // Progress per batch answered.
    expect(progress).toEqual([2, 1]);
    expect(seen).toEqual([
      { body: { inputs: ['a', 'b'], truncate: true }, auth: `Bearer ${TOKEN}` },
      { body: { inputs: ['zero'], truncate: true }, auth: `Bearer ${TOKEN}` },
    ]);
    expect(v).toEqual([Float32Array.from([0.6, 0.8, 0]), Float32Array.from([0.6, 0.8, 0]), Float32Array.from([0, 0, 0])]);
    expect(await e.embed([])).toEqual([]);
    expect(seen).toHaveLength(2);
  });

  it('sends queries and passages with the prefixes it was given, and as they are without', async () => {
    answer = (req) => (req.body as { inputs: string[] }).inputs.map(() => [1, 0, 0]);
    const e5 = embedder({ model: 'intfloat/e5-small-v2', queryPrefix: 'query: ', passagePrefix: 'passage: ' });
    await e5.embed(['a', 'b'], { kind: 'query' });
    await e5.embed(['c']);
    await embedder().embed(['d'], { kind: 'query' });
    expect(seen.map((s) => (s.body as { inputs: string[] }).inputs)).toEqual([['query: a', 'query: b'], ['passage: c'], ['d']]);
  });

  it('the pipeline gives a remote E5 its prefixes, a remote MiniLM none', async () => {
    answer = (req) => (req.body as { inputs: string[] }).inputs.map(() => [0, 1, 0]);
    const cfg = (model: string) => loadConfig({ env: {}, cwd: tmpdir(), flags: { models: { embedder: { model, endpointUrl: `${base}/embed`, dimensions: 3 } } } as never });
    const e5 = await openEmbedder(cfg('intfloat/e5-small-v2'));
    expect([e5.backend, e5.model]).toEqual(['hf', 'intfloat/e5-small-v2']);
    await e5.embed(['how?'], { kind: 'query' });
    await e5.embed(['it does']);
    await (await openEmbedder(cfg('sentence-transformers/all-MiniLM-L6-v2'))).embed(['how?'], { kind: 'query' });
    expect(seen.map((s) => (s.body as { inputs: string[] }).inputs)).toEqual([['query: how?'], ['passage: it does'], ['how?']]);
  });

  it('retries a 503 and uses the answer that follows', async () => {
    answer = (_req, reply, n) => (n === 1 ? reply.code(503).send({ error: 'Model is loading' }) : [[0, 0, 2]]);
    expect(await embedder().embed(['x'])).toEqual([Float32Array.from([0, 0, 1])]);
    expect(seen).toHaveLength(2);
  });

  it('gives up after the retries on a lasting 503, and does not retry a 400', async () => {
    answer = (_req, reply) => reply.code(503).send({ error: 'Model is loading' });
    const err = await failure(embedder({ retries: 2 }).embed(['x']));
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe(`${base}/embed answered HTTP 503: Model is loading`);
    expect(seen).toHaveLength(3);

    seen = [];
    answer = (_req, reply) => reply.code(400).send({ error: 'bad input' });
    const bad = await failure(embedder().embed(['x']));
    expect(bad.message).toBe(`${base}/embed answered HTTP 400: bad input`);
    expect(seen).toHaveLength(1);
  });

  it('rejects a malformed body with one clear line', async () => {
    answer = () => [[1, 2]];
    const short = await failure(embedder().embed(['x']));
    expect(short).toBeInstanceOf(UserError);
    expect(short.message).toMatch(new RegExp(`^${base}/embed sent malformed embeddings: expected 1 vectors of 3 numbers \\(0: .*\\); is models.embedder.dimensions right`));

    answer = () => [[1, 2, 3]];
    expect((await failure(embedder().embed(['x', 'y']))).message).toMatch(/expected 2 vectors of 3 numbers/);

    answer = () => ({ embeddings: 'nope' });
    const notArray = await failure(embedder().embed(['x']));
    expect(notArray).toBeInstanceOf(UserError);
    expect(notArray.message).toBe(`${base}/embed sent a malformed embeddings body: not an array of number arrays`);
    for (const m of [short.message, notArray.message]) expect(m).not.toContain(TOKEN);
  });

  it('times out each request, naming the endpoint but never the token', async () => {
    answer = async () => {
      await new Promise((r) => setTimeout(r, 1500));
      return [[1, 0, 0]];
    };
    const t0 = Date.now();
    const err = await failure(embedder({ timeoutMs: 150, retries: 0 }).embed(['x']));
    expect(Date.now() - t0).toBeLessThan(1200);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(new RegExp(`^${base}/embed: no answer within 150 ms`));
    expect(err.message).not.toContain(TOKEN);
    expect(err.message).not.toContain('\n');
  });

  it('needs HF_TOKEN when there is no endpoint', () => {
    expect(() => createHfEmbedder({ model: 'sentence-transformers/all-MiniLM-L6-v2', dimensions: 384 })).toThrow(UserError);
    expect(() => createHfEmbedder({ model: 'sentence-transformers/all-MiniLM-L6-v2', dimensions: 384 })).toThrow(/^HF_TOKEN is not set: .*--endpoint-url/);
  });
});
