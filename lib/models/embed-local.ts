// Sentence embeddings on this machine: a BERT-shaped int8 ONNX model (all-MiniLM-L6-v2 by default; see
// LOCAL_EMBEDDERS) through onnxruntime-node, tokenised from its tokenizer.json; the model's own prefix put
// before each query or passage; mean pooling over the real tokens or the [CLS] token's vector, then L2
// normalisation (as sentence-transformers).
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors.js';
import { LOCAL_EMBEDDERS, type LocalEmbedderSpec, type Pooling } from './config.js';
import type { EmbedKind, EmbedOptions, Embedder } from './types.js';

const MINILM: LocalEmbedderSpec = LOCAL_EMBEDDERS['all-minilm-l6-v2-q'];
export const MINILM_MODEL = MINILM.name;
export const MINILM_DIMENSIONS = MINILM.dimensions;
/** sentence-transformers' max_seq_length for this model, [CLS] and [SEP] included. */
export const MINILM_MAX_TOKENS = MINILM.maxTokens;

export interface LocalEmbedder extends Embedder {
  readonly spec: LocalEmbedderSpec;
  /** Tokens each text is embedded with (its kind's prefix included), after truncation, [CLS]/[SEP] included. */
  tokenCounts(texts: string[], opts?: EmbedOptions): number[];
}

function mustExist(path: string, what: string, setup: string): void {
  if (!existsSync(path)) throw new UserError(`${what} not found at ${path}: run \`${setup}\` to fetch the local models`);
}

export function loadTokenizer(path: string, spec: LocalEmbedderSpec = MINILM): Tokenizer {
  mustExist(path, `${spec.name} tokenizer`, spec.setup);
  // The json's own truncation/padding (128, fixed) are LangChain4j's; tokenize() truncates instead.
  return new Tokenizer(JSON.parse(readFileSync(path, 'utf8')), {});
}

/**
 * How far onnxruntime rewrites the graph. `basic`: the graph as written (constant folding only), which
 * Python onnxruntime reproduces to 1e-8. `extended`: LayerNorm, GELU and the quantised MatMuls fused into
 * single kernels (DynamicQuantizeMatMul, MatMulIntegerToFloat): 1.3–1.8× faster per text on one thread
 * here, but the fused int8 kernels move the vectors of texts over ~32 tokens (cosine to `basic` 0.993 at
 * worst, 0.9986 on average, on peft pairs).
 */
export type GraphOptimization = 'basic' | 'extended';

export async function openSession(modelPath: string, threads = availableParallelism(), spec: LocalEmbedderSpec = MINILM, optimization: GraphOptimization = 'basic'): Promise<ort.InferenceSession> {
  mustExist(modelPath, `${spec.name} model`, spec.setup);
  return ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: optimization,
  });
}

/**
 * Token ids with [CLS]/[SEP], cut to maxTokens as HF truncation does (the last id stays [SEP]). Long texts
 * are tokenised from a prefix ending at whitespace, grown until it yields enough tokens: BERT splits
 * words at whitespace, so that prefix's tokens are exactly the full text's first ones.
 */
export function tokenize(tokenizer: Tokenizer, text: string, maxTokens: number): number[] {
  const sep = tokenizer.token_to_id('[SEP]');
  if (sep === undefined) throw new Error('tokenizer has no [SEP] token: not a BERT tokenizer');
  for (let budget = maxTokens * 8; ; budget *= 2) {
    const cut = budget < text.length ? text.slice(budget).search(/[ \t\r\n]/) : -1;
    const ids = tokenizer.encode(cut < 0 ? text : text.slice(0, budget + cut)).ids;
    if (ids.length > maxTokens) return [...ids.slice(0, maxTokens - 1), sep];
    if (cut < 0) return ids;
  }
}

/** The text a model is given for a query or a passage: its prefix for that kind, then the text. */
export function prefixed(spec: Pick<LocalEmbedderSpec, 'queryPrefix' | 'passagePrefix'>, text: string, kind: EmbedKind = 'passage'): string {
  return (kind === 'query' ? spec.queryPrefix : spec.passagePrefix) + text;
}

/**
 * Runs one batch padded to its longest sequence; returns one pooled, L2-normalised vector per row:
 * `mean` over the row's real tokens, or `cls`, the first token's ([CLS]) vector.
 */
export async function embedBatch(session: ort.InferenceSession, batch: number[][], pooling: Pooling = 'mean'): Promise<Float32Array[]> {
  const rows = batch.length;
  const len = Math.max(...batch.map((ids) => ids.length));
  const ids = new BigInt64Array(rows * len);
  const mask = new BigInt64Array(rows * len);
  batch.forEach((row, r) =>
    row.forEach((id, t) => {
      ids[r * len + t] = BigInt(id);
      mask[r * len + t] = 1n;
    }),
  );
  const all: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [rows, len]),
    attention_mask: new ort.Tensor('int64', mask, [rows, len]),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(rows * len), [rows, len]),
  };
  // Some exports drop token_type_ids: feed only what the graph declares.
  const feeds = Object.fromEntries(session.inputNames.map((n) => [n, all[n]!]));
  const out = (await session.run(feeds))['last_hidden_state'];
  if (!out) throw new Error(`model has no last_hidden_state output (outputs: ${session.outputNames.join(', ')})`);
  const hidden = out.data as Float32Array;
  const dim = hidden.length / (rows * len);
  return batch.map((row, r) => {
    const sum = new Float64Array(dim);
    // Mean over the real tokens only (positions from row.length on are padding); CLS: token 0 alone.
    const tokens = pooling === 'cls' ? Math.min(1, row.length) : row.length;
    for (let t = 0; t < tokens; t++) {
      const base = (r * len + t) * dim;
      for (let d = 0; d < dim; d++) sum[d]! += hidden[base + d]!;
    }
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += sum[d]! * sum[d]!;
    // Dividing by the token count is left out: the L2 normalisation cancels it.
    const scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
    return Float32Array.from(sum, (x) => x * scale);
  });
}

/** Baseline for benchmarks: the same tokenisation and pooling, padded batches of 32 in input order (texts as given: no prefix). */
export async function rawOnnxEmbed(session: ort.InferenceSession, tokenizer: Tokenizer, texts: string[], maxTokens = MINILM_MAX_TOKENS, pooling: Pooling = 'mean'): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += 32)
    out.push(...(await embedBatch(session, texts.slice(i, i + 32).map((t) => tokenize(tokenizer, t, maxTokens)), pooling)));
  return out;
}

/**
 * The pipeline's embedder. Each text is its own run, never padded nor batched: the model quantises its
 * activations per tensor at run time (DynamicQuantizeLinear), so in a batch a text's vector would shift
 * with its neighbours and padding (cosine ~0.99 to itself alone), and batching was measured no faster.
 */
export async function createLocalEmbedder(opts: {
  modelPath: string;
  tokenizerPath: string;
  threads?: number;
  /** Default: the spec's maxTokens. */
  maxTokens?: number;
  /** Which model the files are (pooling, prefixes, width, name); default all-MiniLM-L6-v2. */
  spec?: LocalEmbedderSpec;
  /** Default `basic`. */
  optimization?: GraphOptimization;
}): Promise<LocalEmbedder> {
  const spec = opts.spec ?? MINILM;
  const maxTokens = opts.maxTokens ?? spec.maxTokens;
  // BERT's position table has 512 rows; below 2 there is no room for [CLS] and [SEP].
  if (!Number.isInteger(maxTokens) || maxTokens < 2 || maxTokens > 512) throw new UserError(`maxTokens must be an integer in 2..512, got ${maxTokens}`);
  const tokenizer = loadTokenizer(opts.tokenizerPath, spec);
  const session = await openSession(opts.modelPath, opts.threads, spec, opts.optimization);
  const ids = (t: string, o?: EmbedOptions) => tokenize(tokenizer, prefixed(spec, t, o?.kind), maxTokens);
  return {
    backend: 'local',
    model: spec.name,
    dimensions: spec.dimensions,
    spec,
    async embed(texts, o) {
      const out: Float32Array[] = [];
      for (const t of texts) {
        const [v] = await embedBatch(session, [ids(t, o)], spec.pooling);
        if (v!.length !== spec.dimensions) throw new UserError(`${opts.modelPath} gives ${v!.length}-d vectors, not the ${spec.dimensions} of ${spec.name}: wrong model file?`);
        out.push(v!);
        o?.onProgress?.(1);
      }
      return out;
    },
    tokenCounts: (texts, o) => texts.map((t) => ids(t, o).length),
    async close() {
      await session.release();
    },
  };
}
