// The model layer's contracts: a chat model that answers in JSON constrained by a schema, and an
// embedder. Backends: local (node-llama-cpp / onnxruntime-node, weights from registry packages) and
// hf (@huggingface/inference: HF Inference Providers, or any OpenAI-compatible / TEI endpoint).
import { z } from 'zod';

export const ChatMessage = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() });
export type ChatMessage = z.infer<typeof ChatMessage>;

/** A JSON schema object (the subset node-llama-cpp's grammar and `response_format` both take). */
export type JsonSchema = Record<string, unknown>;

export interface ChatRequest {
  messages: ChatMessage[];
  /** The reply must be JSON matching this schema: a grammar locally, `response_format` remotely. */
  schema: JsonSchema;
  /** The prompt template's version: part of the cache key and of each pair's provenance. */
  promptVersion: string;
  maxTokens: number;
  temperature: number;
  seed: number;
}

export interface ChatResult {
  text: string;
  promptTokens: number;
  completionTokens: number;
  /** True when the reply came from the on-disk cache (no model call). */
  cached: boolean;
}

export type Backend = 'local' | 'hf';

export interface ChatModel {
  readonly backend: Backend;
  /** Model id (remote) or weights file name (local): recorded on every pair it writes or judges. */
  readonly model: string;
  complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult>;
  close(): Promise<void>;
}

/**
 * What a text is to the embedder: a passage stored in the corpus, or a query searched with. Models trained
 * with prefixes or instructions (E5, BGE) embed the two differently; for others they are the same.
 */
export type EmbedKind = 'query' | 'passage';

export interface EmbedOptions {
  /** Default 'passage'. */
  kind?: EmbedKind;
  /** Called with how many of the texts were just embedded, as they are (an embedder may call it once, at the end). */
  onProgress?: (texts: number) => void;
}

export interface Embedder {
  readonly backend: Backend;
  readonly model: string;
  readonly dimensions: number;
  /** One L2-normalised vector per text, in order; texts are passages unless `kind: 'query'`. */
  embed(texts: string[], opts?: EmbedOptions): Promise<Float32Array[]>;
  close(): Promise<void>;
}
