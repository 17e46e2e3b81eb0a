// Which models write, judge and embed, and how they are called: zod-validated like the rest of the
// configuration. `backend: auto` is local unless an endpoint URL or HF_TOKEN is set.
import { z } from 'zod';

export const LOCAL_MODELS = {
  generator: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  judge: 'gemma-3-270m-q4_k_m.gguf',
  embedder: 'all-minilm-l6-v2-q.onnx',
  tokenizer: 'all-minilm-l6-v2-q-tokenizer.json',
} as const;

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
      .object({ ...modelFields, dimensions: z.number().int().positive().default(384) })
      .strict()
      .prefault({}),
    /** Where the local weights are (filled by `npm run setup`); relative paths are from the project root. */
    modelsDir: z.string().min(1).default('.models'),
    /** Source records self-instruct reads per run: a number, or 'all' (for real endpoints). */
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
