// The choice of local embedder: the registry, pooling (mean / CLS) and query / passage prefixes, all
// checked on the MiniLM files the default set-up fetches (bge and e5 come only with `--embedders`; the
// benchmark checks those against the Python reference), and the text a pair's vector is computed from.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTEXT_EXCERPT, embeddingText, embeddingTextFor } from '../../datasets/promote.js';
import { loadConfig } from '../config.js';
import { UserError } from '../errors.js';
import { DEFAULT_LOCAL_EMBEDDER, LOCAL_EMBEDDERS, localEmbedder, ModelsConfig, type LocalEmbedderSpec } from './config.js';
import { createLocalEmbedder, prefixed, type LocalEmbedder } from './embed-local.js';
import { chooseModels, openEmbedder } from './index.js';

const models = fileURLToPath(new URL('../../.models/', import.meta.url));
const MINILM = LOCAL_EMBEDDERS['all-minilm-l6-v2-q'];
const files = { modelPath: join(models, MINILM.file), tokenizerPath: join(models, MINILM.tokenizer) };
const QUESTION = 'How do I load a pretrained tokenizer?';
const CODE = 'def get_peft_model(model, peft_config): wraps a base model with adapters';
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const DIMS = [0, 1, 2, 3, 4, 100, 383];
const cfgWith = (models: Record<string, unknown>) => loadConfig({ env: {}, cwd: tmpdir(), flags: { models: { backend: 'local', ...models } } as never });

describe('the local embedder registry', () => {
  it('has MiniLM (default), bge-small-en-v1.5 (CLS, query instruction) and e5-small-v2 (mean, query:/passage:)', () => {
    expect(DEFAULT_LOCAL_EMBEDDER).toBe('all-minilm-l6-v2-q');
    const table = Object.fromEntries(Object.entries(LOCAL_EMBEDDERS).map(([id, s]) => [id, [s.file, s.tokenizer, s.dimensions, s.pooling, s.maxTokens, s.queryPrefix, s.passagePrefix]]));
    expect(table).toEqual({
      'all-minilm-l6-v2-q': ['all-minilm-l6-v2-q.onnx', 'all-minilm-l6-v2-q-tokenizer.json', 384, 'mean', 256, '', ''],
      'bge-small-en-v1.5-q': ['bge-small-en-v1.5-q.onnx', 'bge-small-en-v1.5-q-tokenizer.json', 384, 'cls', 512, 'Represent this sentence for searching relevant passages: ', ''],
      'e5-small-v2-q': ['e5-small-v2-q.onnx', 'e5-small-v2-q-tokenizer.json', 384, 'mean', 512, 'query: ', 'passage: '],
    });
  });

  it('resolves an id or (as configs said before) an ONNX file name, and names the choices for anything else', () => {
    expect(localEmbedder().id).toBe('all-minilm-l6-v2-q');
    expect(localEmbedder('all-minilm-l6-v2-q.onnx').id).toBe('all-minilm-l6-v2-q');
    expect(localEmbedder('e5-small-v2-q').spec).toBe(LOCAL_EMBEDDERS['e5-small-v2-q']);
    expect(localEmbedder('bge-small-en-v1.5-q.onnx').id).toBe('bge-small-en-v1.5-q');
    expect(() => localEmbedder('bge-small')).toThrow(UserError);
    expect(() => localEmbedder('bge-small')).toThrow('unknown local embedder "bge-small" in models.embedder.model: choose one of all-minilm-l6-v2-q, bge-small-en-v1.5-q, e5-small-v2-q');
  });

  it('is chosen by models.embedder.model; the default stays MiniLM', () => {
    expect(chooseModels(cfgWith({})).embedder).toEqual({ backend: 'local', model: 'all-minilm-l6-v2-q', dimensions: 384 });
    expect(chooseModels(cfgWith({ embedder: { model: 'e5-small-v2-q' } })).embedder).toEqual({ backend: 'local', model: 'e5-small-v2-q', dimensions: 384 });
    expect(chooseModels(cfgWith({ embedder: { model: 'all-minilm-l6-v2-q.onnx' } })).embedder.model).toBe('all-minilm-l6-v2-q');
    expect(() => chooseModels(cfgWith({ embedder: { model: 'nope.onnx' } }))).toThrow(/^unknown local embedder "nope.onnx"/);
  });

  it('an extra embedder whose files are absent points at the set-up step that fetches it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'qaforge-no-models-'));
    const err = await openEmbedder(cfgWith({ modelsDir: empty, embedder: { model: 'bge-small-en-v1.5-q' } })).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      `bge-small-en-v1.5 (int8 ONNX) tokenizer not found at ${join(empty, 'bge-small-en-v1.5-q-tokenizer.json')}: run \`npm run setup -- --embedders\` to fetch the local models`,
    );
  });

  it('the pipeline opens MiniLM by default, cut at 128 tokens', async () => {
    const e = (await openEmbedder(cfgWith({}))) as LocalEmbedder;
    try {
      expect([e.backend, e.model, e.dimensions, e.spec]).toEqual(['local', 'all-MiniLM-L6-v2 (int8 ONNX)', 384, MINILM]);
      expect(e.tokenCounts([QUESTION, 'word '.repeat(500)])).toEqual([13, 128]);
    } finally {
      await e.close();
    }
  });
});

describe('pooling and prefixes, on the MiniLM model', () => {
  let mean: LocalEmbedder;
  let cls: LocalEmbedder;
  let e5like: LocalEmbedder;
  const E5LIKE: LocalEmbedderSpec = { ...MINILM, name: 'MiniLM with E5 prefixes', queryPrefix: 'query: ', passagePrefix: 'passage: ' };
  beforeAll(async () => {
    mean = await createLocalEmbedder(files);
    cls = await createLocalEmbedder({ ...files, spec: { ...MINILM, pooling: 'cls' } });
    e5like = await createLocalEmbedder({ ...files, spec: E5LIKE, maxTokens: 16 });
  });
  afterAll(async () => {
    await Promise.all([mean?.close(), cls?.close(), e5like?.close()]);
  });

  it('CLS pooling takes the [CLS] vector, as an independent reference does (Rust tokenizers + Python onnxruntime)', async () => {
    // Python: last_hidden_state[0][0] (resp. mean over tokens), L2-normalised; onnxruntime 1.32.0, graph
    // optimisation BASIC, batch of one. Dims 0-4, 100, 383; the full vectors agree to cosine > 0.9999999.
    const expected = {
      cls: [
        [-0.011279, -0.01834, 0.01646, 0.021453, -0.025763, -0.003648, -0.026391],
        [0.029522, -0.002843, -0.015389, 0.036285, 0.028382, -0.018482, -0.002046],
      ],
      mean: [
        [-0.023107, -0.023169, 0.009567, 0.038979, -0.02846, -0.017968, -0.036728],
        [-0.009203, -0.009318, -0.036131, 0.020844, 0.088935, -0.041255, 0.035572],
      ],
    };
    const got = { cls: await cls.embed([QUESTION, CODE]), mean: await mean.embed([QUESTION, CODE]) };
    for (const p of ['cls', 'mean'] as const)
      got[p].forEach((v, t) => {
        expect(Math.abs(Math.sqrt(dot(v, v)) - 1)).toBeLessThan(1e-5);
        DIMS.forEach((d, k) => expect(v[d]).toBeCloseTo(expected[p][t]![k]!, 5));
      });
    // Two different poolings of the same run: related, not the same vector.
    expect(dot(got.cls[0]!, got.mean[0]!)).toBeLessThan(0.9);
    expect([cls.model, cls.spec.pooling]).toEqual(['all-MiniLM-L6-v2 (int8 ONNX)', 'cls']);
  });

  it('puts the query prefix before queries and the passage prefix before passages (the default)', async () => {
    expect(prefixed(E5LIKE, QUESTION, 'query')).toBe(`query: ${QUESTION}`);
    expect(prefixed(E5LIKE, QUESTION)).toBe(`passage: ${QUESTION}`);
    expect(prefixed(MINILM, QUESTION, 'query')).toBe(QUESTION);
    const [q] = await e5like.embed([QUESTION], { kind: 'query' });
    const [p] = await e5like.embed([QUESTION]);
    const [p2] = await e5like.embed([QUESTION], { kind: 'passage' });
    const plain16 = await createLocalEmbedder({ ...files, maxTokens: 16 });
    try {
      expect(q).toEqual((await plain16.embed([`query: ${QUESTION}`]))[0]);
      expect(p).toEqual((await plain16.embed([`passage: ${QUESTION}`]))[0]);
      expect(p2).toEqual(p);
      expect(dot(q!, p!)).toBeLessThan(0.999);
    } finally {
      await plain16.close();
    }
    // The prefix counts towards the tokens and survives truncation: the text's end is cut, not it.
    expect(e5like.tokenCounts([QUESTION], { kind: 'query' })).toEqual([15]);
    expect(e5like.tokenCounts([QUESTION])).toEqual([15]);
    expect(mean.tokenCounts([QUESTION], { kind: 'query' })).toEqual([13]);
    expect(e5like.tokenCounts([CODE, CODE], { kind: 'query' })).toEqual([16, 16]);
    // A model without prefixes embeds a query as a passage.
    expect(await mean.embed([QUESTION], { kind: 'query' })).toEqual(await mean.embed([QUESTION]));
  });
});

describe('the text a pair is embedded as (models.embedder.text)', () => {
  const row = { question: 'What does get_peft_model do?', answer: 'It wraps a base model with adapters.', context: 'x'.repeat(100) + 'y'.repeat(100) };

  it('is the question, question + answer, or those and the first 150 characters of the context', () => {
    expect(CONTEXT_EXCERPT).toBe(150);
    expect(embeddingTextFor('question')(row)).toBe('What does get_peft_model do?');
    expect(embeddingTextFor('question_answer')(row)).toBe('What does get_peft_model do?\nIt wraps a base model with adapters.');
    expect(embeddingTextFor('question_answer_context')(row)).toBe(`What does get_peft_model do?\nIt wraps a base model with adapters.\n${'x'.repeat(100)}${'y'.repeat(50)}`);
    expect(embeddingTextFor()(row)).toBe(embeddingTextFor('question_answer')(row));
    expect(embeddingText(row)).toBe(embeddingTextFor('question_answer')(row));
  });

  it('defaults to question_answer and takes only the three variants', () => {
    expect(ModelsConfig.parse({}).embedder.text).toBe('question_answer');
    expect(cfgWith({ embedder: { text: 'question' } }).models.embedder.text).toBe('question');
    expect(ModelsConfig.safeParse({ embedder: { text: 'answer' } }).success).toBe(false);
  });
});
