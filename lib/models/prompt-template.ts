// Versioned prompt templates: markdown files with a system and a user part and {{name}} slots. The
// version (file name + a hash of its text) goes into each pair's provenance and each cache key, so
// an edited prompt never reuses replies cached for the old one.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { sha256Hex } from '../hash.js';
import type { ChatMessage } from './types.js';

export interface PromptTemplate {
  /** e.g. "self-instruct.v1+3fa2c1d0" */
  version: string;
  render(vars: Record<string, string>): ChatMessage[];
}

export function loadPrompt(path: string): PromptTemplate {
  const text = readFileSync(path, 'utf8');
  const m = /<!-- system -->\n([\s\S]*?)<!-- user -->\n([\s\S]*)$/.exec(text);
  if (!m) throw new Error(`prompt ${basename(path)} needs a "<!-- system -->" and a "<!-- user -->" part`);
  const [system, user] = [m[1]!.trim(), m[2]!.trim()];
  const fill = (t: string, vars: Record<string, string>) =>
    t.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
      if (!(k in vars)) throw new Error(`prompt ${basename(path)}: no value for {{${k}}}`);
      return vars[k]!;
    });
  return {
    version: `${basename(path, '.md')}+${sha256Hex(text).slice(0, 8)}`,
    render: (vars) => [
      { role: 'system', content: fill(system, vars) },
      { role: 'user', content: fill(user, vars) },
    ],
  };
}

/**
 * Fences untrusted text as data: a closing tag inside it cannot end the fence early.
 */
export const fenceContent = (s: string) => s.replace(/<\/?context>/gi, (t) => t.replace('<', '‹'));

/** Long text cut for a prompt at a line or word end past half of `max`, marked with "…". */
export function clipForPrompt(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max);
  const cut = Math.max(head.lastIndexOf('\n'), head.lastIndexOf(' '));
  return `${head.slice(0, cut > max / 2 ? cut : max)}…`;
}
