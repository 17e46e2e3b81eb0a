// A model reply that must be JSON of a given shape: parsed with zod, and when it is not usable the
// model is told why and asked once more. Bad output is returned as a reason, never thrown.
import type { z } from 'zod';
import type { ChatModel, ChatRequest } from './types.js';

export type JsonReply<T> = { ok: true; value: T; raw: string } | { ok: false; detail: string; raw: string };

/** One call whose reply must parse as `schema`; at most one repair retry. */
export async function askForJson<T>(chat: ChatModel, req: ChatRequest, schema: z.ZodType<T>, signal?: AbortSignal): Promise<JsonReply<T>> {
  let raw = (await chat.complete(req, signal)).text;
  let parsed = parseReply(raw, schema);
  if (parsed.ok) return { ok: true, value: parsed.value, raw };
  const repair: ChatRequest = {
    ...req,
    messages: [...req.messages, { role: 'assistant', content: raw }, { role: 'user', content: `That reply was not usable (${parsed.problem}). Reply with only the JSON object.` }],
  };
  raw = (await chat.complete(repair, signal)).text;
  parsed = parseReply(raw, schema);
  if (parsed.ok) return { ok: true, value: parsed.value, raw };
  return { ok: false, detail: `${parsed.problem} (after one repair retry)`, raw };
}

function parseReply<T>(raw: string, schema: z.ZodType<T>): { ok: true; value: T } | { ok: false; problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    return { ok: false, problem: `invalid JSON: ${(e as Error).message}` };
  }
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, problem: `JSON does not match the schema: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}` };
}
