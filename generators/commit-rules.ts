// Rule templates: commit SourceRecord → extractive candidate QAPairs whose answers quote the record.
import type { GeneratorInfo, QAPair, SourceRecord } from '../datasets/schemas.js';
import {
  cleanBody,
  parseCommitRecord,
  parseFileRecord,
  shortSha,
  symbolChangesInPatch,
  type Hunk,
  type ParsedCommitRecord,
  type ParsedFileRecord,
  type SymbolChange,
} from '../extractors/commits.js';
import { normalizeForMatch } from '../validators/checks.js';
import { candidatePair } from './pair.js';

export const COMMIT_RULES: GeneratorInfo = { name: 'commit-rules', version: '1.0.0', promptVersion: null, model: null };

const MAX_SUBJECT_IN_QUESTION = 120;
const MAX_WHY_CHARS = 1500;
const MAX_LISTED_FILES = 30;
const MAX_QUOTED_LINE = 160;

/** Inline code that survives backticks inside the quoted text. */
const code = (s: string) => (s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``);

/** A subject as questions quote it: whole, or cut at a word. */
function subjectLabel(subject: string): { text: string; whole: boolean } {
  if (subject.length <= MAX_SUBJECT_IN_QUESTION) return { text: subject, whole: true };
  const cut = subject.lastIndexOf(' ', MAX_SUBJECT_IN_QUESTION - 1);
  return { text: `${subject.slice(0, cut > 40 ? cut : MAX_SUBJECT_IN_QUESTION - 1)}…`, whole: false };
}

const commitLabel = (sha: string, subject: string) => `commit ${shortSha(sha)} ("${subjectLabel(subject).text}")`;

// A squash merge lists its branch's commits as "* subject" paragraphs: a log, not a reason.
const SQUASH_ENTRY = /^\* /;
const PLACEHOLDER = /^(?:#+\s.*|Fixes #\s*\(issue\)|\s*- \[[ x]\] .*)$/i;
// Paragraphs that only point elsewhere ("Resolves #12") or only head a section ("Description").
const NOT_A_REASON = /^(?:(?:Resolves|Fixes|Fixed|Closes|See|Refs?|Related(?: to)?|Follow-up to|Part of)\s*:?\s*(?:#\d+|https?:\/\/\S+)[.,]?\s*)+$|^[A-Z][\w ]{0,30}:?$/i;

/**
 * The body's prose: paragraphs before any squash log, without trailers, template headings or a
 * copy of the subject. Null unless it says something (≥ 40 chars, ≥ 6 words).
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
    if (!para || para === '[message truncated]' || NOT_A_REASON.test(para)) continue;
    const n = normalizeForMatch(para);
    if (subject.includes(n) || n.includes(subject)) continue;
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

/** Evidence for quoted paragraphs: each paragraph, or its lines where cleaning joined lines. */
function quoteEvidence(paragraphs: string[], context: string): string[] {
  const ctx = normalizeForMatch(context);
  return paragraphs.flatMap((p) =>
    ctx.includes(normalizeForMatch(p))
      ? [p]
      : p
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean),
  );
}

function wholeCommitPairs(rec: SourceRecord, c: ParsedCommitRecord): QAPair[] {
  const out: QAPair[] = [];
  const label = commitLabel(c.sha, c.subject);
  const why = whyParagraphs(c);
  if (why) {
    // Two phrasings, fixed per commit, so questions do not all read alike.
    const q = parseInt(c.sha[0]!, 16) % 2 ? `What was the motivation for ${label}?` : `Why was ${label} made?`;
    out.push(candidatePair(rec, COMMIT_RULES, { category: 'commit_why', question: q, answer: why.join('\n\n'), evidence: quoteEvidence(why, rec.text) }));
  }
  if (c.files.length) {
    const listed = c.files.slice(0, MAX_LISTED_FILES);
    const verb: Record<string, string> = { A: 'added', M: 'modified', D: 'deleted', R: 'renamed', C: 'copied', T: 'type changed' };
    const lines = listed.map((f) => `- ${code(f.path)} (${verb[f.status]}${f.oldPath ? ` from ${code(f.oldPath)}` : ''})`);
    if (c.fileCount > listed.length) lines.push(`- … and ${c.fileCount - listed.length} more`);
    const head = `${c.fileCount} file${c.fileCount > 1 ? 's' : ''}:`;
    const evidence = [...new Set(listed.flatMap((f) => (f.oldPath ? [f.path, f.oldPath] : [f.path])))];
    out.push(
      candidatePair(rec, COMMIT_RULES, {
        category: 'commit_files',
        question: `Which files did ${label} change?`,
        answer: `${head}\n${lines.join('\n')}`,
        evidence,
      }),
    );
  }
  return out;
}

// Lines that carry meaning: definitions and imports first, then longer lines; never bare syntax.
function lineScore(body: string): number {
  if (body.length < 8 || body.length > MAX_QUOTED_LINE || body.includes('[REDACTED:')) return -1;
  if (!/[A-Za-z]{3}/.test(body)) return -1;
  if (/^(?:async\s+def|def|class|function|export|import|from)\b/.test(body)) return 1000 + Math.min(body.length, 100);
  return Math.min(body.length, 100);
}

function tellingLines(hunks: Hunk[], marker: '+' | '-', count: number): string[] {
  const scored: { body: string; score: number; at: number }[] = [];
  const seen = new Set<string>();
  let at = 0;
  for (const h of hunks) {
    for (const l of h.lines) {
      at++;
      if (l[0] !== marker) continue;
      const body = l.slice(1).trim();
      const score = lineScore(body);
      if (score < 0 || seen.has(body)) continue;
      seen.add(body);
      scored.push({ body, score, at });
    }
  }
  return scored
    .sort((a, b) => b.score - a.score || a.at - b.at)
    .slice(0, count)
    .sort((a, b) => a.at - b.at)
    .map((s) => s.body);
}

function changePair(rec: SourceRecord, f: ParsedFileRecord, path: string): QAPair {
  const label = commitLabel(f.sha, f.subject);
  const counts = `+${f.additions} -${f.deletions}`;
  const evidence = [counts];
  const what = f.oldPath ? `${code(f.oldPath)} to ${code(path)}` : code(path);
  const parts = [`Commit ${shortSha(f.sha)} ${f.verb} ${what} (${counts} lines).`];
  if (f.oldPath) evidence.push(f.oldPath);
  const sections = [...new Set(f.hunks.map((h) => h.section).filter((s) => s.length >= 4 && s.length <= MAX_QUOTED_LINE && !s.includes('[REDACTED:')))].slice(0, 4);
  if (sections.length) {
    parts.push(`The hunks begin under ${sections.map(code).join(', ')}.`);
    evidence.push(...sections);
  }
  const added = tellingLines(f.hunks, '+', 3);
  const removed = tellingLines(f.hunks, '-', 2);
  if (added.length) parts.push(`Added lines include:\n${added.map((l) => `- ${code(l)}`).join('\n')}`);
  if (removed.length) parts.push(`Removed lines include:\n${removed.map((l) => `- ${code(l)}`).join('\n')}`);
  evidence.push(...added, ...removed);
  return candidatePair(rec, COMMIT_RULES, {
    category: 'commit_change',
    question: `What changed in ${code(path)} in ${label}?`,
    answer: parts.join('\n'),
    evidence,
  });
}

function symbolPair(rec: SourceRecord, f: ParsedFileRecord, s: SymbolChange): QAPair {
  const def = s.line.slice(1).trim();
  const subject = subjectLabel(f.subject);
  const date = f.date.slice(0, 10);
  const did = s.change === 'added' ? 'introduced' : 'removed';
  const question =
    s.change === 'added' ? `Which commit introduced the ${s.kind} ${code(s.name)} in ${code(s.path)}?` : `Which commit removed the ${s.kind} ${code(s.name)} from ${code(s.path)}?`;
  const evidence = [shortSha(f.sha), date, def];
  if (subject.whole) evidence.push(f.subject);
  return candidatePair(rec, COMMIT_RULES, {
    category: 'symbol_history',
    question,
    answer: `Commit ${shortSha(f.sha)} ("${subject.text}", ${date}) ${did} the ${s.kind} ${code(s.name)}${s.change === 'added' ? ' in' : ' from'} ${code(s.path)}: ${code(def)}`,
    evidence,
  });
}

/**
 * Candidate pairs for one commit record: why and which files for the whole commit; what changed,
 * and which top-level definitions came or went, for a per-file record. `changes` (from
 * symbolChanges) may be given; by default they are read from the record's own hunks.
 */
export function commitQuestions(rec: SourceRecord, changes?: SymbolChange[]): QAPair[] {
  if (rec.kind !== 'commit') return [];
  const path = rec.provenance.path;
  if (path === null) {
    const c = parseCommitRecord(rec.text);
    return c ? wholeCommitPairs(rec, c) : [];
  }
  const f = parseFileRecord(rec.text);
  if (!f || !f.hunks.length) return [];
  const out = [changePair(rec, f, path)];
  const lines = new Set(f.hunks.flatMap((h) => h.lines));
  const symbols = changes
    ? changes.filter((s) => s.path === path && lines.has(s.line))
    : symbolChangesInPatch(path, f.hunks.flatMap((h) => h.lines).join('\n'));
  for (const s of symbols) if (!s.line.includes('[REDACTED:')) out.push(symbolPair(rec, f, s));
  return out;
}
