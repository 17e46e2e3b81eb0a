// Commits → SourceRecords: which commits are worth learning from, the whole-commit record and one
// record per changed text file, and the top-level Python definitions a commit added or removed.

import type { CommitFile, FileStatus, RawCommit } from '../activities/git-history.js';
import type { SkipRecord, SourceRecord } from '../datasets/schemas.js';
import { contentId, sha256Hex } from '../lib/hash.js';
import { redactSecrets } from '../validators/secrets.js';
import { provenanceAt, type RepoRef } from './code-records.js';

export type CommitSkipReason = 'merge' | 'bot' | 'merge_message' | 'version_bump' | 'revert' | 'short_message' | 'empty_diff';
export type CommitFilterResult = { keep: true } | { keep: false; reason: CommitSkipReason };

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
  const words = bare.split(/\s+/).filter((w) => /\w/.test(w));
  if (!body && (words.length <= 1 || GENERIC_SUBJECT.test(bare))) return { keep: false, reason: 'short_message' };
  if (!c.files.some((f) => !f.binary && f.additions + f.deletions > 0)) return { keep: false, reason: 'empty_diff' };
  return { keep: true };
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
  const record = (path: string | null, raw: string, span: { start: number; end: number } | null): SourceRecord => {
    const contentHash = sha256Hex(raw);
    const { text, kinds } = redactSecrets(raw);
    return {
      id: contentId('commit', c.sha, path ?? '', contentHash),
      kind: 'commit',
      text,
      contentHash,
      provenance: provenanceAt(ref.repo, c.sha, { path, startLine: span?.start, endLine: span?.end, url: ref.webUrl ? `${ref.webUrl}/commit/${c.sha}` : null, prNumber }),
      code: null,
      redactions: kinds,
    };
  };
  const out = [record(null, commitRecordText(c), null)];
  for (const f of c.files) {
    if (out.length - 1 >= maxFiles) break;
    if (f.binary || GENERATED.test(f.path)) continue;
    const all = parseHunks(fileDiff(c, f)).filter((h) => h.lines.length);
    if (!all.length) continue;
    const { hunks, cut } = boundHunks(all, maxChars);
    if (!hunks.length) continue;
    const tail = f.diffTruncated || cut ? `\n${TRUNCATED_LINE}` : '';
    out.push(record(f.path, `${fileRecordHeader(c.sha, f, c.authoredAt, c.subject)}\n\n${hunkText(hunks)}${tail}`, newSpan(hunks)));
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

export interface ParsedCommitRecord {
  sha: string;
  author: string;
  date: string;
  subject: string;
  body: string;
  files: { status: FileStatus; path: string; oldPath: string | null }[];
  fileCount: number;
}

/** The parts of a whole-commit record's text (the inverse of commitRecordText). */
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

export interface ParsedFileRecord {
  sha: string;
  verb: string;
  /** The source of a rename or copy. */
  oldPath: string | null;
  additions: number;
  deletions: number;
  date: string;
  subject: string;
  hunks: Hunk[];
  truncated: boolean;
}

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
