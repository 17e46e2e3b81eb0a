// Commits → SourceRecords: which commits are worth learning from, the whole-commit record and one
// record per changed text file, and the top-level Python definitions a commit added or removed.

import type { CommitFile, FileStatus, RawCommit } from './git-log.js';
import type { CommitFacts, CommitFileFacts, RecordFacts, SkipRecord, SourceRecord } from '../datasets/schemas.js';
import { contentId, sha256Hex } from '../lib/hash.js';
import { redactSecrets } from '../validators/secrets.js';
import { provenanceAt, type RepoRef } from './code-records.js';

export type CommitSkipReason = 'merge' | 'bot' | 'merge_message' | 'version_bump' | 'revert' | 'short_message' | 'empty_diff' | 'style_only';
/** A rejection that looks like a real change (style_only) also carries the skip record to keep. */
export type CommitFilterResult = { keep: true } | { keep: false; reason: CommitSkipReason; skip?: SkipRecord };

// Bot accounts, by author name or email.
const BOT = /\[bot\]|^(?:dependabot|renovate|github-actions|pre-commit-ci|allcontributors|mergify|greenkeeper|snyk-bot|imgbot|codecov)\b|\bbot$/i;
const MERGE_SUBJECT = /^Merge (?:pull request|(?:remote-tracking )?branch|branches|tag|commit)\b|^Merge \S+ into \S+/i;
// Subjects that only move a version number: releases, dev bumps, dependency bumps.
const VERSION_BUMP = [
  /^v?\d+(?:\.\d+)+\S*$/i,
  /^(?:release|releasing|prepare (?:for )?release)\b:?.*\bv?\d+\.\d+/i,
  /^(?:bump|update|set|increase|change)\s+(?:the\s+)?(?:package\s+|library\s+)?version\b/i,
  /\bversion bump\b|\bbump(?:ed)? (?:the )?version\b/i,
  /\b(?:back )?to (?:a |the )?dev(?:elopment)?\s*version\b|\bdev(?:elopment)? version\b/i,
  /^bump\s+\S+\s+from\s+\S+\s+to\s+\S+/i,
  /^bump the \S+ group\b/i,
];
// Two-word subjects that say nothing: the diff is formatting or unnamed fixes.
const GENERIC_SUBJECT =
  /^(?:make (?:style|quality|fixup)|fix (?:style|quality|lint|linting|formatting)|(?:minor|small|quick|more|some) (?:fix|fixes|changes|updates?|cleanup)|code style|style fixes|apply style(?: fixes)?|run style|wip\b.*)$/i;
// The message GitHub and `git revert` write on their own; a revert that explains itself is kept.
const REVERT_ONLY = /^This reverts commit [0-9a-f]{7,40}\.?$/i;

// Trailers name people, not reasons; emails in them are left out of records.
const TRAILER = /^(?:Signed-off-by|Co-authored-by|Reviewed-by|Acked-by|Tested-by|Reported-by|Suggested-by|Helped-by|Approved-by|Cc|Change-Id|Reviewed-on|PiperOrigin-RevId)\s*:/i;
const ANGLE_EMAIL = /\s*<[^<>\s]+@[^<>\s]+>/g;
// Squash merges also inline trailers ("* fix Co-authored-by: X x@y.io"): such a line loses every address.
const TRAILER_IN_LINE = /\b(?:Signed-off-by|Co-authored-by|Reviewed-by|Acked-by|Tested-by|Reported-by|Suggested-by|Helped-by|Approved-by|Cc)\s*:/i;
const ANY_EMAIL = /\s*<?[^\s<>@]+@[^\s<>]+\.[^\s<>]+>?/g;

/** A body without email addresses in trailers or in angle brackets. */
function withoutEmails(body: string): string {
  return body
    .split('\n')
    .map((l) => (TRAILER_IN_LINE.test(l) ? l.replace(ANY_EMAIL, '') : l.replace(ANGLE_EMAIL, '')))
    .join('\n');
}

/** The subject without its ticket and its conventional prefix ("CI:", "[docs]", "fix(core):"): what filters judge. */
function bareSubject(subject: string): string {
  return subject
    .replace(/\s*\((?:#\d+(?:,\s*)?)+\)\s*$/, '')
    .replace(/^(?:\[[^\]]*\]\s*)+/, '')
    .replace(/^[A-Za-z-]+(?:\([^)]*\))?!?:\s+/, '')
    .trim();
}

/** A body without trailers, separators, HTML comments and git's own revert line. */
export function cleanBody(body: string): string {
  return body
    .replace(/<!--[\s\S]*?-->/g, '')
    .split('\n')
    .filter((l) => !TRAILER.test(l.trim()) && !/^\s*-{3,}\s*$/.test(l) && !REVERT_ONLY.test(l.trim()))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** CommitPackFT-style selection: commits whose message explains a real change. */
export function commitFilter(c: RawCommit): CommitFilterResult {
  if (c.parents.length > 1) return { keep: false, reason: 'merge' };
  if (BOT.test(c.authorName) || /\[bot\]@|^(?:dependabot|github-actions|pre-commit-ci|renovate)/i.test(c.authorEmail)) return { keep: false, reason: 'bot' };
  if (MERGE_SUBJECT.test(c.subject)) return { keep: false, reason: 'merge_message' };
  const bare = bareSubject(c.subject);
  if (VERSION_BUMP.some((re) => re.test(bare))) return { keep: false, reason: 'version_bump' };
  const body = cleanBody(c.body);
  // Reverts are kept when they say why; git's default message repeats the reverted subject only.
  if (/^Revert\b/i.test(bare) && !body) return { keep: false, reason: 'revert' };
  const style = styleOnly(c);
  if (style) return { keep: false, reason: 'style_only', skip: { path: `commit:${c.sha}`, reason: 'style_only', detail: style } };
  const words = bare.split(/\s+/).filter((w) => /\w/.test(w));
  if (!body && (words.length <= 1 || GENERIC_SUBJECT.test(bare))) return { keep: false, reason: 'short_message' };
  if (!c.files.some((f) => !f.binary && f.additions + f.deletions > 0)) return { keep: false, reason: 'empty_diff' };
  return { keep: true };
}

/** The skip a filtered commit is recorded as: the filter's own (style_only), or its reason and why. */
export function commitFilterSkip(c: RawCommit, verdict: Extract<CommitFilterResult, { keep: false }>): SkipRecord {
  if (verdict.skip) return verdict.skip;
  const subject = JSON.stringify(redactSecrets(c.subject.slice(0, 160)).text);
  const detail: Record<Exclude<CommitSkipReason, 'style_only'>, string> = {
    merge: `a merge commit (${c.parents.length} parents): its first-parent diff is read with the commit it merges`,
    bot: 'written by a bot account',
    merge_message: `the subject ${subject} is a merge message`,
    version_bump: `the subject ${subject} only moves a version number`,
    revert: `a revert that does not say why: ${subject}`,
    short_message: `the subject ${subject} says nothing on its own and there is no body`,
    empty_diff: 'no text file changed',
  };
  return { path: `commit:${c.sha}`, reason: verdict.reason, detail: detail[verdict.reason as Exclude<CommitSkipReason, 'style_only'>] };
}

/** The PR a squash-merged subject names: "Fix X (#12345)", or "Merge pull request #12 from …". */
export function prNumberFromSubject(subject: string): number | null {
  const m = /\(#(\d+)\)\s*$/.exec(subject) ?? /^Merge pull request #(\d+)\b/.exec(subject);
  const n = m ? Number(m[1]) : 0;
  return n > 0 && Number.isSafeInteger(n) ? n : null;
}

export const shortSha = (sha: string) => sha.slice(0, 7);

const STATUS_VERB: Record<FileStatus, string> = { A: 'added', M: 'modified', D: 'deleted', R: 'renamed', C: 'copied', T: 'changed the type of' };

// Bounds that keep a record's text inside the validator's context limit.
const MAX_MESSAGE_CHARS = 8000;
const MAX_LISTED_FILES = 300;
export const MAX_FILE_RECORD_CHARS = 16000;
export const MAX_FILE_RECORDS = 20;

// Diffs of generated files teach nothing about the code.
const GENERATED = /(?:^|\/)(?:package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|uv\.lock|Cargo\.lock|Pipfile\.lock)$|\.min\.(?:js|css)$|\.ipynb$/;

export interface CommitRecordOptions {
  maxFileRecords?: number;
  maxFileRecordChars?: number;
}

/** The message as a record states it: emails left out, bounded at a line. */
function recordMessage(c: RawCommit): string {
  let msg = c.body ? `${c.subject}\n\n${withoutEmails(c.body)}` : c.subject;
  if (msg.length > MAX_MESSAGE_CHARS) {
    const cut = msg.lastIndexOf('\n', MAX_MESSAGE_CHARS);
    msg = `${msg.slice(0, cut > 0 ? cut : MAX_MESSAGE_CHARS)}\n[message truncated]`;
  }
  return msg;
}

const fileLine = (f: Pick<CommitFile, 'status' | 'path' | 'oldPath'>) => `${f.status} ${f.path}${f.oldPath ? ` (from ${f.oldPath})` : ''}`;

const redacted = (text: string) => redactSecrets(text).text;

/** What the whole-commit record states, field by field (redacted as its text is). */
function commitFacts(c: RawCommit): RecordFacts {
  const message = recordMessage(c);
  // The message is the subject (one line), then the body after a blank line.
  const body = message.length > c.subject.length + 2 && message.startsWith(`${c.subject}\n\n`) ? message.slice(c.subject.length + 2) : '';
  return {
    type: 'commit',
    sha: c.sha,
    author: c.authorName,
    date: c.authoredAt,
    subject: redacted(body || message === c.subject ? c.subject : message),
    body: redacted(body),
    files: c.files.slice(0, MAX_LISTED_FILES).map((f) => ({ status: f.status, path: f.path, oldPath: f.oldPath })),
    fileCount: c.files.length,
  };
}

/** The whole-commit record's text: header, message and the list of changed files. */
export function commitRecordText(c: RawCommit): string {
  const listed = c.files.slice(0, MAX_LISTED_FILES).map(fileLine);
  if (c.files.length > MAX_LISTED_FILES) listed.push(`… and ${c.files.length - MAX_LISTED_FILES} more files`);
  return `commit ${c.sha}\nAuthor: ${c.authorName}\nDate: ${c.authoredAt}\n\n${recordMessage(c)}\n\nFiles changed (${c.files.length}):\n${listed.join('\n')}`;
}

export interface Hunk {
  /** The `@@ … @@ context` line. */
  header: string;
  /** Text after the second `@@`: git's guess at the enclosing definition. */
  section: string;
  newStart: number;
  lines: string[];
}

/** The hunks of one file's diff text; header lines (also those of a second section) are not hunk lines. */
export function parseHunks(patch: string): Hunk[] {
  const hunks: Hunk[] = [];
  let cur: Hunk | null = null;
  let oldLeft = 0;
  let newLeft = 0;
  for (const line of patch.split('\n')) {
    const m = /^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$/.exec(line);
    if (m) {
      cur = { header: line, section: m[4]!.trim(), newStart: Number(m[2]), lines: [] };
      oldLeft = Number(m[1] ?? 1);
      newLeft = Number(m[3] ?? 1);
      hunks.push(cur);
      continue;
    }
    if (!cur) continue;
    const first = line[0];
    // A hunk holds as many lines as its header counts, plus "\ No newline at end of file" markers.
    if (first === '\\') cur.lines.push(line);
    else if ((oldLeft > 0 || newLeft > 0) && (first === ' ' || first === '+' || first === '-')) {
      cur.lines.push(line);
      if (first !== '+') oldLeft--;
      if (first !== '-') newLeft--;
    } else cur = null;
  }
  return hunks;
}

/** The new-file lines the kept hunks cover (context included), or null when they cover none. */
function newSpan(hunks: Hunk[]): { start: number; end: number } | null {
  let start = Infinity;
  let end = -Infinity;
  for (const h of hunks) {
    let n = h.newStart;
    for (const l of h.lines) {
      if (l[0] === ' ' || l[0] === '+') {
        start = Math.min(start, n);
        end = Math.max(end, n);
        n++;
      }
    }
  }
  return start <= end ? { start, end } : null;
}

/** Hunks up to maxChars, whole where possible; a first hunk over the cap is cut at a line. */
function boundHunks(hunks: Hunk[], maxChars: number): { hunks: Hunk[]; cut: boolean } {
  const kept: Hunk[] = [];
  let size = 0;
  for (const h of hunks) {
    const len = h.header.length + 1 + h.lines.reduce((a, l) => a + l.length + 1, 0);
    if (size + len <= maxChars) {
      kept.push(h);
      size += len;
      continue;
    }
    if (!kept.length) {
      const lines: string[] = [];
      let n = h.header.length + 1;
      for (const l of h.lines) {
        if (n + l.length + 1 > maxChars) break;
        lines.push(l);
        n += l.length + 1;
      }
      if (lines.length) kept.push({ ...h, lines });
    }
    return { hunks: kept, cut: true };
  }
  return { hunks: kept, cut: false };
}

const hunkText = (hunks: Hunk[]) => hunks.map((h) => [h.header, ...h.lines].join('\n')).join('\n');

/** A file's part of the commit's kept diff. */
export function fileDiff(c: RawCommit, f: CommitFile): string {
  return f.diffRange ? c.diff.slice(f.diffRange.start, f.diffRange.end) : '';
}

export const TRUNCATED_LINE = '[diff truncated]';

/** The header lines of a per-file record. */
export function fileRecordHeader(sha: string, f: Pick<CommitFile, 'status' | 'path' | 'oldPath' | 'additions' | 'deletions'>, date: string, subject: string): string {
  const from = f.oldPath ? ` (from ${f.oldPath})` : '';
  return `commit ${sha} ${STATUS_VERB[f.status]} ${f.path}${from} (+${f.additions} -${f.deletions})\nDate: ${date}\nSubject: ${subject}`;
}

/** The whole-commit record and one record per changed text file with a hunk (up to maxFileRecords). */
export function commitRecords(c: RawCommit, ref: RepoRef, opts: CommitRecordOptions = {}): SourceRecord[] {
  const maxFiles = opts.maxFileRecords ?? MAX_FILE_RECORDS;
  const maxChars = opts.maxFileRecordChars ?? MAX_FILE_RECORD_CHARS;
  const prNumber = prNumberFromSubject(c.subject);
  const record = (path: string | null, raw: string, span: { start: number; end: number } | null, facts: RecordFacts): SourceRecord => {
    const contentHash = sha256Hex(raw);
    const { text, kinds } = redactSecrets(raw);
    return {
      facts,
      id: contentId('commit', c.sha, path ?? '', contentHash),
      kind: 'commit',
      text,
      contentHash,
      provenance: provenanceAt(ref.repo, c.sha, { path, startLine: span?.start, endLine: span?.end, url: ref.webUrl ? `${ref.webUrl}/commit/${c.sha}` : null, prNumber }),
      code: null,
      redactions: kinds,
    };
  };
  const subject = redacted(c.subject);
  const out = [record(null, commitRecordText(c), null, commitFacts(c))];
  for (const f of c.files) {
    if (out.length - 1 >= maxFiles) break;
    if (f.binary || GENERATED.test(f.path)) continue;
    const all = parseHunks(fileDiff(c, f)).filter((h) => h.lines.length);
    if (!all.length) continue;
    const { hunks, cut } = boundHunks(all, maxChars);
    if (!hunks.length) continue;
    const tail = f.diffTruncated || cut ? `\n${TRUNCATED_LINE}` : '';
    const facts: RecordFacts = {
      type: 'commit_file',
      sha: c.sha,
      verb: STATUS_VERB[f.status],
      oldPath: f.oldPath,
      additions: f.additions,
      deletions: f.deletions,
      date: c.authoredAt,
      subject,
      hunks: hunks.map((h) => ({ ...h, section: redacted(h.section), lines: redacted(h.lines.join('\n')).split('\n') })),
      truncated: Boolean(tail),
    };
    out.push(record(f.path, `${fileRecordHeader(c.sha, f, c.authoredAt, c.subject)}\n\n${hunkText(hunks)}${tail}`, newSpan(hunks), facts));
  }
  return out;
}

/** Skip records for what a commit's records leave out: cut diffs and unreadable files. */
export function commitSkips(c: RawCommit): SkipRecord[] {
  const out: SkipRecord[] = [];
  for (const f of c.files) {
    if (c.unreadable.includes(f.path)) out.push({ path: f.path, reason: 'read_error', detail: `commit ${c.sha}: git could not read the file's blob` });
    else if (f.diffTruncated) out.push({ path: f.path, reason: 'diff_truncated', detail: `commit ${c.sha}: diff of ${c.diffBytes} bytes cut at the size cap` });
  }
  return out;
}

// Style-only commits: formatting, lint fixes and typo fixes look like changes but say nothing about
// what the code does. A commit is style-only when every file it modifies changes only in ways that
// keep the code's meaning; what its subject says can widen that to typo and lint-setting edits, never
// on its own.

type CommentStyle = 'hash' | 'slash' | 'html' | 'none';
const HASH_COMMENTS = /\.(?:py|pyi|pyx|sh|bash|zsh|ya?ml|toml|cfg|ini|r|rb|pl|jl|mk)$|(?:^|\/)(?:Makefile|Dockerfile|\.gitignore|\.gitattributes|\.dockerignore|requirements[^/]*\.txt|\.flake8|\.pylintrc)$/i;
const SLASH_COMMENTS = /\.(?:[cm]?[jt]sx?|c|cc|cpp|cxx|h|hh|hpp|cu|cuh|java|kt|go|rs|swift|scala|cs|css|scss|less|proto)$/i;
const HTML_COMMENTS = /\.(?:md|mdx|html?|xml|svg|vue)$/i;
const PROSE_FILE = /\.(?:md|mdx|rst|txt)$/i;
// Python, YAML and Makefiles mean something by their indentation.
const INDENTED = /\.(?:py|pyi|pyx|ya?ml|mk)$|(?:^|\/)Makefile$/i;

function commentStyle(path: string): CommentStyle {
  if (HASH_COMMENTS.test(path)) return 'hash';
  if (SLASH_COMMENTS.test(path)) return 'slash';
  if (HTML_COMMENTS.test(path)) return 'html';
  return 'none';
}

// Lines of a licence header, with or without their comment marker.
const LICENCE_LINE =
  /^(?:#+|\/\/+|\/?\*+|<!--)?\s*(?:Copyright\b|\(c\)\s|Licensed under the Apache License|you may not use this file except|You may obtain a copy of the License|(?:https?:\/\/)?www\.apache\.org\/licenses|Unless required by applicable law|distributed under the License is distributed|WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND|See the License for the specific language|limitations under the License|SPDX-License-Identifier)/i;

/** A diff line's text (without its marker) that carries no code: blank, a comment line, or licence header. */
export function isCommentOrLicenceLine(path: string, text: string): boolean {
  const t = text.trim();
  if (!t || LICENCE_LINE.test(t)) return true;
  switch (commentStyle(path)) {
    case 'hash':
      return t.startsWith('#');
    case 'slash':
      return /^(?:\/\/|\/\*|\*(?:\s|\/|$))/.test(t) || t.endsWith('*/');
    case 'html':
      return t.startsWith('<!--') || t.endsWith('-->');
    default:
      return false;
  }
}

const isChange = (l: string) => l[0] === '+' || l[0] === '-';

/** Whether a hunk changes a line that carries code, not only comments, blank or licence lines. */
export function isSubstantialHunk(path: string, h: Hunk): boolean {
  return h.lines.some((l) => isChange(l) && !isCommentOrLicenceLine(path, l.slice(1)));
}

// Words before a parenthesis that make it a group or tuple, not a call: `return (x,)` keeps its comma.
const NOT_CALLEE = new Set(['return', 'in', 'not', 'and', 'or', 'if', 'elif', 'while', 'for', 'yield', 'await', 'assert', 'del', 'lambda', 'else', 'is', 'with', 'except', 'case', 'match', 'raise', 'import', 'from']);

/**
 * Code as the tokens a formatter leaves alone: no whitespace or comments, one quote style, no trailing
 * comma where it means nothing. Indentation counts at the start of a statement in indented languages.
 */
function formatTokens(text: string, style: 'hash' | 'slash', indented: boolean, keepComments: boolean): string[] {
  const out: string[] = [];
  const stack: { dropsTrailingComma: boolean; commas: number }[] = [];
  const n = text.length;
  let i = 0;
  let lineStart = true;
  while (i < n) {
    if (lineStart) {
      let j = i;
      while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
      const blank = j >= n || text[j] === '\n' || (style === 'hash' && text[j] === '#') || (style === 'slash' && text.startsWith('//', j));
      if (!blank) {
        if (indented && !stack.length) out.push(`NL${j - i}`);
        lineStart = false;
      }
      i = j;
      if (j >= n) break;
    }
    const ch = text[i]!;
    if (ch === '\n') {
      lineStart = true;
      i++;
    } else if (ch === '\\' && text[i + 1] === '\n') i += 2;
    else if (ch === ' ' || ch === '\t' || ch === '\r') i++;
    else if ((style === 'hash' && ch === '#') || (style === 'slash' && text.startsWith('//', i))) {
      const end = text.indexOf('\n', i) < 0 ? n : text.indexOf('\n', i);
      if (keepComments) out.push(`C:${text.slice(i, end).replace(/\s+/g, ' ').trim()}`);
      i = end;
    } else if (style === 'slash' && text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2) < 0 ? n : text.indexOf('*/', i + 2) + 2;
      if (keepComments) out.push(`C:${text.slice(i, end).replace(/\s+/g, ' ').trim()}`);
      i = end;
    } else if (ch === '"' || ch === "'" || (style === 'slash' && ch === '`')) {
      let prefix = '';
      const prev = out[out.length - 1];
      if (prev && /^[rRbBuUfF]{1,2}$/.test(prev) && /[A-Za-z]/.test(text[i - 1] ?? '')) prefix = out.pop()!.toLowerCase();
      const triple = style === 'hash' && text.startsWith(ch.repeat(3), i);
      const close = triple ? ch.repeat(3) : ch;
      let j = i + close.length;
      while (j < n && !text.startsWith(close, j) && (triple || ch === '`' || text[j] !== '\n')) j += text[j] === '\\' ? 2 : 1;
      const body = text.slice(i + close.length, Math.min(j, n)).replace(/\\(['"])/g, '$1');
      out.push(`S${prefix}${triple ? 3 : 1}:${body}`);
      i = Math.min(j + close.length, n);
    } else if (/[\w$]/.test(ch)) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(text[j]!)) j++;
      out.push(text.slice(i, j));
      i = j;
    } else {
      if (ch === '(' || ch === '[' || ch === '{') {
        const prev = out[out.length - 1] ?? '';
        const callee = (/^[A-Za-z_$][\w$]*$/.test(prev) && !NOT_CALLEE.has(prev)) || prev === ')' || prev === ']';
        // A call's or a list's trailing comma means nothing; a subscript's or a tuple's may.
        stack.push({ dropsTrailingComma: ch === '{' || (ch === '(' ? callee : !callee), commas: 0 });
      } else if (ch === ')' || ch === ']' || ch === '}') {
        const top = stack.pop();
        if (top && out[out.length - 1] === ',' && (top.dropsTrailingComma || top.commas > 1)) out.pop();
      } else if (ch === ',' && stack.length) stack[stack.length - 1]!.commas++;
      out.push(ch);
      i++;
    }
  }
  // `def f(): ...` and a body of `...` on its own line are one stub, as formatters now write it.
  return out.filter((t, k) => !(/^NL\d+$/.test(t) && out[k - 1] === ':' && out[k + 1] === '.' && out[k + 2] === '.' && out[k + 3] === '.'));
}

/** Prose and data as words, one quote style: whitespace and line breaks (reflowed paragraphs) do not count. */
function proseTokens(text: string, style: CommentStyle, keepComments: boolean): string[] {
  const kept = style === 'html' && !keepComments ? text.replace(/<!--[\s\S]*?(?:-->|$)/g, ' ') : text;
  return kept.replace(/['‘’“”]/g, '"').split(/\s+/).filter(Boolean);
}

const sameTokens = (a: string[], b: string[]) => a.length === b.length && a.every((t, i) => t === b[i]);

/** The same statements in the same order, where only imports moved, merged or split (isort, ruff). */
function importsReordered(a: string[], b: string[]): boolean {
  const statements = (ts: string[]) => {
    const out: string[][] = [];
    for (const t of ts) {
      if (/^NL\d+$/.test(t) || t === HUNK_BREAK || !out.length) out.push([t]);
      else out[out.length - 1]!.push(t);
    }
    return out;
  };
  const isImport = (s: string[]) => s[0] === 'NL0' && (s[1] === 'import' || s[1] === 'from');
  const [sa, sb] = [statements(a), statements(b)];
  const others = (ss: string[][]) => ss.filter((s) => !isImport(s)).map((s) => s.join(' '));
  const names = (ss: string[][]) => [...new Set(ss.filter(isImport).flatMap((s) => s.slice(1).filter((t) => /^[\w.]+$/.test(t))))].sort();
  return sameTokens(others(sa), others(sb)) && sameTokens(names(sa), names(sb));
}

// Between the token lists of two hunks: a statement cannot run on from one hunk into the next.
const HUNK_BREAK = '§';

type StyleKind = 'formatting' | 'comments' | 'import order' | 'typo fixes' | 'lint settings';

/**
 * How a modified file's hunks change only its style, or null when they change what it says. Without
 * the subject's word for it, only whitespace, quotes and trailing commas count: a changed comment or a
 * moved import may well be the point of a commit.
 */
function fileStyleKind(path: string, hunks: Hunk[], said: 'lint' | 'typo' | null): StyleKind | null {
  const changed = hunks.flatMap((h) => h.lines.filter(isChange));
  if (!changed.length) return null;
  if (changed.every((l) => !l.slice(1).trim())) return 'formatting';
  const style = commentStyle(path);
  const indented = INDENTED.test(path);
  const side = (h: Hunk, drop: '+' | '-') =>
    h.lines
      .filter((l) => l[0] !== drop && l[0] !== '\\')
      .map((l) => l.slice(1))
      .join('\n');
  const tokens = (drop: '+' | '-', keepComments: boolean) =>
    hunks.flatMap((h, k) => [
      ...(k ? [HUNK_BREAK] : []),
      ...(style === 'hash' || style === 'slash' ? formatTokens(side(h, drop), style, indented, keepComments) : proseTokens(side(h, drop), style, keepComments)),
    ]);
  if (sameTokens(tokens('+', true), tokens('-', true))) return 'formatting';
  if (!said) return null;
  if (changed.every((l) => isCommentOrLicenceLine(path, l.slice(1)))) return 'comments';
  const [before, after] = [tokens('+', false), tokens('-', false)];
  if (sameTokens(before, after)) return 'comments';
  if (said === 'lint' && indented && importsReordered(before, after)) return 'import order';
  if (said === 'typo' && typoFixesOnly(path, hunks)) return 'typo fixes';
  if (said === 'lint' && lintSettingsOnly(path, hunks)) return 'lint settings';
  return null;
}

/** Edit distance, for short strings only. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}

const closeWords = (a: string, b: string) => editDistance(a, b) <= Math.max(2, Math.ceil(Math.max(a.length, b.length) / 3));

/** A few characters changed in a few words ("recieve" → "receive", "the the" → "the"), not "slow" → "fast". */
function isTypoEdit(a: string, b: string): boolean {
  const [wa, wb] = [a.trim().split(/\s+/), b.trim().split(/\s+/)];
  if (wa.length === wb.length) {
    const differing = wa.flatMap((w, k) => (w === wb[k] ? [] : [[w, wb[k]!] as const]));
    return differing.length <= Math.max(3, wa.length / 8) && differing.every(([x, y]) => closeWords(x, y));
  }
  let p = 0;
  while (p < wa.length && p < wb.length && wa[p] === wb[p]) p++;
  let s = 0;
  while (s < wa.length - p && s < wb.length - p && wa[wa.length - 1 - s] === wb[wb.length - 1 - s]) s++;
  const [ma, mb] = [wa.slice(p, wa.length - s), wb.slice(p, wb.length - s)];
  // A doubled word dropped.
  const [longer, shorter] = ma.length > mb.length ? [ma, mb] : [mb, ma];
  if (!shorter.length && longer.length === 1 && (longer[0] === wa[p - 1] || longer[0] === (ma.length ? wa : wb)[p + 1])) return true;
  const [ja, jb] = [ma.join(' '), mb.join(' ')];
  return ma.length <= 3 && mb.length <= 3 && ja.length + jb.length <= 60 && closeWords(ja, jb);
}

const CODE_START = /^(?:return|import|from|if|elif|else|for|while|def|class|with|raise|assert|yield|await|async|pass|lambda|try|except|finally|global|del|const|let|var|function|export)\b/;

/** A line of prose inside code (a docstring or comment): words, no code punctuation. */
function isProseLine(path: string, text: string): boolean {
  if (PROSE_FILE.test(path) || isCommentOrLicenceLine(path, text)) return true;
  const t = text.trim();
  return !/[=()[\]{};]/.test(t) && !CODE_START.test(t) && t.split(/\s+/).filter((w) => /^[A-Za-z][a-z'’,.:]*$/.test(w)).length >= 4;
}

/** Hunks whose changed lines pair up one for one, each pair a typo fix in prose. */
function typoFixesOnly(path: string, hunks: Hunk[]): boolean {
  for (const h of hunks) {
    let removed: string[] = [];
    let added: string[] = [];
    const pairsOk = () => removed.length === added.length && removed.every((r, k) => isProseLine(path, r) && isProseLine(path, added[k]!) && isTypoEdit(r, added[k]!));
    for (const l of [...h.lines, ' ']) {
      if (l[0] === '-') removed.push(l.slice(1));
      else if (l[0] === '+') added.push(l.slice(1));
      else {
        if (!pairsOk()) return false;
        removed = [];
        added = [];
      }
    }
  }
  return true;
}

const LINT_TOOL = /\b(?:ruff|black|isort|flake8|pylint|yapf|autopep8|pyupgrade|codespell|prettier|eslint|pre-commit|lint|style|quality)\b/i;
const LINT_CONFIG = /(?:^|\/)(?:\.pre-commit-config\.ya?ml|\.flake8|\.?ruff\.toml|\.isort\.cfg|\.prettierrc[^/]*|\.eslintrc[^/]*|\.editorconfig|\.style\.yapf|\.pylintrc)$/;
const BUILD_CONFIG = /(?:^|\/)(?:pyproject\.toml|setup\.py|setup\.cfg|tox\.ini|Makefile|requirements[^/]*\.txt|package\.json|\.github\/workflows\/[^/]+\.ya?ml)$/;

const LINT_COMMAND = new RegExp(`^[-@\\s]*(?:python3? -m\\s+)?${LINT_TOOL.source}`, 'i');
const ITEM_END = /[\s,"'\[\](){}]/;

/** The item (between quotes, commas or spaces) of a line that holds the characters it and the other line do not share. */
function changedItem(line: string, other: string): string {
  let p = 0;
  while (p < line.length && p < other.length && line[p] === other[p]) p++;
  let s = 0;
  while (s < line.length - p && s < other.length - p && line[line.length - 1 - s] === other[other.length - 1 - s]) s++;
  let start = p;
  while (start > 0 && !ITEM_END.test(line[start - 1]!)) start--;
  let end = line.length - s;
  while (end < line.length && !ITEM_END.test(line[end]!)) end++;
  return line.slice(start, end);
}

/**
 * A linter's own settings, or build lines whose change is a linter's: its pinned version, its make
 * target. A line that pins a linter next to other packages counts only when the linter's item changed.
 */
function lintSettingsOnly(path: string, hunks: Hunk[]): boolean {
  if (LINT_CONFIG.test(path)) return true;
  if (!BUILD_CONFIG.test(path)) return false;
  const toolEdit = (line: string, other: string | undefined) =>
    isCommentOrLicenceLine(path, line) || LINT_COMMAND.test(line) || (other === undefined ? LINT_TOOL.test(line) : LINT_TOOL.test(changedItem(line, other)));
  for (const h of hunks) {
    let removed: string[] = [];
    let added: string[] = [];
    for (const l of [...h.lines, ' ']) {
      if (l[0] === '-') removed.push(l.slice(1));
      else if (l[0] === '+') added.push(l.slice(1));
      else {
        const paired = removed.length === added.length;
        if (!removed.every((r, k) => toolEdit(r, paired ? added[k] : undefined)) || !added.every((a, k) => toolEdit(a, paired ? removed[k] : undefined))) return false;
        removed = [];
        added = [];
      }
    }
  }
  return true;
}

// What a subject says: a style or lint pass ("style:", "make style", "ruff", "pre-commit") or typo fixes.
const STYLE_PREFIX = /^(?:style|lint|fmt)(?:\([^)]*\))?!?:/i;
const LINT_SUBJECT =
  /\b(?:make (?:style|quality|fixup)|(?:code )?style|lint(?:s|er|ers|ing)?|linted|ruff|black|isort|flake8|pylint|yapf|autopep8|prettier|eslint|pre-commit|precommit|formatting|formatter|re-?format(?:ted|ting)?|code quality|quality checks?)\b/i;
const TYPO_SUBJECT = /^(?:(?:fix|doc|docs|mnt|chore)\b:?\s*)?(?:fix(?:e[sd]|ing)?\s+)?(?:(?:a|some|minor|small|more|several|few|the)\s+)*(?:(?:doc|docstring|spelling|doc\s+string)s?\s+)?typos?\b(?:\s+(?:in|of|on|at)\b.*)?$/i;

function styleSubject(subject: string): { kind: 'lint' | 'typo'; said: string } | null {
  const bare = bareSubject(subject);
  if (TYPO_SUBJECT.test(bare)) return { kind: 'typo', said: bare };
  const m = STYLE_PREFIX.exec(subject) ?? LINT_SUBJECT.exec(bare);
  return m ? { kind: 'lint', said: m[0] } : null;
}

const STYLE_KIND_TEXT: Record<StyleKind, string> = {
  formatting: 'only whitespace, quotes or trailing commas',
  comments: 'only comments (or licence lines) besides formatting',
  'import order': 'only the order of imports',
  'typo fixes': 'only typos in prose',
  'lint settings': "only a linter's settings",
};

/**
 * Why a commit is style-only, or null when it is not (or its diff cannot show it: cut, unreadable,
 * binary, or a file added, deleted or renamed, which changes what the code is).
 */
export function styleOnly(c: RawCommit): string | null {
  if (c.truncated || c.unreadable.length || !c.files.length) return null;
  const said = styleSubject(c.subject);
  const kinds = new Map<StyleKind, number>();
  for (const f of c.files) {
    if (f.status !== 'M' || f.binary || f.diffTruncated || !f.diffRange) return null;
    const hunks = parseHunks(fileDiff(c, f)).filter((h) => h.lines.length);
    const kind = fileStyleKind(f.path, hunks, said?.kind ?? null);
    if (!kind) return null;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const files = [...kinds].map(([k, n]) => `${STYLE_KIND_TEXT[k]} (${n} file${n > 1 ? 's' : ''})`).join('; ');
  return `${said ? `subject says "${said.said}"; ` : ''}diff changes ${files}`;
}

export interface SymbolChange {
  path: string;
  name: string;
  kind: 'function' | 'class';
  change: 'added' | 'removed';
  /** The diff line, with its `+` or `-`. */
  line: string;
}

// Top-level definitions only: a method name (forward, __init__) recurs within a file, so its
// appearance in a diff does not show that the file gained or lost it.
const TOP_DEF = /^([-+ ])(?:(async\s+def|def)\s+([A-Za-z_]\w*)\s*\(|(class)\s+([A-Za-z_]\w*)\s*[(:])/;

/** Top-level `def`/`class` lines a Python file's diff added or removed, but not both (that is an edit or a move). */
export function symbolChangesInPatch(path: string, patch: string): SymbolChange[] {
  if (!/\.pyi?$/.test(path)) return [];
  const seen = new Map<string, { added: string[]; removed: string[]; context: boolean; kind: 'function' | 'class' }>();
  for (const line of patch.split('\n')) {
    const m = TOP_DEF.exec(line);
    if (!m) continue;
    const name = (m[3] ?? m[5])!;
    const e = seen.get(name) ?? { added: [], removed: [], context: false, kind: m[4] ? 'class' : 'function' };
    if (m[1] === '+') e.added.push(line);
    else if (m[1] === '-') e.removed.push(line);
    else e.context = true;
    seen.set(name, e);
  }
  const out: SymbolChange[] = [];
  for (const [name, e] of seen) {
    if (e.context || (e.added.length && e.removed.length)) continue;
    // Two definitions of one name (if/else variants) are one change we cannot place: skip it.
    if (e.added.length === 1) out.push({ path, name, kind: e.kind, change: 'added', line: e.added[0]! });
    if (e.removed.length === 1) out.push({ path, name, kind: e.kind, change: 'removed', line: e.removed[0]! });
  }
  return out;
}

export function symbolChanges(c: RawCommit): SymbolChange[] {
  return c.files.flatMap((f) => (f.binary ? [] : symbolChangesInPatch(f.path, fileDiff(c, f))));
}

/** A whole-commit record's fields: its facts (datasets/schemas.ts CommitFacts), as the text also states them. */
export type ParsedCommitRecord = Omit<CommitFacts, 'type'>;

/** The parts of a whole-commit record's text (the inverse of commitRecordText): checks that the facts and the text agree. */
export function parseCommitRecord(text: string): ParsedCommitRecord | null {
  const m = /^commit ([0-9a-f]{40})\nAuthor: (.*)\nDate: (.*)\n\n/.exec(text);
  const filesAt = text.lastIndexOf('\n\nFiles changed (');
  if (!m || filesAt < m[0].length) return null;
  const message = text.slice(m[0].length, filesAt);
  const para = message.indexOf('\n\n');
  const [countLine, ...lines] = text.slice(filesAt + 2).split('\n');
  const files: ParsedCommitRecord['files'] = [];
  for (const l of lines) {
    const f = /^([AMDRCT]) (.*?)(?: \(from (.*)\))?$/.exec(l);
    if (f) files.push({ status: f[1] as FileStatus, path: f[2]!, oldPath: f[3] ?? null });
  }
  return {
    sha: m[1]!,
    author: m[2]!,
    date: m[3]!,
    subject: para < 0 ? message : message.slice(0, para),
    body: para < 0 ? '' : message.slice(para + 2),
    files,
    fileCount: Number(/\((\d+)\)/.exec(countLine ?? '')?.[1] ?? files.length),
  };
}

/** A per-file record's fields (CommitFileFacts), as the text also states them. */
export type ParsedFileRecord = Omit<CommitFileFacts, 'type'>;

/** The parts of a per-file record's text (the inverse of fileRecordHeader + hunks). */
export function parseFileRecord(text: string): ParsedFileRecord | null {
  const m = /^commit ([0-9a-f]{40}) (added|modified|deleted|renamed|copied|changed the type of) .*\(\+(\d+) -(\d+)\)\nDate: (.*)\nSubject: (.*)\n\n/.exec(text);
  if (!m) return null;
  const rest = text.slice(m[0].length);
  const from = / \(from (.*)\) \(\+\d+ -\d+\)$/.exec(text.slice(0, text.indexOf('\n')));
  return {
    sha: m[1]!,
    verb: m[2]!,
    oldPath: from ? from[1]! : null,
    additions: Number(m[3]),
    deletions: Number(m[4]),
    date: m[5]!,
    subject: m[6]!,
    hunks: parseHunks(rest),
    truncated: rest.endsWith(`\n${TRUNCATED_LINE}`),
  };
}
