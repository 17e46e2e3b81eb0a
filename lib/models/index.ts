// The model layer as the pipeline sees it: a generator and a judge (different models), an embedder,
// all chosen from the configuration, every chat call cached and metered. Local weights by default;
// HF Inference Providers with HF_TOKEN, or an OpenAI-compatible server with an endpoint URL.
import { isAbsolute, join, resolve } from 'node:path';
import type { Config } from '../config.js';
import { cachedChat, Meter } from './cache.js';
import { createHfChat } from './chat-hf.js';
import { createLocalChat } from './chat-local.js';
import { LOCAL_EMBEDDERS, LOCAL_MODELS, LOCAL_PARAPHRASE_MODELS, localEmbedder, REMOTE_MODELS, type ModelTask } from './config.js';
import type { GraphOptimization } from './embed-local.js';
import type { Backend, ChatModel, Embedder } from './types.js';
import { PROJECT_ROOT } from '../paths.js';

export interface ModelChoice {
  backend: Backend;
  /** What the model step writes (models.task, `auto` resolved by the backend). */
  task: ModelTask;
  generator: { model: string; endpointUrl?: string };
  judge: { model: string; endpointUrl?: string };
  /** Local: a LOCAL_EMBEDDERS id (an unknown one is a UserError here); remote: the model id. */
  embedder: { backend: Backend; model: string; endpointUrl?: string; dimensions: number };
  /** Set when the judge runs on the generator's own weights (with its own prompt): said in every summary. */
  sameModelNote: string | null;
}

export function modelsDir(cfg: Config): string {
  const d = cfg.models.modelsDir;
  return isAbsolute(d) ? d : resolve(PROJECT_ROOT, d);
}

/** Which backend and models a run uses: `auto` is remote when an endpoint URL or HF_TOKEN is set. */
export function chooseModels(cfg: Config): ModelChoice {
  const m = cfg.models;
  const remote = m.backend === 'hf' || (m.backend === 'auto' && Boolean(m.endpointUrl || m.generator.endpointUrl || m.judge.endpointUrl || cfg.hfToken));
  // The local models cannot write an answer their context supports (SmolLM2-135M) nor judge one
  // reliably (Gemma 3 270M); rewording a question whose answer is already grounded they can.
  const task: ModelTask = m.task === 'auto' ? (remote ? 'self_instruct' : 'paraphrase') : m.task;
  const defaults = remote ? REMOTE_MODELS : task === 'paraphrase' ? LOCAL_PARAPHRASE_MODELS : LOCAL_MODELS;
  const endpoint = (own?: string) => (remote ? (own ?? m.endpointUrl) : undefined);
  const generator = { model: m.generator.model ?? defaults.generator, endpointUrl: endpoint(m.generator.endpointUrl) };
  const judge = { model: m.judge.model ?? defaults.judge, endpointUrl: endpoint(m.judge.endpointUrl) };
  // Embeddings stay local unless a remote embedder is reachable: a TEI server at <endpoint>/embed, or HF.
  const embedRemote = Boolean(m.embedder.endpointUrl || (remote && (m.endpointUrl || cfg.hfToken)));
  const embedder = embedRemote
    ? {
        backend: 'hf' as const,
        model: m.embedder.model ?? REMOTE_MODELS.embedder,
        endpointUrl: m.embedder.endpointUrl ?? (m.endpointUrl ? `${m.endpointUrl.replace(/\/$/, '')}/embed` : undefined),
        dimensions: m.embedder.dimensions,
      }
    : (({ id, spec }) => ({ backend: 'local' as const, model: id, dimensions: spec.dimensions }))(localEmbedder(m.embedder.model));
  const same = generator.model === judge.model && generator.endpointUrl === judge.endpointUrl;
  return {
    backend: remote ? 'hf' : 'local',
    task,
    generator,
    judge,
    embedder,
    sameModelNote: same ? `the judge reuses the generator's model (${judge.model}) with its own prompt: no second model was configured` : null,
  };
}

export interface Models {
  choice: ModelChoice;
  generator: ChatModel;
  judge: ChatModel;
  meter: Meter;
  close(): Promise<void>;
}

/** Opens the generator and judge (lazily: local weights load on the first call) with cache and meter. */
export function openChatModels(cfg: Config): Models {
  const choice = chooseModels(cfg);
  const m = cfg.models;
  const meter = new Meter(m.pricePerMTokens, m.budgetTokens);
  const cacheDir = join(resolve(cfg.dataDir), 'model-cache');
  const open = (c: { model: string; endpointUrl?: string }): ChatModel =>
    choice.backend === 'local'
      ? createLocalChat(join(modelsDir(cfg), c.model))
      : createHfChat({ model: c.model, endpointUrl: c.endpointUrl, accessToken: cfg.hfToken, retries: m.retries, retryBaseMs: m.retryBaseMs, timeoutMs: m.timeoutMs });
  const generator = cachedChat(open(choice.generator), cacheDir, meter);
  // One set of local weights serves both roles when they are the same file: the prompts differ.
  const judge = choice.sameModelNote ? generator : cachedChat(open(choice.judge), cacheDir, meter);
  return {
    choice,
    generator,
    judge,
    meter,
    async close() {
      await generator.close();
      if (judge !== generator) await judge.close();
    },
  };
}

export const EMBED_MAX_TOKENS = 128;
/**
 * The graph optimisation of every local embedding session, passages and queries alike (see embed-local.ts).
 * `basic`: `extended` made promotion's embedding ~1.7× faster still, but on the peft eval set it found one
 * question fewer (hybrid and vector recall@10 0.015 lower), and it would change the vectors of every corpus
 * promoted so far.
 */
export const EMBED_GRAPH_OPTIMIZATION: GraphOptimization = 'basic';

/** The embedder promotion and search use. */
/**
 * `thread`: a local model runs in a worker thread of its own (what a server wants: see embed-thread.ts).
 * `workers: n`: in n worker threads with a one-thread ONNX session each (bulk embedding: promotion).
 */
export async function openEmbedder(cfg: Config, opts: { thread?: boolean; workers?: number } = {}): Promise<Embedder> {
  const e = chooseModels(cfg).embedder;
  const m = cfg.models;
  if (e.backend === 'hf') {
    const { createHfEmbedder } = await import('./embed-hf.js');
    // A remote copy of a model that wants prefixes (BAAI/bge-small-en-v1.5, intfloat/e5-small-v2) gets them too.
    const known = Object.values(LOCAL_EMBEDDERS).find((s) => s.upstream === e.model);
    const prefixes = known ? { queryPrefix: known.queryPrefix, passagePrefix: known.passagePrefix } : {};
    return createHfEmbedder({ model: e.model, endpointUrl: e.endpointUrl, accessToken: cfg.hfToken, dimensions: e.dimensions, timeoutMs: m.timeoutMs, retries: m.retries, ...prefixes });
  }
  const { createLocalEmbedder } = await import('./embed-local.js');
  const { spec } = localEmbedder(e.model);
  const dir = modelsDir(cfg);
  // At most 128 tokens, as all-MiniLM-L6-v2 was trained: past that each text costs twice as much for little
  // gain. The same cap for every local model, so that they are compared on the same texts.
  const files = {
    modelPath: join(dir, spec.file),
    tokenizerPath: join(dir, spec.tokenizer),
    maxTokens: Math.min(spec.maxTokens, EMBED_MAX_TOKENS),
    spec,
    optimization: EMBED_GRAPH_OPTIMIZATION,
  };
  if (opts.thread || (opts.workers ?? 0) > 1) {
    const { createThreadedEmbedder } = await import('./embed-thread.js');
    // One ONNX thread each: a one-query batch gains nothing from two, and the other core serves the rest;
    // in bulk, a worker per core embeds about twice what one two-thread session does.
    return createThreadedEmbedder({ ...files, threads: 1 }, { workers: opts.workers ?? 1 });
  }
  return createLocalEmbedder(files);
}
