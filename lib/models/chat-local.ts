// Local chat models: GGUF weights (from registry packages, unpacked by setup) run by node-llama-cpp on
// the CPU. Replies are constrained to the request's JSON schema by a grammar, since models this small
// rarely write valid JSON on their own. One call at a time per model: two would share two cores.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { ChatHistoryItem, Llama, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import pLimit from 'p-limit';
import { UserError } from '../errors.js';
import type { ChatModel, ChatRequest, ChatResult } from './types.js';

let llamaPromise: Promise<Llama> | null = null;

/** One llama.cpp runtime per process, prebuilt CPU binaries only (never a build or a download). */
function llama(): Promise<Llama> {
  llamaPromise ??= import('node-llama-cpp').then(({ getLlama }) => getLlama({ gpu: false, build: 'never', logLevel: 'error' as never, progressLogs: false }));
  return llamaPromise;
}

/**
 * Threads llama.cpp runs a local model on: QAFORGE_LOCAL_THREADS when set, else one core less than
 * the machine has (at least one).
 */
export function localThreads(cores: number, env: NodeJS.ProcessEnv = process.env): number {
  const set = Number(env.QAFORGE_LOCAL_THREADS);
  return Number.isInteger(set) && set > 0 ? set : Math.max(1, cores - 1);
}

export function createLocalChat(modelPath: string, opts: { contextSize?: number; threads?: number } = {}): ChatModel {
  if (!existsSync(modelPath)) throw new UserError(`local model ${modelPath} is missing: run \`npm run setup\` (it unpacks the weights from their registry packages)`);
  const one = pLimit(1);
  let loaded: Promise<{ model: LlamaModel; context: LlamaContext; sequence: LlamaContextSequence }> | null = null;
  const load = () =>
    (loaded ??= (async () => {
      const l = await llama();
      const model = await l.loadModel({ modelPath });
      // llama.cpp's threads spin-wait on each other: with every core busy (a 4-thread default on 2 cores,
      // or 2 threads next to other work) one call took 100× longer. One core is left for the rest.
      const context = await model.createContext({ contextSize: opts.contextSize ?? 4096, threads: opts.threads ?? localThreads(l.cpuMathCores) });
      return { model, context, sequence: context.getSequence() };
    })());

  async function complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
    const { LlamaChatSession } = await import('node-llama-cpp');
    const { sequence } = await load();
    const l = await llama();
    const grammar = await l.createGrammarForJsonSchema(req.schema as never);
    // One sequence, reused: every call starts from an empty history (no state leaks between prompts).
    await sequence.clearHistory();
    const before = { input: sequence.tokenMeter.usedInputTokens, output: sequence.tokenMeter.usedOutputTokens };
    const session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
    const last = req.messages.at(-1);
    if (last?.role !== 'user') throw new Error('a chat request must end with a user message');
    session.setChatHistory(req.messages.slice(0, -1).map(toHistoryItem));
    try {
      const text = await session.prompt(last.content, {
        grammar,
        maxTokens: req.maxTokens,
        temperature: req.temperature,
        seed: req.seed,
        repeatPenalty: { penalty: 1.1 },
        signal,
      });
      return {
        text,
        promptTokens: sequence.tokenMeter.usedInputTokens - before.input,
        completionTokens: sequence.tokenMeter.usedOutputTokens - before.output,
        cached: false,
      };
    } finally {
      session.dispose({ disposeSequence: false });
    }
  }

  return {
    backend: 'local',
    model: basename(modelPath),
    complete: (req, signal) => one(() => complete(req, signal)),
    async close() {
      if (!loaded) return;
      const { model, context } = await loaded;
      await context.dispose();
      await model.dispose();
      loaded = null;
    },
  };
}

function toHistoryItem(m: ChatRequest['messages'][number]): ChatHistoryItem {
  if (m.role === 'system') return { type: 'system', text: m.content };
  if (m.role === 'user') return { type: 'user', text: m.content };
  return { type: 'model', response: [m.content] };
}
