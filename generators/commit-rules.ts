// Rule templates: commit SourceRecord → extractive candidate QAPairs whose answers quote the record.
import type { GeneratorInfo, QAPair, SourceRecord } from '../datasets/schemas.js';
import {
  cleanBody,
  isCommentOrLicenceLine,
  isSubstantialHunk,
  shortSha,
  symbolChangesInPatch,
  type Hunk,
  type ParsedCommitRecord,
  type ParsedFileRecord,
  type SymbolChange,
} from '../extractors/commits.js';
import { normalizeForMatch } from '../validators/checks.js';
import { candidatePair, phrasing } from './pair.js';

export const COMMIT_RULES: GeneratorInfo = { name: 'commit-rules', version: '2.0.0', promptVersion: null, model: null };

const MAX_SUBJECT_IN_QUESTION = 120;
const MAX_WHY_CHARS = 1500;
const MAX_LISTED_FILES = 30;
const MAX_QUOTED_LINE = 160;
// A commit touching many files is mostly one change applied everywhere (a rename, an API migration):
// past its few largest files the per-file pairs repeat one another and crowd out other commits, while
// the whole-commit pairs and symbol_history still cover every file.
export const MAX_CHANGE_FILES = 4;
// A symbol_history excerpt: the definition and its body, not the whole file a new-file hunk holds.
const MAX_SYMBOL_LINES = 60;
const MAX_SYMBOL_CHARS = 4000;

/** Inline code that survives backticks inside the quoted text. */
const code = (s: string) => (s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``);

/** A subject as questions quote it: whole, or cut at a word. */
function subjectLabel(subject: string): { text: string; whole: boolean } {
  if (subject.length <= MAX_SUBJECT_IN_QUESTION) return { text: subject, whole: true };
  const cut = subject.lastIndexOf(' ', MAX_SUBJECT_IN_QUESTION - 1);
  return { text: `${subject.slice(0, cut > 40 ? cut : MAX_SUBJECT_IN_QUESTION - 1)}…`, whole: false };
}

/** The commit as a question names it: short sha and subject, in one of a few word orders. */
function commitLabel(key: string, sha: string, subject: string): string {
  const [h, q] = [shortSha(sha), `"${subjectLabel(subject).text}"`];
  return phrasing(`${key}:label`, [`commit ${h} (${q})`, `${h} (${q})`, `the commit ${q} (${h})`, `${q} (commit ${h})`]);
}

// Several wordings per category, picked by a stable key (phrasing), so that questions are asked the
// ways engineers ask them and the corpus does not fall into a few templates.
const WHY_QUESTIONS: ((c: string) => string)[] = [
  (c) => `Why was ${c} made?`,
  (c) => `What was the motivation for ${c}?`,
  (c) => `What was the rationale behind ${c}?`,
  (c) => `Why did the authors make ${c}?`,
  (c) => `What reason does the message of ${c} give for the change?`,
  (c) => `I'm reading ${c}: why was this change needed?`,
  (c) => `What problem or need led to ${c}?`,
  (c) => `Why would someone have written ${c}?`,
];
const FILES_QUESTIONS: ((c: string) => string)[] = [
  (c) => `Which files did ${c} change?`,
  (c) => `What files were touched by ${c}?`,
  (c) => `Which paths does ${c} modify?`,
  (c) => `List the files changed in ${c}.`,
  (c) => `Where in the repository did ${c} make its changes?`,
  (c) => `Which files would I need to look at to review ${c}?`,
  (c) => `What files did ${c} add, modify, rename or delete?`,
];
const CHANGE_QUESTIONS: ((c: string, p: string) => string)[] = [
  (c, p) => `What changed in ${p} in ${c}?`,
  (c, p) => `What did ${c} do to ${p}?`,
  (c, p) => `How was ${p} modified by ${c}?`,
  (c, p) => `Which lines of ${p} did ${c} add or remove?`,
  (c, p) => `In ${c}, what was edited in ${p}?`,
  (c, p) => `Show the change that ${c} made to ${p}.`,
  (c, p) => `How did ${p} change with ${c}?`,
  (c, p) => `What does the diff of ${p} in ${c} look like?`,
  (c, p) => `I'm reviewing ${c}: what did it change in ${p}?`,
];
// symbol_history asks for the commit, so the question names the definition and its file only.
const INTRODUCED_QUESTIONS: ((k: string, s: string, p: string) => string)[] = [
  (k, s, p) => `Which commit introduced the ${k} ${s} in ${p}?`,
  (k, s, p) => `When was the ${k} ${s} added to ${p}, and in which commit?`,
  (k, s, p) => `In which commit did ${p} gain the ${k} ${s}?`,
  (k, s, p) => `What commit first defined the ${k} ${s} in ${p}?`,
  (k, s, p) => `Where does the ${k} ${s} in ${p} come from: which commit added it?`,
  (k, s, p) => `Which change added the ${k} ${s} to ${p}?`,
  (k, s, p) => `Find the commit that created the ${k} ${s} in ${p}.`,
  (k, s, p) => `Which commit is the origin of the ${k} ${s} in ${p}?`,
];
const REMOVED_QUESTIONS: ((k: string, s: string, p: string) => string)[] = [
  (k, s, p) => `Which commit removed the ${k} ${s} from ${p}?`,
  (k, s, p) => `When was the ${k} ${s} deleted from ${p}, and by which commit?`,
  (k, s, p) => `In which commit did ${p} lose the ${k} ${s}?`,
  (k, s, p) => `What commit dropped the ${k} ${s} from ${p}?`,
  (k, s, p) => `The ${k} ${s} is no longer in ${p}: which commit took it out?`,
  (k, s, p) => `Find the commit that deleted the ${k} ${s} from ${p}.`,
];

// A squash merge lists its branch's commits as "* subject" paragraphs: a log, not a reason.
const SQUASH_ENTRY = /^\* /;
const PLACEHOLDER = /^(?:#+\s.*|Fixes #\s*\(issue\)|\s*- \[[ x]\] .*)$/i;
// Paragraphs that only head a section ("Description").
const HEADING_ONLY = /^[A-Z][\w ]{0,30}:?$/i;
// What a pointer paragraph is made of ("Continuation of, and supersedes, #2389", "See #123", "Fixes #12").
const REFERENCE = /(?:[\w.-]+\/[\w.-]+)?#\d+\b|\bgh-\d+\b|https?:\/\/\S+|@[\w-]+/i;
const POINTER_WORD =
  /^(?:continuation|continues|continued|supersedes?|superseded|replaces?|replaced|see|also|fix(?:es|ed)?|resolves?|resolved|close[sd]?|refs?|references?|related|relates|follow(?:s|-?up|ing)?|up|part|of|and|to|the|this|that|a|an|pr|prs|issue|issues|pull|request|requests|cc|by|in|for|from|on|with|is|see|discussion|comment|here|there|original|previous)$/i;
const WORD = /[A-Za-z]{2,}/;
const STOP = new Set(['the', 'a', 'an', 'and', 'or', 'of', 'to', 'in', 'on', 'for', 'with', 'this', 'that', 'it', 'is', 'be', 'by', 'pr']);

/** "See #123", "Continuation of, and supersedes, #2389": nothing but references and the words around them. */
function onlyPointsElsewhere(para: string): boolean {
  if (!REFERENCE.test(para)) return false;
  const left = para
    .replace(new RegExp(REFERENCE.source, 'gi'), ' ')
    .split(/[^A-Za-z'-]+/)
    .filter((w) => WORD.test(w) && !POINTER_WORD.test(w));
  return left.length < 3;
}

/** A paragraph that says what the subject says, in about the same words. */
function repeatsSubject(para: string, subject: string): boolean {
  const n = normalizeForMatch(para);
  if (subject.includes(n) || n.includes(subject)) return true;
  const words = (t: string) => t.toLowerCase().match(/[a-z0-9_]{2,}/g) ?? [];
  const inSubject = new Set(words(subject));
  return words(para).filter((w) => !STOP.has(w) && !inSubject.has(w)).length <= 1;
}

/**
 * The body's prose: paragraphs before any squash log, without trailers, template headings, pointers
 * to other PRs or a copy of the subject. Null unless it says something (≥ 40 chars, ≥ 6 words).
 * Paragraphs are returned as the record has them (wrapped); answers unwrap them.
 */
export function whyParagraphs(rec: ParsedCommitRecord): string[] | null {
  const subject = normalizeForMatch(rec.subject.replace(/\s*\(#\d+\)\s*$/, ''));
  const out: string[] = [];
  let size = 0;
  for (const raw of cleanBody(rec.body).split(/\n[ \t]*\n/)) {
    if (SQUASH_ENTRY.test(raw)) break;
    const para = raw
      .split('\n')
      .filter((l) => !PLACEHOLDER.test(l.trim()))
      .join('\n')
      .trim();
    if (!para || para === '[message truncated]' || HEADING_ONLY.test(para) || onlyPointsElsewhere(para)) continue;
    if (repeatsSubject(para, subject)) continue;
    if (size + para.length > MAX_WHY_CHARS) {
      if (out.length) break;
      // One long paragraph: up to its last sentence that fits.
      const head = para.slice(0, MAX_WHY_CHARS);
      const end = Math.max(head.lastIndexOf('. '), head.lastIndexOf('.\n'));
      if (end < 40) break;
      out.push(head.slice(0, end + 1));
      break;
    }
    out.push(para);
    size += para.length + 2;
  }
  const text = out.join(' ');
  if (text.replace(/\s+/g, ' ').length < 40 || text.split(/\s+/).filter((w) => /[A-Za-z]{2,}/.test(w)).length < 6) return null;
  return out;
}

const LIST_ITEM = /^\s*(?:[-*+•]|\d+[.)])\s+/;
const FENCE = /^\s*(?:```|~~~)/;

/**
 * A paragraph with its hard line wraps undone: a wrapped line joins the one before it with a space.
 * List items, code (fenced or indented), tables and headings keep their own lines, and so does a line
 * after one that ends a sentence: that break was meant. Whitespace is all that changes, so the
 * result still grounds against the wrapped text.
 */
export function unwrapParagraph(para: string): string {
  const out: string[] = [];
  let last: 'prose' | 'list' | 'code' | 'other' = 'other';
  let fenced = false;
  for (const line of para.split('\n')) {
    const t = line.trim();
    if (FENCE.test(line) || fenced) {
      if (FENCE.test(line)) fenced = !fenced;
      out.push(line.trimEnd());
      last = 'code';
    } else if (LIST_ITEM.test(line)) {
      out.push(line.trimEnd());
      last = 'list';
    } else if (/^\s*(?:\||#{1,6}\s|>)/.test(line) || !t) {
      out.push(line.trimEnd());
      last = 'other';
    } else if (/^(?: {4}|\t)/.test(line) && last !== 'list') {
      out.push(line.trimEnd());
      last = 'code';
    } else if ((last === 'prose' || last === 'list') && !/[.!?:]["')\]]?$/.test(out[out.length - 1]!)) {
      out[out.length - 1] += ` ${t}`;
    } else {
      out.push(t);
      last = last === 'list' && /^\s/.test(line) ? 'list' : 'prose';
    }
  }
  return out.join('\n');
}

/** Evidence for quoted paragraphs: each (unwrapped) paragraph, or its lines where cleaning joined lines. */
function quoteEvidence(paragraphs: string[], context: string): string[] {
  const ctx = normalizeForMatch(context);
  return paragraphs.flatMap((p) =>
    ctx.includes(normalizeForMatch(p))
      ? [unwrapParagraph(p)]
      : p
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean),
  );
}

function wholeCommitPairs(rec: SourceRecord, c: ParsedCommitRecord): QAPair[] {
  const out: QAPair[] = [];
  const why = whyParagraphs(c);
  if (why) {
    const key = `${rec.id}:commit_why`;
    out.push(
      candidatePair(rec, COMMIT_RULES, {
        category: 'commit_why',
        question: phrasing(key, WHY_QUESTIONS)(commitLabel(key, c.sha, c.subject)),
        answer: why.map(unwrapParagraph).join('\n\n'),
        evidence: quoteEvidence(why, rec.text),
      }),
    );
  }
  // A one-file commit's file list is the file its change pair already names.
  if (c.fileCount >= 2 && c.files.length) {
    const key = `${rec.id}:commit_files`;
    const listed = c.files.slice(0, MAX_LISTED_FILES);
    const verb: Record<string, string> = { A: 'added', M: 'modified', D: 'deleted', R: 'renamed', C: 'copied', T: 'type changed' };
    const lines = listed.map((f) => `- ${code(f.path)} (${verb[f.status]}${f.oldPath ? ` from ${code(f.oldPath)}` : ''})`);
    if (c.fileCount > listed.length) lines.push(`- … and ${c.fileCount - listed.length} more`);
    const evidence = [...new Set(listed.flatMap((f) => (f.oldPath ? [f.path, f.oldPath] : [f.path])))];
    out.push(
      candidatePair(rec, COMMIT_RULES, {
        category: 'commit_files',
        question: phrasing(key, FILES_QUESTIONS)(commitLabel(key, c.sha, c.subject)),
        answer: `${c.fileCount} files:\n${lines.join('\n')}`,
        evidence,
      }),
    );
  }
  return out;
}

// Lines that carry meaning: definitions first, then longer lines; imports and decorators last (a new
// file's first lines are its imports, which say nothing about what it does); never bare syntax.
function lineScore(body: string): number {
  if (body.length < 8 || body.length > MAX_QUOTED_LINE || body.includes('[REDACTED:')) return -1;
  if (!/[A-Za-z]{3}/.test(body)) return -1;
  if (/^(?:async\s+def|def|class|function|export)\b/.test(body)) return 1000 + Math.min(body.length, 100);
  if (/^(?:import|from\s+\S+\s+import|@)/.test(body)) return 1;
  return 10 + Math.min(body.length, 100);
}

// A short line ("x = 1") is quoted only when nothing better changed.
const fallbackScore = (body: string) => (body.length >= 3 && body.length <= MAX_QUOTED_LINE && /[A-Za-z]/.test(body) && !body.includes('[REDACTED:') ? 1 : -1);

/** The changed lines worth quoting: no comment, blank or licence lines. */
function tellingLines(path: string, hunks: Hunk[], marker: '+' | '-', count: number, score = lineScore): string[] {
  const scored: { body: string; score: number; at: number }[] = [];
  const seen = new Set<string>();
  let at = 0;
  for (const h of hunks) {
    for (const l of h.lines) {
      at++;
      if (l[0] !== marker || isCommentOrLicenceLine(path, l.slice(1))) continue;
      const body = l.slice(1).trim();
      const value = score(body);
      if (value < 0 || seen.has(body)) continue;
      seen.add(body);
      scored.push({ body, score: value, at });
    }
  }
  return scored
    .sort((a, b) => b.score - a.score || a.at - b.at)
    .slice(0, count)
    .sort((a, b) => a.at - b.at)
    .map((s) => s.body);
}

/** The hunks of a file that change code; comment- and licence-only hunks say nothing about it. */
const substantialHunks = (path: string, f: ParsedFileRecord) => f.hunks.filter((h) => isSubstantialHunk(path, h));

const changedCodeLines = (path: string, hunks: Hunk[]) =>
  hunks.reduce((n, h) => n + h.lines.filter((l) => (l[0] === '+' || l[0] === '-') && !isCommentOrLicenceLine(path, l.slice(1))).length, 0);

/**
 * The files of one commit's records that get a commit_change pair: those with a code change, the
 * MAX_CHANGE_FILES with the most changed code lines (ties in record order).
 */
export function changePairFiles(records: SourceRecord[]): Set<string> {
  const sized: { path: string; lines: number; at: number }[] = [];
  for (const r of records) {
    const path = r.provenance.path;
    const f = r.facts?.type === 'commit_file' ? r.facts : null;
    if (!f || path === null) continue;
    const lines = changedCodeLines(path, substantialHunks(path, f));
    if (lines) sized.push({ path, lines, at: sized.length });
  }
  return new Set(
    sized
      .sort((a, b) => b.lines - a.lines || a.at - b.at)
      .slice(0, MAX_CHANGE_FILES)
      .map((s) => s.path),
  );
}

function changePair(rec: SourceRecord, f: ParsedFileRecord, path: string): QAPair | null {
  const hunks = substantialHunks(path, f);
  let added = tellingLines(path, hunks, '+', 3);
  let removed = tellingLines(path, hunks, '-', 2);
  if (!added.length && !removed.length) {
    added = tellingLines(path, hunks, '+', 3, fallbackScore);
    removed = tellingLines(path, hunks, '-', 2, fallbackScore);
  }
  // The answer quotes the change itself, or there is no pair.
  if (!added.length && !removed.length) return null;
  const key = `${rec.id}:commit_change`;
  const counts = `+${f.additions} -${f.deletions}`;
  const evidence = [counts];
  const what = f.oldPath ? `${code(f.oldPath)} to ${code(path)}` : code(path);
  const parts = [`Commit ${shortSha(f.sha)} ${f.verb} ${what} (${counts} lines).`];
  if (f.oldPath) evidence.push(f.oldPath);
  const sections = [...new Set(hunks.map((h) => h.section).filter((s) => s.length >= 4 && s.length <= MAX_QUOTED_LINE && !s.includes('[REDACTED:')))].slice(0, 4);
  if (sections.length) {
    parts.push(`The hunks begin under ${sections.map(code).join(', ')}.`);
    evidence.push(...sections);
  }
  if (added.length) parts.push(`Added lines include:\n${added.map((l) => `- ${code(l)}`).join('\n')}`);
  if (removed.length) parts.push(`Removed lines include:\n${removed.map((l) => `- ${code(l)}`).join('\n')}`);
  evidence.push(...added, ...removed);
  return candidatePair(rec, COMMIT_RULES, {
    category: 'commit_change',
    question: phrasing(key, CHANGE_QUESTIONS)(commitLabel(key, f.sha, f.subject), code(path)),
    answer: parts.join('\n'),
    evidence,
  });
}

/**
 * The part of a hunk that holds a definition: decorators and comments right above it, the `def` or
 * `class` line and its body, under a header recounted for those lines (a slice of a hunk is a hunk).
 */
export function definitionExcerpt(h: Hunk, line: string): string | null {
  const at = h.lines.indexOf(line);
  if (at < 0) return null;
  const marker = line[0];
  let start = at;
  while (start > 0 && at - start < 5 && h.lines[start - 1]![0] === marker && /^\s*(?:@|#)/.test(h.lines[start - 1]!.slice(1))) start--;
  let end = at + 1;
  // The body: blank or indented lines, and the close of a signature that spans lines.
  while (end < h.lines.length && end - start < MAX_SYMBOL_LINES) {
    const l = h.lines[end]!;
    if (l[0] === '\\' || (l[0] !== marker && l[0] !== ' ')) break;
    const body = l.slice(1);
    if (body.trim() && !/^\s/.test(body) && !/^\)/.test(body)) break;
    end++;
  }
  while (end > at + 1 && !h.lines[end - 1]!.slice(1).trim()) end--;
  const m = /^@@ -(\d+)(?:,\d+)? \+(\d+)/.exec(h.header);
  let [oldLine, newLine] = [Number(m?.[1] ?? 1), Number(m?.[2] ?? 1)];
  // An empty side's start is the line before it, as git writes it.
  if (/^@@ -\d+,0 /.test(h.header)) oldLine++;
  if (/^@@ -\S+ \+\d+,0 /.test(h.header)) newLine++;
  for (const l of h.lines.slice(0, start)) {
    if (l[0] !== '+') oldLine++;
    if (l[0] !== '-') newLine++;
  }
  const lines: string[] = [];
  let size = 0;
  for (const l of h.lines.slice(start, end)) {
    if (lines.length > at - start && size + l.length + 1 > MAX_SYMBOL_CHARS) break;
    lines.push(l);
    size += l.length + 1;
  }
  const oldCount = lines.filter((l) => l[0] === ' ' || l[0] === '-').length;
  const newCount = lines.filter((l) => l[0] === ' ' || l[0] === '+').length;
  const range = (n: number, count: number) => (count ? `${n},${count}` : `${n - 1},0`);
  return [`@@ -${range(oldLine, oldCount)} +${range(newLine, newCount)} @@${h.section ? ` ${h.section}` : ''}`, ...lines].join('\n');
}

/** A per-file record's header lines (commit, date, subject), which its pairs' evidence quotes. */
const fileRecordHead = (text: string) => text.slice(0, text.indexOf('\n\n'));

function symbolPair(rec: SourceRecord, f: ParsedFileRecord, s: SymbolChange): QAPair {
  const key = `${rec.id}:symbol_history:${s.change}:${s.name}`;
  const def = s.line.slice(1).trim();
  const subject = subjectLabel(f.subject);
  const date = f.date.slice(0, 10);
  const did = s.change === 'added' ? 'introduced' : 'removed';
  const question = phrasing(key, s.change === 'added' ? INTRODUCED_QUESTIONS : REMOVED_QUESTIONS)(s.kind, code(s.name), code(s.path));
  const evidence = [shortSha(f.sha), date, def];
  if (subject.whole) evidence.push(f.subject);
  const hunk = f.hunks.find((h) => h.lines.includes(s.line));
  const excerpt = hunk ? definitionExcerpt(hunk, s.line) : null;
  return candidatePair(rec, COMMIT_RULES, {
    category: 'symbol_history',
    question,
    answer: `Commit ${shortSha(f.sha)} ("${subject.text}", ${date}) ${did} the ${s.kind} ${code(s.name)}${s.change === 'added' ? ' in' : ' from'} ${code(s.path)}: ${code(def)}`,
    evidence,
    context: excerpt ? `${fileRecordHead(rec.text)}\n\n${excerpt}` : undefined,
  });
}

/**
 * Candidate pairs for one commit record: why and which files for the whole commit; what changed,
 * and which top-level definitions came or went, for a per-file record. `changes` (from
 * symbolChanges) may be given; by default they are read from the record's own hunks. `changeFiles`
 * (changePairFiles over the commit's records) caps the commit's change pairs; without it every file
 * with a code change gets one.
 */
export function commitQuestions(rec: SourceRecord, changes?: SymbolChange[], changeFiles?: ReadonlySet<string>): QAPair[] {
  if (rec.kind !== 'commit') return [];
  const path = rec.provenance.path;
  // The extractor's facts, not the text parsed back: a record without them (one read back from the
  // stores) makes no rule pairs.
  if (path === null) return rec.facts?.type === 'commit' ? wholeCommitPairs(rec, rec.facts) : [];
  const f = rec.facts?.type === 'commit_file' ? rec.facts : null;
  if (!f || !f.hunks.length) return [];
  const out: QAPair[] = [];
  const change = !changeFiles || changeFiles.has(path) ? changePair(rec, f, path) : null;
  if (change) out.push(change);
  const lines = new Set(f.hunks.flatMap((h) => h.lines));
  const symbols = changes
    ? changes.filter((s) => s.path === path && lines.has(s.line))
    : symbolChangesInPatch(path, f.hunks.flatMap((h) => h.lines).join('\n'));
  for (const s of symbols) if (!s.line.includes('[REDACTED:')) out.push(symbolPair(rec, f, s));
  return out;
}

/** Every candidate pair of one commit's records, its change pairs capped by changePairFiles. */
export function commitPairs(records: SourceRecord[], changes?: SymbolChange[]): QAPair[] {
  const files = changePairFiles(records);
  return records.flatMap((r) => commitQuestions(r, changes, files));
}
