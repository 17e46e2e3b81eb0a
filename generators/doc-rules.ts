// Rule templates: doc_section SourceRecord → extractive candidate QAPairs quoting the section.
import type { GeneratorInfo, QAPair, RecordFacts, SkipRecord, SourceRecord } from '../datasets/schemas.js';
import { renderInline, type DocBlock } from '../extractors/docs.js';
import { DEFAULT_LIMITS } from '../validators/checks.js';
import { candidatePair, phrasing } from './pair.js';

export const DOC_RULES: GeneratorInfo = { name: 'doc-rules', version: '2.0.0', promptVersion: null, model: null };

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

// How to cite the project is not documentation of it: such sections and BibTeX blocks make no pairs.
const CITATION_HEADING = /^(?:citations?|citing\b.*|cite\b.*|how to cite\b.*|bibtex\b.*|(?:paper|bibtex|academic) citations?|citation (?:info(?:rmation)?|and references?))$/i;
const BIBTEX_LANG = /^(?:bibtex|bib|biblatex)$/i;
const BIBTEX_ENTRY = /^\s*@[a-z]+\s*\{/i;
const isCitationCode = (b: DocBlock): boolean => b.kind === 'code' && ((b.lang !== null && BIBTEX_LANG.test(b.lang)) || BIBTEX_ENTRY.test(b.code));

/** The code blocks a section's examples quote: the first few worth one. */
const examplesOf = (blocks: DocBlock[]): DocBlock[] => blocks.filter(isExampleCode).slice(0, MAX_EXAMPLES_PER_SECTION);

/** Code worth a doc_example of its own: two or more non-blank lines, short enough to quote, not a citation. */
const isExampleCode = (b: DocBlock): b is Extract<DocBlock, { kind: 'code' }> =>
  b.kind === 'code' && b.code.length <= MAX_CODE_CHARS && b.code.split('\n').filter((l) => l.trim()).length >= 2 && !isCitationCode(b);

// First words that make a heading an instruction: "Load an adapter" → "How do I load an adapter".
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

type SectionFacts = Extract<RecordFacts, { type: 'doc_section' }>;

/** Where the section sits: its heading from its first block, the enclosing headings from its facts. */
function locate(rec: SourceRecord, f: SectionFacts): Where {
  const path = rec.provenance.path ?? rec.provenance.repo;
  const first = f.blocks[0];
  if (first?.kind !== 'heading') return { path, heading: null, level: 0, root: null, parent: null, ordinal: null };
  const heading = first.title;
  const own = f.headingPath.at(-1) === heading;
  const parents = own ? f.headingPath.slice(0, -1) : [];
  // The second section with the same heading path in the file is "<path> (2)".
  const m = / \((\d+)\)$/.exec(rec.provenance.qualname ?? '');
  const ordinal = own && m && rec.provenance.qualname!.slice(0, m.index) === f.headingPath.join(' > ') ? `(${m[1]})` : null;
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

// How a question names the page of a section below the title: `t` the title, `p` the path.
const PAGE_REF: ((t: string, p: string) => string)[] = [
  (t, p) => `the ${t} documentation (${p})`,
  (t, p) => `the ${t} page (${p})`,
  (t, p) => `the ${t} doc page (${p})`,
  (t, p) => `${p} (${t})`,
];

/** The page of a section below the title, by title and path, in a wording picked by `key`. */
const pageRef = (w: Where, key: string): string => phrasing(`${key}\0page`, PAGE_REF)(quote(w.root!), code(w.path));

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
  if (/^(?:\||>|\[\[|<|\$\$|[-*_=]{3,}$)/.test(first) || BIBTEX_ENTRY.test(first)) return null;
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

// ---------------------------------------------------------------------------------------------
// Questions: several wordings per kind, picked by a stable hash of the record and the category, so
// the same section always gets the same question and the corpus does not fall into a few templates.
// `h` names the heading (quoted, with its parent), `p` the page, `t` a task ("load an adapter"), `lib`
// the library; wordings differ outside the quoted and backticked spans.

type Ask = (h: string, p: string) => string;
type AskTask = (t: string, lib: string, p: string) => string;

const SECTION: Ask[] = [
  (h, p) => `What does ${p} say about ${h}?`,
  (h, p) => `What is ${h} about, according to ${p}?`,
  (h, p) => `Can you summarize the ${h} section of ${p}?`,
  (h, p) => `How does ${p} explain ${h}?`,
  (h, p) => `What should I know about ${h} from ${p}?`,
  (h, p) => `When should I care about ${h}, according to ${p}?`,
  (h, p) => `I'm reading ${p}: what does the ${h} part tell me?`,
];

// A level-1 heading is the page's title: `h` is the title, `p` the path.
const PAGE: Ask[] = [
  (h, p) => `What is the ${h} documentation page (${p}) about?`,
  (h, p) => `What does the ${h} page (${p}) cover?`,
  (h, p) => `Can you give me an overview of ${h} from ${p}?`,
  (h, p) => `What is ${h}, as introduced in ${p}?`,
  (h, p) => `When should I read the ${h} page (${p})?`,
  (h, p) => `How does ${p} open its ${h} page?`,
];

// Text before the first heading: `p` is the path.
const INTRO: ((p: string) => string)[] = [
  (p) => `What does the introduction of ${p} say?`,
  (p) => `How does ${p} begin?`,
  (p) => `What is the opening paragraph of ${p} about?`,
  (p) => `Can you summarize the introduction of ${p}?`,
  (p) => `What does ${p} explain before its first heading?`,
  (p) => `What should I know from the start of ${p}?`,
];

const SECTION_TASK: AskTask[] = [
  (t, lib, p) => `How do I ${t} with ${lib}, according to ${p}?`,
  (t, _lib, p) => `What does ${p} say about how to ${t}?`,
  (t, _lib, p) => `I want to ${t}: what does ${p} tell me?`,
  (t, _lib, p) => `When should I ${t}, and how, according to ${p}?`,
  (t, lib, p) => `Can you explain how to ${t} using ${lib}, as ${p} does?`,
  (t, lib, p) => `What do I need to know to ${t} in ${lib} (see ${p})?`,
];

const EXAMPLE: Ask[] = [
  (h, p) => `Show a code example for ${h} from ${p}.`,
  (h, p) => `What does the code for ${h} in ${p} look like?`,
  (h, p) => `Can you give me the ${h} example from ${p}?`,
  (h, p) => `Which snippet does ${p} give for ${h}?`,
  (h, p) => `What code does ${p} show under ${h}?`,
  (h, p) => `Is there example code for ${h} in ${p}?`,
  (h, p) => `When I work on ${h}, what code does ${p} suggest?`,
];

const INTRO_EXAMPLE: ((p: string) => string)[] = [
  (p) => `Show the code example from the introduction of ${p}.`,
  (p) => `What code does the introduction of ${p} show?`,
  (p) => `Which snippet opens ${p}?`,
  (p) => `What does the example at the top of ${p} look like?`,
  (p) => `Can you give me the code from the start of ${p}?`,
  (p) => `Is there example code before the first heading of ${p}?`,
];

const EXAMPLE_TASK: AskTask[] = [
  (t, lib, p) => `How do I ${t} with ${lib}? Show the code from ${p}.`,
  (t, _lib, p) => `What code does ${p} give to ${t}?`,
  (t, lib, p) => `Show me how to ${t} with ${lib}, using the example from ${p}.`,
  (t, _lib, p) => `Can you give an example of how to ${t}, from ${p}?`,
  (t, _lib, p) => `What does the code to ${t} look like in ${p}?`,
  (t, _lib, p) => `Which snippet in ${p} shows how to ${t}?`,
  (t, _lib, p) => `When I need to ${t}, what code does ${p} suggest?`,
];

/** The library a repository is: its name, from owner/name or the last part of a URL or path. */
function libraryOf(repo: string): string {
  return (repo.replace(/\.git$|\/+$/g, '').split(/[/\\:]/).pop() || repo).trim();
}

/**
 * The task a heading names as a verb phrase ("Load an adapter", "How to convert a checkpoint"), or
 * null. Only for a heading that alone tells its section apart in the file: a task question names no
 * parent or ordinal.
 */
function taskOf(w: Where): string | null {
  if (w.heading === null || w.ordinal || (w.parent && w.parent !== w.root) || w.heading.endsWith('?')) return null;
  const howTo = /^how to\s+/i.exec(w.heading);
  const task = howTo ? w.heading.slice(howTo[0].length) : w.heading;
  if (howTo === null && !isInstruction(task.split(/\s+/))) return null;
  // The reader asks for themself: "Set up your environment" → "How do I set up my environment".
  return lcFirst(task).replace(/\byour(self)?\b/gi, (_m, self: string | undefined) => (self ? 'myself' : 'my'));
}

/** " (second example)" before the question's closing mark. */
const nthExample = (q: string, nth: number): string => (nth > 1 ? q.replace(/([?.])$/, ' (second example)$1') : q);

/** The question for a section's prose (`doc_section`) or its `nth` code example (`doc_example`). */
function questionFor(rec: SourceRecord, w: Where, category: 'doc_section' | 'doc_example', nth: number): string | null {
  const key = `${rec.id}\0${category}\0${nth}`;
  const path = code(w.path);
  if (w.heading === null) return fitting(nthExample(phrasing(key, category === 'doc_section' ? INTRO : INTRO_EXAMPLE)(path), nth));
  const task = taskOf(w);
  const pages = w.root !== null ? [pageRef(w, key), path] : [path];
  if (task !== null) {
    const ask = phrasing(key, category === 'doc_section' ? SECTION_TASK : EXAMPLE_TASK);
    const lib = libraryOf(rec.provenance.repo);
    return fitting(...pages.map((p) => nthExample(ask(task, lib, p), nth)));
  }
  if (category === 'doc_section' && w.root === null && w.level === 1) return fitting(phrasing(key, PAGE)(quote(w.heading), path));
  const ask = phrasing(key, category === 'doc_section' ? SECTION : EXAMPLE);
  return fitting(...pages.map((p) => nthExample(ask(headingRef(w), p), nth)));
}

// ---------------------------------------------------------------------------------------------
// Answers.

/** Rendered text (no link targets, emphasis or doc-builder brackets) and its verbatim pieces as evidence. */
function rendered(markdown: string, oneLine: boolean): { text: string; evidence: string[] } {
  const r = renderInline(markdown);
  const text = oneLine ? r.text.replace(/\s*\n\s*/g, ' ') : r.text.replace(/[ \t]+$/gm, '');
  return { text: text.trim(), evidence: r.verbatim };
}

const isListLine = (l: string) => /^\s*(?:[-*+]|\d{1,9}[.)])\s/.test(l);

/** What an intro ending in a colon introduces: the list or code right below it, rendered, or null. */
interface Introduced {
  text: string;
  evidence: string[];
  /** The code block answered, so it is not asked about again as an example. */
  code: DocBlock | null;
  endLine: number;
}

function introducedBlock(blocks: DocBlock[], k: number, listLines: string[]): Introduced | null {
  const b = blocks[k]!;
  if (listLines.length) {
    const list = rendered(listLines.join('\n'), false);
    return list.text.length <= MAX_CODE_CHARS ? { ...list, code: null, endLine: b.endLine } : null;
  }
  const next = blocks[k + 1];
  if (!next || next.startLine - b.endLine > 2) return null;
  if (next.kind === 'code') {
    if (!next.code.trim() || next.code.length > MAX_CODE_CHARS || isCitationCode(next)) return null;
    return { text: fenced(next.lang, next.code), evidence: [next.code], code: next, endLine: next.endLine };
  }
  if (next.kind !== 'paragraph' || !isListLine(next.lines[0]!)) return null;
  // A loose list: its items are paragraphs of their own, one after another.
  const items: string[] = [];
  let end = next.endLine;
  for (let j = k + 1; j < blocks.length; j++) {
    const p = blocks[j]!;
    if (p.kind !== 'paragraph' || p.startLine - end > 2 || !(isListLine(p.lines[0]!) || /^\s{2,}\S/.test(p.lines[0]!))) break;
    if (j > k + 1) items.push('');
    items.push(...p.lines);
    end = p.endLine;
  }
  const list = rendered(items.join('\n'), false);
  return list.text.length <= MAX_CODE_CHARS ? { ...list, code: null, endLine: end } : null;
}

// ---------------------------------------------------------------------------------------------
// Citations.

/** Why a section holds a citation (a "Citation" / "BibTeX" heading, BibTeX blocks), or null. */
function citationOf(w: Where, blocks: DocBlock[]): string | null {
  const bib = blocks.filter(isCitationCode).length;
  const entries = bib ? `, ${bib} BibTeX block${bib > 1 ? 's' : ''}` : '';
  if (w.heading !== null && CITATION_HEADING.test(w.heading)) return `a citation section${entries}`;
  return bib ? `${bib} BibTeX block${bib > 1 ? 's' : ''}` : null;
}

/**
 * The skip a section's citation leaves: a "Citation" section makes no pairs at all, a BibTeX block
 * elsewhere no example. Recorded under the section's lines, so that each is kept (skips are keyed by
 * path and reason).
 */
export function docCitationSkip(rec: SourceRecord): SkipRecord | null {
  if (rec.facts?.type !== 'doc_section') return null;
  const why = citationOf(locate(rec, rec.facts), rec.facts.blocks);
  if (why === null) return null;
  const v = rec.provenance;
  const path = v.path ?? v.repo;
  return { path: v.startLine ? `${path}#L${v.startLine}-L${v.endLine}` : path, reason: 'citation', detail: `${quote(v.qualname ?? path)}: ${why}` };
}

// ---------------------------------------------------------------------------------------------

/** Candidate pairs for one doc section. */
export function docQuestions(rec: SourceRecord): QAPair[] {
  // The extractor's facts, not the text parsed again: a record without them makes no rule pairs.
  if (rec.kind !== 'doc_section' || rec.facts?.type !== 'doc_section') return [];
  const { blocks } = rec.facts;
  const w = locate(rec, rec.facts);
  if (w.heading !== null && (BOILERPLATE_HEADING.test(w.heading) || CITATION_HEADING.test(w.heading) || !w.heading)) return [];
  const out: QAPair[] = [];
  // Code a prose answer already quotes is not asked about again as an example.
  const answered = new Set<DocBlock>();

  // doc_section: the first prose paragraph, cut at a sentence end; an intro ending in a colon with
  // the list or code it introduces.
  for (let k = 0; k < blocks.length; k++) {
    const b = blocks[k]!;
    const prose = proseOf(b);
    if (!prose) continue;
    const joined = prose.join('\n');
    let kept = leadingSentences(joined, MAX_PROSE_CHARS);
    let introduced: Introduced | null = null;
    if (/[:：]$/.test(kept)) {
      const lines = b.kind === 'paragraph' ? b.lines.slice(prose.length) : [];
      introduced = kept === joined ? introducedBlock(blocks, k, lines) : null;
      // With nothing quotable after it, the colon's sentence says nothing on its own.
      if (!introduced) kept = withoutLastSentence(kept);
      // A paragraph that only introduces an example is quoted by that example: the prose answer is
      // looked for further on.
      else if (introduced.code && kept === lastSentence(joined) && examplesOf(blocks).includes(introduced.code)) continue;
    }
    if (!kept || kept.length > MAX_SENTENCE_CHARS) continue;
    const question = questionFor(rec, w, 'doc_section', 1);
    if (question) {
      const text = rendered(kept, true);
      if (introduced?.code) answered.add(introduced.code);
      out.push(
        candidatePair(rec, DOC_RULES, {
          category: 'doc_section',
          question,
          answer: introduced ? `${text.text}\n\n${introduced.text}` : text.text,
          evidence: introduced ? [...text.evidence, ...introduced.evidence] : text.evidence,
          context: contextFor(rec, b.startLine, introduced?.endLine ?? b.endLine),
        }),
      );
    }
    break;
  }

  // doc_example: the first code blocks with two or more non-blank lines.
  let examples = 0;
  blocks.forEach((b, k) => {
    if (!isExampleCode(b) || examples >= MAX_EXAMPLES_PER_SECTION || answered.has(b)) return;
    examples++;
    const prev = blocks[k - 1];
    // A paragraph right above the code (a blank line at most between) introduces it.
    const prevProse = prev && b.startLine - prev.endLine <= 2 ? proseOf(prev) : null;
    const prevText = prevProse?.join('\n') ?? '';
    const lead = prevProse ? lastSentence(prevText) : null;
    // Quoted when it introduces the code: it ends in a colon, or is the paragraph's only sentence.
    const quotedLead = lead && lead.length <= MAX_LEAD_IN_CHARS && (/[:：]$/.test(lead) || lead === prevText.trim()) ? rendered(lead, true) : null;
    const leadIn = quotedLead?.text ?? (w.heading === null ? `From the introduction of ${code(w.path)}:` : `From ${quote(w.heading)} in ${code(w.path)}:`);
    const question = questionFor(rec, w, 'doc_example', examples);
    if (!question) return;
    out.push(
      candidatePair(rec, DOC_RULES, {
        category: 'doc_example',
        question,
        answer: `${leadIn}\n\n${fenced(b.lang, b.code)}`,
        evidence: quotedLead ? [...quotedLead.evidence, b.code] : [b.code],
        context: contextFor(rec, prevProse ? prev!.startLine : b.startLine, b.endLine),
      }),
    );
  });
  return out;
}
