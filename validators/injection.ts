// Prompt-injection screening: flags untrusted text (issues, PRs, commits, docs, docstrings) that
// addresses instructions to the generator or the judge, using the versioned patterns in one JSON file.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { RejectReason, Verdict } from '../datasets/schemas.js';
import { projectFile } from '../lib/paths.js';

export const INJECTION_PATTERNS_FILE = projectFile('validators/injection-patterns.v1.json');

const PROMPT_INJECTION: RejectReason = 'prompt_injection';

/**
 * "all": matched anywhere. "prose": matched outside code only (fenced blocks, doctest blocks, inline
 * code, quoted string literals), for markers that docs and chat-template code legitimately show.
 */
const PatternScope = z.enum(['all', 'prose']);

const PatternEntry = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9_]*$/, 'a snake_case id'),
  description: z.string().min(1),
  regex: z.string().min(1),
  // "g" is added when matching; "y" would anchor every search at one offset.
  flags: z.string().regex(/^(?!.*(.).*\1)[imsu]*$/, 'distinct flags out of i, m, s, u').default('i'),
  scope: PatternScope.default('all'),
});

export const InjectionPatternFile = z
  .strictObject({
    version: z.string().regex(/^injection-patterns\.v\d+$/, 'like injection-patterns.v1'),
    patterns: z.array(PatternEntry).min(1),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.patterns.forEach((p, i) => {
      if (seen.has(p.id)) ctx.addIssue({ code: 'custom', path: ['patterns', i, 'id'], message: `duplicate id ${p.id}` });
      seen.add(p.id);
      try {
        new RegExp(p.regex, p.flags);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['patterns', i, 'regex'], message: `${p.id}: ${(e as Error).message}` });
      }
    });
  });
export type InjectionPatternFile = z.infer<typeof InjectionPatternFile>;

export interface InjectionPattern {
  id: string;
  description: string;
  scope: z.infer<typeof PatternScope>;
  re: RegExp;
}

export interface InjectionPatterns {
  version: string;
  patterns: InjectionPattern[];
}

/** Reads and checks a pattern file; a broken file throws one line naming the file and the entry. */
export function loadInjectionPatterns(file: URL | string = INJECTION_PATTERNS_FILE): InjectionPatterns {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`injection patterns ${String(file)}: cannot read JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const parsed = InjectionPatternFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`injection patterns ${String(file)}: ${issue.path.join('.') || 'file'}: ${issue.message}`);
  }
  return {
    version: parsed.data.version,
    patterns: parsed.data.patterns.map((p) => ({ id: p.id, description: p.description, scope: p.scope, re: new RegExp(p.regex, `${p.flags}g`) })),
  };
}

let loaded: InjectionPatterns | null = null;
/** The shipped patterns, loaded and validated on first use. */
export function injectionPatterns(): InjectionPatterns {
  loaded ??= loadInjectionPatterns();
  return loaded;
}

// Invisible characters an attacker can put inside a word so that "ig\u200bnore" evades a pattern:
// zero-width and joiner characters, bidi controls, soft hyphen, variation selectors, Unicode tags.
const INVISIBLE = /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0]|[\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}]/gu;

/**
 * The form patterns are matched in. Line structure is kept (one output line per input line, so hits
 * carry a line number and "^" still means a line start); within a line, NFKC folds look-alike forms
 * (full-width letters, ligatures), invisible characters go, whitespace runs become one space, and
 * markdown emphasis stars and blockquote markers go, so "**ignore** all" and a phrase wrapped across
 * quoted lines still match. Patterns join words with \s+, which spans the kept line breaks.
 */
export function normalizeForScreening(text: string): string {
  let s = text.replace(/\r\n?/g, '\n');
  if (!/^[\x00-\x7f]*$/.test(s)) s = s.normalize('NFKC').replace(INVISIBLE, '').replace(/[\u2028\u2029]/g, ' ');
  return s
    .split('\n')
    .map((line) => {
      // ">>>" opens a doctest, not a quote: it must survive for the code mask.
      const unquoted = /^\s*>>>/.test(line) ? line : line.replace(/^\s*(?:>\s?)+/, '');
      return unquoted.replace(/\*+/g, '').replace(/[^\S\n]+/g, ' ').trim();
    })
    .join('\n');
}

const blank = (s: string) => s.replace(/[^\n]/g, ' ');

// A triple-quoted string that is a value (after "=", "(", ",", "return"…), not a docstring: templates
// and expected outputs in Python source and diffs. Docstrings open a line and stay prose.
const VALUE_TRIPLE_QUOTE = /(?:[=(,[{+:]|\breturn)\s*(?:[\w.]+\()?[rbuf]{0,2}("""|''')/i;

/**
 * The normalised text with code blanked out (same length, same line breaks): fenced blocks, doctest
 * blocks (">>>" to the next blank line), triple-quoted string values, inline code, and quoted string
 * literals on one line.
 */
export function maskCode(normalized: string): string {
  const lines = normalized.split('\n');
  let fence: string | null = null;
  let doctest = false;
  let tripleQuote: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (tripleQuote) {
      const end = line.indexOf(tripleQuote);
      if (end === -1) lines[i] = blank(line);
      else {
        lines[i] = blank(line.slice(0, end + 3)) + line.slice(end + 3);
        tripleQuote = null;
      }
      continue;
    }
    if (fence) {
      if (line.startsWith(fence) && /^(`{3,}|~{3,})\s*$/.test(line)) fence = null;
      lines[i] = blank(line);
      continue;
    }
    const value = VALUE_TRIPLE_QUOTE.exec(line);
    if (value) {
      const start = value.index + value[0].length;
      const end = line.indexOf(value[1]!, start);
      if (end === -1) {
        lines[i] = line.slice(0, start) + blank(line.slice(start));
        tripleQuote = value[1]!;
        continue;
      }
      lines[i] = line.slice(0, start) + blank(line.slice(start, end)) + line.slice(end);
    }
    const open = /^(`{3,}|~{3,})/.exec(line);
    if (open) {
      // An unclosed fence runs to the end, as CommonMark reads it.
      fence = open[1]!;
      lines[i] = blank(line);
      continue;
    }
    if (line.startsWith('>>>')) doctest = true;
    else if (line === '') doctest = false;
    if (doctest) lines[i] = blank(line);
  }
  return (
    lines
      .join('\n')
      .replace(/`[^`\n]+`/g, blank)
      // A quote opens after a non-word character and closes before one, so "user's" and "it's" in prose do not pair up.
      .replace(/(?<![\p{L}\p{N}_])(["'])(?:(?!\1)[^\n\\]|\\.){1,200}\1(?![\p{L}\p{N}_])/gu, blank)
  );
}

export interface InjectionHit {
  id: string;
  /** The matched text in its normalised form, whitespace collapsed, at most MAX_MATCH_CHARS. */
  match: string;
  /** 1-based line of the input where the match starts. */
  line: number;
}

export interface InjectionScreen {
  flagged: boolean;
  hits: InjectionHit[];
  /** The pattern file's version, so a verdict says which patterns judged it. */
  version: string;
}

const MAX_MATCH_CHARS = 80;
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

// Pairs drawn from one record share its context: screen it once.
let lastScreen: { input: string; patterns: InjectionPatterns; result: InjectionScreen } | null = null;

/** Every pattern hit in `text`, in order of pattern then position. */
export function screenInjection(text: string, patterns: InjectionPatterns = injectionPatterns()): InjectionScreen {
  if (lastScreen?.input === text && lastScreen.patterns === patterns) return lastScreen.result;
  const normalized = normalizeForScreening(text);
  let prose: string | null = null;
  const hits: InjectionHit[] = [];
  for (const p of patterns.patterns) {
    const target = p.scope === 'prose' ? (prose ??= maskCode(normalized)) : normalized;
    for (const m of target.matchAll(p.re)) {
      if (!m[0].trim()) continue;
      hits.push({ id: p.id, match: clip(m[0].replace(/\s+/g, ' ').trim(), MAX_MATCH_CHARS), line: lineAt(target, m.index) });
    }
  }
  const result = { flagged: hits.length > 0, hits, version: patterns.version };
  lastScreen = { input: text, patterns, result };
  return result;
}

const MAX_DETAIL_CHARS = 400;

/** The hits as a skip or verdict detail says them: `id "match" (line n)`, joined by `; `. */
export const describeHits = (hits: InjectionHit[]): string => hits.map((h) => `${h.id} "${clip(h.match, 60)}" (line ${h.line})`).join('; ');

/** Check "injection": fails a context that carries instructions for the model or the reviewer. */
export function checkNoInjection(context: string): Verdict {
  const r = screenInjection(context);
  if (!r.flagged) return { check: 'injection', pass: true, reason: null, detail: null };
  const ids = [...new Set(r.hits.map((h) => h.id))];
  const shown = describeHits(r.hits);
  return { check: 'injection', pass: false, reason: PROMPT_INJECTION, detail: clip(`${r.version}: ${ids.join(',')}: ${shown}`, MAX_DETAIL_CHARS) };
}
