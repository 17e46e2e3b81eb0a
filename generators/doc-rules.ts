// Rule templates: doc_section SourceRecord → extractive candidate QAPairs quoting the section.
import type { GeneratorInfo, QAPair, SourceRecord } from '../datasets/schemas.js';
import { docBlocks, type DocBlock } from '../extractors/docs.js';
import { DEFAULT_LIMITS } from '../validators/checks.js';
import { candidatePair } from './pair.js';

export const DOC_RULES: GeneratorInfo = { name: 'doc-rules', version: '1.0.0', promptVersion: null, model: null };

/** Answers quote at most about this much prose, cut at a sentence end. */
const MAX_PROSE_CHARS = 600;
/** A first sentence longer than this is not a quotable answer; the next paragraph is tried. */
const MAX_SENTENCE_CHARS = 1000;
const MAX_EXAMPLES_PER_SECTION = 2;
/** Code longer than this would crowd out the answer limit. */
const MAX_CODE_CHARS = 3500;
const MAX_LEAD_IN_CHARS = 300;

const BOILERPLATE_HEADING = /^(?:table of contents|contents|toc|licen[cs]e|copyright)$/i;
const BOILERPLATE_TEXT = /\bcopyright\b|licensed under|all rights reserved|apache license|\bwithout warranties\b/i;

// First words that make a heading an instruction: "Load an adapter" → "How do you load an adapter".
const VERBS = new Set(
  (
    'access add adapt apply avoid build call change check choose clone combine compile compute configure convert create ' +
    'customize debug define delete deploy disable download edit enable evaluate export extend fine-tune finetune fuse ' +
    'generate get implement import improve initialize inject inspect install integrate launch load log make manage ' +
    'merge migrate modify monitor offload open optimize pass prepare profile push quantize reduce register remove replace ' +
    'reproduce resume run save scale select serve set share specify speed split start stream swap switch test ' +
    'train tune unload update upload upscale use visualize write'
  ).split(' '),
);

// Verbs that are as often nouns ("Speed comparisons", "Use cases", "Test results"): read as an
// instruction only before an object marker ("Speed up", "Use the", "Use LoRA", "Export `x`").
const AMBIGUOUS_VERBS = new Set(
  'access build call change check download export import launch log monitor profile run scale set share speed split start stream swap switch test update upload use'.split(' '),
);
const OBJECT_START = /^(?:a|an|the|your|my|our|this|these|those|it|them|all|any|each|multiple|several|up|down|out|in|on|off|with|from|to|into|over|[A-Z`[])/;

/** Whether a heading is an instruction: "Load an adapter" (a task) vs "Speed comparisons" (a topic). */
function isInstruction(words: string[]): boolean {
  if (words.length < 2) return false;
  const first = words[0]!.toLowerCase();
  if (!VERBS.has(first)) return false;
  return !AMBIGUOUS_VERBS.has(first) || OBJECT_START.test(words[1]!);
}

const quote = (s: string) => `"${s}"`;
const code = (s: string) => `\`${s}\``;
const lcFirst = (s: string) => (/^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s);

interface Where {
  path: string;
  /** The section's heading; null for text before the first heading. */
  heading: string | null;
  level: number;
  /** The outermost enclosing heading (usually the page title) when the section is below it. */
  root: string | null;
  parent: string | null;
  /** "(2)" for the second section with the same heading path in the file. */
  ordinal: string | null;
}

/** Where the section sits: its heading from the text, the enclosing headings from the qualname. */
function locate(rec: SourceRecord, blocks: DocBlock[]): Where {
  const path = rec.provenance.path ?? rec.provenance.repo;
  const first = blocks[0];
  if (first?.kind !== 'heading') return { path, heading: null, level: 0, root: null, parent: null, ordinal: null };
  const heading = first.title;
  const qual = rec.provenance.qualname ?? heading;
  let prefix = '';
  let ordinal: string | null = null;
  const m = / \((\d+)\)$/.exec(qual);
  if (qual.endsWith(heading)) prefix = qual.slice(0, qual.length - heading.length);
  else if (m && qual.slice(0, m.index).endsWith(heading)) {
    prefix = qual.slice(0, m.index - heading.length);
    ordinal = `(${m[1]})`;
  }
  const parents = prefix.endsWith(' > ') ? prefix.slice(0, -3).split(' > ') : [];
  return { path, heading, level: first.level, root: parents[0] ?? null, parent: parents[parents.length - 1] ?? null, ordinal };
}

/**
 * The heading as a question names it: quoted, with its parent below the page title, so that
 * "Usage" or "Text-to-image" under two different parents make two different questions.
 */
function headingRef(w: Where): string {
  let ref = quote(w.heading!);
  if (w.ordinal) ref += ` ${w.ordinal}`;
  if (w.parent && w.parent !== w.root) ref += ` under ${quote(w.parent)}`;
  return ref;
}

function docRef(w: Where, withRoot: boolean): string {
  return withRoot && w.root ? `the ${quote(w.root)} documentation (${code(w.path)})` : code(w.path);
}

/** The first question that fits the length limit: the fuller wording first. */
function fitting(...questions: string[]): string | null {
  return questions.find((q) => q.length <= DEFAULT_LIMITS.maxQuestionChars) ?? null;
}

// ---------------------------------------------------------------------------------------------
// Prose.

// A sentence ends at . ! ? (not after a common abbreviation) before a capital, digit, or markup,
// or at a CJK full stop.
const SENTENCE_END =
  /(?<!\b(?:e\.g|i\.e|etc|vs|cf|al|approx|Fig|fig|Eq|eq|No|Dr|Mr|Ms|St))[.!?]['")\]*_]*\s+(?=[\p{Lu}\p{N}`"'(\[*_])|[。！？]/gu;

const HAS_SENTENCE_END = new RegExp(SENTENCE_END.source, 'u');

/** The prose lines of a paragraph: the lines before any list item; none for tables, quotes, autodoc. */
function proseOf(b: DocBlock): string[] | null {
  if (b.kind !== 'paragraph') return null;
  const lines = b.lines.map((l) => l.trim());
  const first = lines[0]!;
  if (/^(?:\||>|\[\[|<|\$\$|[-*_=]{3,}$)/.test(first)) return null;
  const listAt = lines.findIndex((l) => /^(?:[-*+]|\d{1,9}[.)])\s/.test(l));
  const prose = listAt < 0 ? lines : lines.slice(0, listAt);
  if (!prose.length) return null;
  const text = prose.join(' ');
  if (BOILERPLATE_TEXT.test(text)) return null;
  // Words once images, link targets and code spans are gone: an image or a lone link is not prose.
  const plain = text
    .replace(/!\[[^\]]*\]\([^)]*\)/g, ' ')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`[^`]*`/g, ' x ');
  // Three words, or for scripts written without spaces a dozen letters.
  const words = plain.match(/\p{L}[\p{L}\p{N}'’-]*/gu)?.length ?? 0;
  if (words < 3 && plain.replace(/\P{L}+/gu, '').length < 12) return null;
  // Prose has sentences: labels such as a <summary> or table-cell text have no sentence end.
  if (!/[.!?。！？:：]['")\]*_`]*$/.test(text) && !HAS_SENTENCE_END.test(text)) return null;
  return prose;
}

/** The paragraph's opening sentences, as many as fit in `max` characters (always the first). */
function leadingSentences(text: string, max: number): string {
  let cut = text.length;
  let firstEnd = -1;
  for (const m of text.matchAll(SENTENCE_END)) {
    const end = m.index + m[0].trimEnd().length;
    if (firstEnd < 0) firstEnd = end;
    if (end > max) break;
    cut = end;
  }
  if (text.length <= max) return text;
  if (cut === text.length) cut = firstEnd < 0 ? text.length : firstEnd;
  return text.slice(0, cut).trim();
}

/** The text before its last sentence ('' for a single sentence). */
function withoutLastSentence(text: string): string {
  let cut = 0;
  for (const m of text.matchAll(SENTENCE_END)) {
    const end = m.index + m[0].trimEnd().length;
    if (end < text.length) cut = end;
  }
  return text.slice(0, cut).trim();
}

/** The last sentence of a paragraph (the lead-in to a code block that follows it). */
function lastSentence(text: string): string {
  let start = 0;
  for (const m of text.matchAll(SENTENCE_END)) {
    const end = m.index + m[0].length;
    if (end < text.length) start = end;
  }
  return text.slice(start).trim();
}

// ---------------------------------------------------------------------------------------------
// Context.

/** The record's text, or for an oversized record the exact lines the pair quotes. */
function contextFor(rec: SourceRecord, from: number, to: number): string | undefined {
  if (rec.text.length <= DEFAULT_LIMITS.maxContextChars) return undefined;
  return rec.text.split('\n').slice(from, to + 1).join('\n');
}

function fenced(lang: string | null, body: string): string {
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang ?? ''}\n${body}\n${fence}`;
}

/** Candidate pairs for one doc section. */
export function docQuestions(rec: SourceRecord): QAPair[] {
  if (rec.kind !== 'doc_section') return [];
  const blocks = docBlocks(rec.text);
  const w = locate(rec, blocks);
  if (w.heading !== null && (BOILERPLATE_HEADING.test(w.heading) || !w.heading)) return [];
  const out: QAPair[] = [];

  // doc_section: the first prose paragraph, cut at a sentence end.
  for (const b of blocks) {
    const prose = proseOf(b);
    if (!prose) continue;
    const joined = prose.join('\n');
    let kept = leadingSentences(joined, MAX_PROSE_CHARS);
    // A sentence ending in a colon introduces what follows (a list, code): no answer on its own.
    if (/[:：]$/.test(kept)) kept = withoutLastSentence(kept);
    if (!kept || kept.length > MAX_SENTENCE_CHARS) continue;
    let question: string | null;
    if (w.heading === null) question = `What does the introduction of ${code(w.path)} say?`;
    else if (w.root !== null)
      question = fitting(`What does ${docRef(w, true)} say about ${headingRef(w)}?`, `What does ${code(w.path)} say about ${headingRef(w)}?`);
    else if (w.level === 1) question = fitting(`What is the ${quote(w.heading)} documentation page (${code(w.path)}) about?`);
    else question = fitting(`What does ${code(w.path)} say about ${headingRef(w)}?`);
    if (question)
      out.push(
        candidatePair(rec, DOC_RULES, {
          category: 'doc_section',
          question,
          answer: kept.replace(/\s*\n\s*/g, ' '),
          evidence: [kept],
          context: contextFor(rec, b.startLine, b.endLine),
        }),
      );
    break;
  }

  // doc_example: the first code blocks with two or more non-blank lines.
  let examples = 0;
  blocks.forEach((b, k) => {
    if (b.kind !== 'code' || examples >= MAX_EXAMPLES_PER_SECTION) return;
    if (b.code.split('\n').filter((l) => l.trim()).length < 2 || b.code.length > MAX_CODE_CHARS) return;
    if (b.lang && /^(?:bibtex|bib)$/i.test(b.lang)) return;
    examples++;
    const prev = blocks[k - 1];
    // A paragraph right above the code (a blank line at most between) introduces it.
    const prevProse = prev && b.startLine - prev.endLine <= 2 ? proseOf(prev) : null;
    const prevText = prevProse?.join('\n') ?? '';
    const lead = prevProse ? lastSentence(prevText) : null;
    // Quoted when it introduces the code: it ends in a colon, or is the paragraph's only sentence.
    const quotedLead = lead && lead.length <= MAX_LEAD_IN_CHARS && (/[:：]$/.test(lead) || lead === prevText.trim()) ? lead : null;
    const leadIn =
      quotedLead?.replace(/\s*\n\s*/g, ' ') ??
      (w.heading === null ? `From the introduction of ${code(w.path)}:` : `From ${quote(w.heading)} in ${code(w.path)}:`);
    const nth = examples > 1 ? ' (second example)' : '';
    let question: string | null;
    if (w.heading === null) question = `Show the code example${nth} from the introduction of ${code(w.path)}.`;
    else {
      const howTo = /^how to\s+/i.exec(w.heading);
      const task = howTo ? w.heading.slice(howTo[0].length) : w.heading;
      const words = task.split(/\s+/);
      const isTask = !task.endsWith('?') && (howTo !== null || isInstruction(words));
      question = isTask
        ? fitting(`How do you ${lcFirst(task)}, according to ${docRef(w, true)}${nth}?`, `How do you ${lcFirst(task)}, according to ${code(w.path)}${nth}?`)
        : fitting(`Show a code example${nth} for ${headingRef(w)} from ${docRef(w, true)}.`, `Show a code example${nth} for ${headingRef(w)} from ${code(w.path)}.`);
    }
    if (!question) return;
    out.push(
      candidatePair(rec, DOC_RULES, {
        category: 'doc_example',
        question,
        answer: `${leadIn}\n\n${fenced(b.lang, b.code)}`,
        evidence: quotedLead ? [quotedLead, b.code] : [b.code],
        context: contextFor(rec, prevProse ? prev!.startLine : b.startLine, b.endLine),
      }),
    );
  });
  return out;
}
