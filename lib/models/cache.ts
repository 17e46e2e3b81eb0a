// Every model call goes through here: answered from an on-disk cache keyed by a hash of (backend,
// model, prompt version, messages, parameters), so a re-run or a Temporal retry never pays twice;
// tokens, calls and estimated cost are counted for the run, and a token budget is enforced.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { sha256Hex } from '../hash.js';
import type { ChatModel, ChatRequest, ChatResult } from './types.js';

export interface Usage {
  calls: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  /** USD, from models.pricePerMTokens. */
  estimatedCost: number;
}

export const emptyUsage = (): Usage => ({ calls: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0, estimatedCost: 0 });

/** Thrown (and caught by the generation step) once the run's token budget is spent. */
export class BudgetExhausted extends Error {
  constructor(readonly budget: number) {
    super(`token budget of ${budget} reached`);
  }
}

/** Tokens spent by the run's real model calls, shared by the generator and the judge. */
export class Meter {
  readonly usage = emptyUsage();
  constructor(
    private price: { input: number; output: number },
    readonly budget: number | undefined,
  ) {}
  get spent(): number {
    return this.usage.promptTokens + this.usage.completionTokens;
  }
  get exhausted(): boolean {
    return this.budget !== undefined && this.spent >= this.budget;
  }
  record(r: ChatResult): void {
    if (r.cached) {
      this.usage.cacheHits++;
      return;
    }
    this.usage.calls++;
    this.usage.promptTokens += r.promptTokens;
    this.usage.completionTokens += r.completionTokens;
    this.usage.estimatedCost += (r.promptTokens * this.price.input + r.completionTokens * this.price.output) / 1e6;
  }
}

const Entry = z.object({ text: z.string(), promptTokens: z.number(), completionTokens: z.number() });

export function cacheKey(model: Pick<ChatModel, 'backend' | 'model'>, req: ChatRequest): string {
  const { messages, schema, promptVersion, maxTokens, temperature, seed } = req;
  return sha256Hex(JSON.stringify({ backend: model.backend, model: model.model, promptVersion, messages, schema, maxTokens, temperature, seed }));
}

/** A chat model whose replies are cached under `dir` (one small JSON file per call) and metered. */
export function cachedChat(inner: ChatModel, dir: string, meter: Meter): ChatModel {
  return {
    backend: inner.backend,
    model: inner.model,
    async complete(req, signal) {
      const key = cacheKey(inner, req);
      const file = join(dir, key.slice(0, 2), `${key}.json`);
      const hit = readEntry(file);
      if (hit) {
        const r = { ...hit, cached: true };
        meter.record(r);
        return r;
      }
      // Cached replies stay free after the budget is spent; only new calls stop.
      if (meter.exhausted) throw new BudgetExhausted(meter.budget!);
      const r = await inner.complete(req, signal);
      mkdirSync(join(dir, key.slice(0, 2)), { recursive: true });
      // Written whole then renamed: a crash never leaves half an entry.
      writeFileSync(`${file}.tmp`, JSON.stringify({ text: r.text, promptTokens: r.promptTokens, completionTokens: r.completionTokens }));
      renameSync(`${file}.tmp`, file);
      meter.record(r);
      return r;
    },
    close: () => inner.close(),
  };
}

function readEntry(file: string): z.infer<typeof Entry> | null {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const r = Entry.safeParse(JSON.parse(raw));
    return r.success ? r.data : null;
  } catch {
    return null; // a damaged entry is a miss: the call is made again and the entry rewritten
  }
}
