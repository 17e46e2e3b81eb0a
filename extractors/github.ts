// Merged pull requests, their review threads, and resolved issues → SourceRecords: cleaned prose,
// a content-hash id, provenance, redaction. Pure functions over GitHub REST items; no HTTP here.
import { z } from 'zod';
import { Sha, type RecordFacts, type SourceRecord } from '../datasets/schemas.js';
import { contentId, sha256Hex } from '../lib/hash.js';
import { redactSecrets } from '../validators/secrets.js';
import { provenanceAt, type RepoRef } from './code-records.js';

// Lenient schemas: only the fields used here are checked, everything else passes through. `body` can
// be null and `user` null (deleted "ghost" accounts).
const GhUser = z.looseObject({ login: z.string(), id: z.number().optional(), type: z.string().optional() }).nullish();
export type GhUser = z.infer<typeof GhUser>;

/** An item of `/issues`: an issue, or a pull request when `pull_request` is set. */
export const GhIssue = z.looseObject({
  id: z.number().int().positive(),
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string().nullish(),
  html_url: z.string(),
  state: z.string(),
  state_reason: z.string().nullish(),
  user: GhUser,
  author_association: z.string().nullish(),
  created_at: z.string().nullish(),
  // The listings' incremental cursor.
  updated_at: z.string(),
  closed_at: z.string().nullish(),
  pull_request: z.looseObject({ merged_at: z.string().nullish(), html_url: z.string().nullish() }).nullish(),
});
export type GhIssue = z.infer<typeof GhIssue>;

/** An item of `/issues/comments`: a conversation comment on an issue or a pull request. */
export const GhIssueComment = z.looseObject({
  id: z.number().int().positive(),
  body: z.string().nullish(),
  html_url: z.string(),
  issue_url: z.string().optional(),
  user: GhUser,
  author_association: z.string().nullish(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type GhIssueComment = z.infer<typeof GhIssueComment>;

/** An item of `/pulls/comments`: a review comment on a line (or file) of a pull request's diff. */
export const GhReviewComment = z.looseObject({
  id: z.number().int().positive(),
  in_reply_to_id: z.number().int().positive().nullish(),
  pull_request_url: z.string().optional(),
  path: z.string(),
  diff_hunk: z.string().nullish(),
  line: z.number().int().positive().nullish(),
  start_line: z.number().int().positive().nullish(),
  original_line: z.number().int().positive().nullish(),
  original_start_line: z.number().int().positive().nullish(),
  subject_type: z.string().nullish(),
  body: z.string().nullish(),
  html_url: z.string(),
  user: GhUser,
  author_association: z.string().nullish(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type GhReviewComment = z.infer<typeof GhReviewComment>;

export type ParsedItem<T> = { ok: true; value: T } | { ok: false; detail: string };

/**
 * One API item checked against a schema. A malformed item comes back as a one-line reason naming the
 * item (number or id, when it has one) and each failing field, for a `malformed_item` skip.
 */
export function parseGhItem<S extends z.ZodType>(schema: S, item: unknown, what: string): ParsedItem<z.infer<S>> {
  const r = schema.safeParse(item);
  if (r.success) return { ok: true, value: r.data };
  const o = item !== null && typeof item === 'object' ? (item as Record<string, unknown>) : {};
  const name = typeof o.number === 'number' ? ` #${o.number}` : typeof o.id === 'number' ? ` id ${o.id}` : '';
  const url = typeof o.html_url === 'string' ? ` (${o.html_url})` : '';
  const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(item)'}: ${i.message}`).join('; ');
  return { ok: false, detail: `${what}${name}${url}: ${issues}` };
}

/** The issue or PR number a comment belongs to, from its `issue_url` / `pull_request_url`. */
export function commentTargetNumber(c: { issue_url?: string; pull_request_url?: string }): number | null {
  const m = /\/(?:issues|pulls)\/(\d+)$/.exec(c.issue_url ?? c.pull_request_url ?? '');
  return m ? Number(m[1]) : null;
}

const MAINTAINERS = new Set(['OWNER', 'MEMBER', 'COLLABORATOR']);
export const isMaintainer = (association: string | null | undefined): boolean =>
  association != null && MAINTAINERS.has(association.toUpperCase());

export const isBot = (user: GhUser): boolean => !!user && (user.type === 'Bot' || user.login.toLowerCase().endsWith('[bot]'));

const sameUser = (a: GhUser, b: GhUser): boolean =>
  !!a && !!b && (a.id !== undefined && b.id !== undefined ? a.id === b.id : a.login.toLowerCase() === b.login.toLowerCase());

/** Author associations as they label comments in record text; anything else reads as NONE. */
const ASSOCIATIONS = ['OWNER', 'MEMBER', 'COLLABORATOR', 'CONTRIBUTOR', 'FIRST_TIME_CONTRIBUTOR', 'FIRST_TIMER', 'MANNEQUIN', 'NONE'] as const;
const association = (a: string | null | undefined): string => {
  const u = (a ?? '').toUpperCase();
  return (ASSOCIATIONS as readonly string[]).includes(u) ? u : 'NONE';
};

// ---------------------------------------------------------------------------------------------
// Markdown: closing keywords, code, template boilerplate.

// A backtick fence's info string has no backticks: "```x```" on one line is inline code.
const FENCE = /^ {0,3}(`{3,}(?=[^`]*$)|~{3,})/;
const HTML_COMMENT = /<!--[\s\S]*?(?:-->|$)/g;

/** Whether a line closes the fence opened by `open` (same character, at least as long). */
const closesFence = (line: string, open: string) => {
  const m = FENCE.exec(line);
  return !!m && m[1]![0] === open[0] && m[1]!.length >= open.length && line.trim() === m[1];
};

/** Text with HTML comments, fenced code blocks and (unless asked not to) inline code spans blanked out. */
function withoutCode(text: string, inline = true): string {
  const out: string[] = [];
  let fence: string | null = null;
  for (const line of text.replace(HTML_COMMENT, ' ').split('\n')) {
    if (fence) {
      if (closesFence(line, fence)) fence = null;
      out.push('');
      continue;
    }
    const m = FENCE.exec(line);
    if (m) {
      fence = m[1]!;
      out.push('');
      continue;
    }
    out.push(inline ? line.replace(/(`+)[^`][\s\S]*?\1/g, ' ') : line);
  }
  return out.join('\n');
}

// GitHub's closing keywords, each followed by one reference; "Fixes #1, fixes #2" links both,
// "Fixes #1, #2" only the first (as on GitHub).
const CLOSING =
  /(?<![\w-])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?::\s*|\s+)(?:#(\d+)|([\w.-]+)\/([\w.-]+)#(\d+)|https?:\/\/github\.com\/([\w.-]+)\/([\w.-]+)\/issues\/(\d+))(?![\w-])/gi;

/** Issue numbers a PR body closes, in order, once each; references to other repositories are left out. */
export function linkedIssueNumbers(text: string | null, repo?: { owner: string; name: string }): number[] {
  if (!text) return [];
  const sameRepo = (owner: string, name: string) =>
    !!repo && owner.toLowerCase() === repo.owner.toLowerCase() && name.toLowerCase() === repo.name.toLowerCase();
  const out: number[] = [];
  for (const m of withoutCode(text.replace(/\r\n?/g, '\n')).matchAll(CLOSING)) {
    const n = m[1] ?? (m[2] && sameRepo(m[2], m[3]!) ? m[4] : m[5] && sameRepo(m[5], m[6]!) ? m[7] : undefined);
    if (n === undefined) continue;
    const num = Number(n);
    if (num > 0 && !out.includes(num)) out.push(num);
  }
  return out;
}

const HEADING = /^ {0,3}(#{1,6})\s+(.*?)[\s#]*$/;
// Sections PR templates ship that say nothing about the change.
const TEMPLATE_SECTION = /^(?:before submitting|who can review|(?:pr |pull request |submission )?checklist|reviewers?|code agent policy|ai (?:usage|disclosure|policy))\b/i;
const TEMPLATE_HEADING = /^what does this pr do\??$/i;
const CHECKBOX = /^\s*[-*+]\s+\[([ xX])\]\s*(.*)$/;
const TEMPLATE_ITEM =
  /\b(?:did you|have you|i have|i've|i confirm|was this discussed|make sure|contributor guideline|documentation guidelines|necessary tests|fixes a typo|code of conduct|read the)\b/i;
const UNFILLED_CLOSING = /^\s*(?:fixes|closes|resolves)\s*#\s*(?:\(issue\))?\s*$/i;
// "@a @b", "cc @a", "- Pipelines: @a @b": who to ping, not what changed.
const MENTION_LINE = /^\s*(?:[-*+]\s+)?(?:[\w ./&-]{0,40}:\s*)?(?:cc:?\s*)?(?:@[\w-]+(?:\/[\w.-]+)?[\s,;/]*(?:and\s+)?)+$/i;
const LIST_ITEM = /^\s*(?:[-*+]|\d+[.)])\s/;

/**
 * Cuts text longer than `max` at the last paragraph break before it (else line break, else space)
 * and marks the cut.
 */
export function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max);
  let cut = head.lastIndexOf('\n\n');
  if (cut < max / 2) cut = head.lastIndexOf('\n');
  if (cut < max / 2) cut = head.lastIndexOf(' ');
  if (cut < max / 2) cut = max;
  return `${text.slice(0, cut).trimEnd()}\n[…]`;
}

/**
 * A PR or issue body as prose: HTML comments gone, unfilled template sections, checklists, empty
 * "Fixes #" placeholders and @-mention lists dropped, blank runs collapsed, capped. Code blocks are
 * kept verbatim.
 */
export function cleanBody(raw: string | null | undefined, max = 4000): string {
  const text = (raw ?? '').replace(/\r\n?/g, '\n').replace(HTML_COMMENT, '');
  // Kept lines, each with its heading level (0 for any other line, code included).
  const out: { line: string; level: number }[] = [];
  const keep = (line: string, level = 0) => out.push({ line, level });
  let fence: string | null = null;
  let skipSection = false;
  let inDroppedItem = false;
  for (const line of text.split('\n')) {
    if (fence) {
      if (closesFence(line, fence)) fence = null;
      if (!skipSection) keep(line);
      continue;
    }
    const f = FENCE.exec(line);
    if (f) {
      fence = f[1]!;
      inDroppedItem = false;
      if (!skipSection) keep(line);
      continue;
    }
    const h = HEADING.exec(line);
    if (h) {
      inDroppedItem = false;
      skipSection = TEMPLATE_SECTION.test(h[2]!);
      if (!skipSection && !TEMPLATE_HEADING.test(h[2]!)) keep(line.trimEnd(), h[1]!.length);
      continue;
    }
    if (skipSection) continue;
    // A checklist item's wrapped lines go with it.
    if (inDroppedItem && line.trim() && /^\s{2,}/.test(line) && !LIST_ITEM.test(line)) continue;
    inDroppedItem = false;
    const c = CHECKBOX.exec(line);
    if (c && (c[1] === ' ' || !c[2]!.trim() || TEMPLATE_ITEM.test(c[2]!))) {
      inDroppedItem = true;
      continue;
    }
    if (UNFILLED_CLOSING.test(line) || (line.includes('@') && MENTION_LINE.test(line))) continue;
    keep(line.trimEnd());
  }
  // Headings left with nothing under them (the rest of their section was template) go too.
  const kept = out.filter((l, i) => {
    if (!l.level) return true;
    const next = out.slice(i + 1).find((x) => x.line.trim());
    return next !== undefined && !(next.level && next.level <= l.level);
  });
  const collapsed = kept
    .map((l) => l.line)
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+|\s+$/g, '');
  return capText(collapsed, max);
}

/** Characters of prose: code blocks, quoted lines, and whitespace runs not counted; inline code counts. */
export function proseLength(text: string): number {
  return withoutCode(text, false)
    .split('\n')
    .filter((l) => !/^\s*>/.test(l))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim().length;
}

const REF = String.raw`(?:#\d+|[\w.-]+\/[\w.-]+#\d+|https?:\/\/github\.com\/\S+)`;
const KEYWORD_REF = new RegExp(String.raw`(?<![\w-])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s*${REF}`, 'gi');
const BARE_REF = new RegExp(REF, 'g');
/** "Fixes #12", "Closes: #1, #2": a line that only points at issues. */
const closingOnly = (line: string) =>
  line.search(KEYWORD_REF) >= 0 && !line.replace(KEYWORD_REF, '').replace(BARE_REF, '').replace(/\band\b|[\s,.;:()]/gi, '');
const MARKUP_ONLY = /^\s*(?:!\[[^\]]*\]\([^)]*\)|<\/?[a-z][^>]*>|\[[^\]]*\]\([^)]*\)|[-*_]{3,})\s*$/i;

/**
 * The prose paragraphs of a cleaned body, as verbatim substrings of it, in order: code blocks,
 * headings, closing-reference lines, tables, images, bare tags and @-mention lists skipped.
 */
export function proseParagraphs(text: string): string[] {
  const blocks: string[][] = [];
  let cur: string[] = [];
  let fence: string | null = null;
  const flush = () => {
    if (cur.length) blocks.push(cur);
    cur = [];
  };
  for (const line of text.split('\n')) {
    if (fence) {
      if (closesFence(line, fence)) fence = null;
      continue;
    }
    const f = FENCE.exec(line);
    if (f) {
      flush();
      fence = f[1]!;
      continue;
    }
    if (!line.trim()) flush();
    else cur.push(line);
  }
  flush();
  const out: string[] = [];
  for (const b of blocks) {
    let i = 0;
    while (i < b.length && HEADING.test(b[i]!)) i++;
    const lines = b.slice(i);
    if (!lines.length) continue;
    if (lines.every((l) => closingOnly(l) || /^\s*\|/.test(l) || MARKUP_ONLY.test(l) || HEADING.test(l) || (l.includes('@') && MENTION_LINE.test(l)))) continue;
    out.push(lines.join('\n'));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Records.

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
const byTime = (a: { created_at: string; id: number }, b: { created_at: string; id: number }) =>
  a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id - b.id;

/**
 * Redaction that remembers which kinds it found, for the record's `redactions`. `comment` redacts and
 * cleans a comment that may not make it into the text; `keep` counts its kinds once it does.
 */
function redactor() {
  const kinds = new Set<string>();
  const keep = (found: string[]) => found.forEach((k) => kinds.add(k));
  const redact = (s: string): string => {
    const r = redactSecrets(s);
    keep(r.kinds);
    return r.text;
  };
  const comment = <C extends { body?: string | null }>(c: C, max: number) => {
    // Redacted before cleaning: a cap must never cut a secret into an unrecognisable piece.
    const r = redactSecrets(c.body ?? '');
    return { c, body: cleanBody(r.text, max), kinds: r.kinds };
  };
  return { redact, comment, keep, kinds };
}

/** owner/name of a GitHub RepoRef, for telling this repository's references from others'. */
function repoParts(ref: RepoRef): { owner: string; name: string } | undefined {
  const m = /^([\w.-]+)\/([\w.-]+)$/.exec(ref.repo);
  return m ? { owner: m[1]!, name: m[2]! } : undefined;
}

const validSha = (s: string | null | undefined): string | null => (s && Sha.safeParse(s.toLowerCase()).success ? s.toLowerCase() : null);

const DISCUSSION_COMMENTS = 3;
const COMMENT_CHARS = 1000;
const BODY_CHARS = 4000;
const REPLY_CHARS = 1500;
const THREAD_CHARS = 10_000;
const HUNK_LINES = 15;
const SUBSTANTIVE = 40;

/** The last lines of a diff hunk, with its @@ header kept when lines were cut. */
function hunkTail(hunk: string): string {
  const lines = hunk.replace(/\r\n?/g, '\n').replace(/\n+$/, '').split('\n');
  if (lines.length <= HUNK_LINES) return lines.join('\n');
  const header = lines[0]!.startsWith('@@') ? [lines[0]!] : [];
  return [...header, ...lines.slice(-HUNK_LINES)].join('\n');
}

export interface PullRequestInput {
  /** The `/issues` item of the pull request. */
  pr: GhIssue;
  comments: GhIssueComment[];
  reviewComments: GhReviewComment[];
  mergeSha: string | null;
  /** ref.sha is HEAD at ingestion; the fallback when the merge commit is unknown. */
  ref: RepoRef;
}

/**
 * A merged pull request's records: the PR itself (title, merge date, closed issues, cleaned body, a
 * few substantive conversation comments), and one per review thread (the diff it is on, the root
 * comment and its replies). Unmerged and bot-authored PRs give none. Commenters appear only as
 * their author association.
 */
export function pullRequestRecords(input: PullRequestInput): SourceRecord[] {
  const { pr, ref } = input;
  const mergedAt = pr.pull_request?.merged_at;
  if (!pr.pull_request || !mergedAt || isBot(pr.user)) return [];
  const n = pr.number;
  const sha = validSha(input.mergeSha) ?? ref.sha;
  const label = (c: { user?: GhUser; author_association?: string | null }) =>
    `${association(c.author_association)}${sameUser(c.user, pr.user) ? ' (PR author)' : ''}: `;
  const record = (text: string, kinds: Set<string>, loc: { commentId: number | null; path: string | null; startLine: number | null; endLine: number | null; url: string | null }, facts: RecordFacts): SourceRecord => {
    const contentHash = sha256Hex(text);
    return {
      facts,
      id: contentId('pull_request', n, loc.commentId ?? '', contentHash),
      kind: 'pull_request',
      text,
      contentHash,
      provenance: provenanceAt(ref.repo, sha, { ...loc, prNumber: n }),
      code: null,
      redactions: [...kinds].sort(),
    };
  };
  const out: SourceRecord[] = [];

  {
    const { redact, comment, keep, kinds } = redactor();
    const title = oneLine(redact(pr.title));
    const raw = redact(pr.body ?? '');
    const linked = linkedIssueNumbers(raw, repoParts(ref));
    const head = [`PR #${n}: ${title}`, `Merged: ${mergedAt}`];
    if (linked.length) head.push(`Closes: ${linked.map((i) => `#${i}`).join(', ')}`);
    const parts = [head.join('\n')];
    const body = cleanBody(raw, BODY_CHARS);
    if (body) parts.push(body);
    const discussion = [...input.comments]
      .filter((c) => !isBot(c.user))
      .sort(byTime)
      .map((c) => comment(c, COMMENT_CHARS))
      .filter((x) => proseLength(x.body) >= SUBSTANTIVE)
      .slice(0, DISCUSSION_COMMENTS);
    for (const x of discussion) keep(x.kinds);
    if (discussion.length) parts.push(`Discussion:\n${discussion.map((x) => label(x.c) + x.body).join('\n\n')}`);
    out.push(record(parts.join('\n\n'), kinds, { commentId: null, path: null, startLine: null, endLine: null, url: pr.pull_request.html_url ?? pr.html_url }, { type: 'pull_request', number: n, title, body }));
  }

  // Threads: every reply hangs off its root (GitHub points in_reply_to_id at the root; chains are followed anyway).
  const byId = new Map(input.reviewComments.map((c) => [c.id, c]));
  const rootOf = (c: GhReviewComment): GhReviewComment => {
    const seen = new Set<number>();
    let cur = c;
    while (cur.in_reply_to_id != null && byId.has(cur.in_reply_to_id) && !seen.has(cur.id)) {
      seen.add(cur.id);
      cur = byId.get(cur.in_reply_to_id)!;
    }
    return cur;
  };
  const threads = new Map<number, GhReviewComment[]>();
  for (const c of input.reviewComments) {
    const root = rootOf(c);
    const list = threads.get(root.id) ?? [];
    if (c !== root) list.push(c);
    threads.set(root.id, list);
  }
  const roots = [...threads.keys()].map((id) => byId.get(id)!).sort(byTime);
  for (const root of roots) {
    // A bot's thread (linters, suggestion bots) is not a reviewer's point, whoever answers it.
    if (isBot(root.user)) continue;
    const { redact, comment, keep, kinds } = redactor();
    const rootBody = cleanBody(redact(root.body ?? ''), BODY_CHARS);
    if (!rootBody) continue;
    const title = oneLine(redact(pr.title));
    const line = root.line ?? root.original_line ?? null;
    const start = root.line != null ? root.start_line : root.original_start_line;
    const where = root.subject_type === 'file' || line === null ? '' : start != null && start !== line ? ` lines ${start}-${line}` : ` line ${line}`;
    const hunk = root.diff_hunk ? hunkTail(redact(root.diff_hunk)) : '';
    let text = `PR #${n}: ${title}\nReview comment on ${oneLine(root.path)}${where}:${hunk ? `\n${hunk}` : ''}\n\n${label(root)}${rootBody}`;
    const said = (c: GhReviewComment, body: string) => ({ association: association(c.author_association), byAuthor: sameUser(c.user, pr.user), body });
    const facts: RecordFacts = { type: 'review_thread', number: n, title, location: `${oneLine(root.path)}${where}`, lines: where, comments: [said(root, rootBody)] };
    for (const reply of (threads.get(root.id) ?? []).filter((c) => !isBot(c.user)).sort(byTime)) {
      const { body, kinds: found } = comment(reply, REPLY_CHARS);
      if (!body) continue;
      const next = `\n\n${label(reply)}${body}`;
      if (text.length + next.length > THREAD_CHARS) break;
      text += next;
      facts.comments.push(said(reply, body));
      keep(found);
    }
    out.push(
      record(text, kinds, {
        commentId: root.id,
        path: root.path,
        startLine: root.line != null ? (root.start_line ?? root.line) : null,
        endLine: root.line ?? null,
        url: root.html_url,
      }, facts),
    );
  }
  return out;
}

export interface ClosingPr {
  number: number;
  title: string;
  body: string | null;
  mergeSha: string | null;
  mergedAt: string;
}

/** A commit of the repository that an issue thread names as its fix. */
export interface FixCommit {
  sha: string;
  subject: string;
  body: string | null;
}

export interface IssueInput {
  issue: GhIssue;
  comments: GhIssueComment[];
  /** Merged PRs whose bodies close this issue (see linkedIssueNumbers). */
  closingPrs: ClosingPr[];
  /** Merged PRs the thread names as the fix ("fixed in #N", see fixReferences), as far as the source has them. */
  referencedPrs?: ClosingPr[];
  /** Commits of the repository the thread names as the fix ("closed by <sha>"). */
  referencedCommits?: FixCommit[];
  ref: RepoRef;
}

export type IssueResolution = 'pull_request' | 'commit' | 'maintainer_answer' | 'contributor_answer' | 'author_fix';

export interface IssueOutcome {
  records: SourceRecord[];
  resolution: IssueResolution | null;
  /** A closed issue without a record: why, for an `unresolved` skip. Null when there is a record, or for open issues and PRs. */
  unresolved: string | null;
}

/**
 * The PR that closed the issue: the last one merged by the time it was closed (a minute's slack for
 * GitHub closing it just after the merge), else the first merged.
 */
function closingPrOf(prs: ClosingPr[], closedAt: string | null | undefined): ClosingPr | null {
  const sorted = [...prs].sort((a, b) => Date.parse(a.mergedAt) - Date.parse(b.mergedAt) || a.number - b.number);
  const closed = closedAt ? Date.parse(closedAt) : NaN;
  const before = Number.isNaN(closed) ? [] : sorted.filter((p) => Date.parse(p.mergedAt) <= closed + 60_000);
  return before.at(-1) ?? sorted[0] ?? null;
}

// ---------------------------------------------------------------------------------------------
// Issue threads: who settled it, and how.

// Stale bots, including ones that post from a plain account; their notices never answer anything.
const STALE_BOTS = new Set(['stale', 'stalebot', 'stale-bot', 'no-response', 'github-actions']);
const STALE_NOTICE = /^\s*this (?:issue|pr|pull request) (?:has been|was) (?:automatically )?marked as stale\b/i;
const isThreadBot = (c: GhIssueComment): boolean =>
  isBot(c.user) || (!!c.user && STALE_BOTS.has(c.user.login.toLowerCase().replace(/\[bot\]$/, ''))) || STALE_NOTICE.test(c.body ?? '');

// "fixed in #12", "closed by 3f2a9c1", "resolved via https://github.com/o/r/pull/12"; not "not fixed by #12".
const FIX_VERB = String.raw`(?<![\w-])(?<!\bnot\s)(?<!n't\s)(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?|addressed|solved)`;
const HEX = String.raw`((?=[0-9a-f]*\d)[0-9a-f]{7,40})`;
const FIX_REFERENCE = new RegExp(
  `${FIX_VERB}\\s+(?:in|by|via|with)\\s+(?:(?:the\\s+)?(?:pr|pull request|commit)\\s+)?` +
    String.raw`(?:#(\d+)|https?:\/\/github\.com\/([\w.-]+)\/([\w.-]+)\/(?:pull|issues)\/(\d+)|https?:\/\/github\.com\/([\w.-]+)\/([\w.-]+)\/commit\/${HEX}|\x60?${HEX}\x60?)(?![\w-])`,
  'gi',
);
// "#12 fixes this", "#12 should fix it".
const REFERENCE_FIXES = /(?<![\w-])#(\d+)\s+(?:should\s+)?(?:fix(?:e[sd])?|resolve[sd]?|close[sd]?)\s+(?:it|this|the (?:issue|problem|error|bug))\b/gi;

/** Sentences of a comment's prose (code blocks, quoted lines and HTML comments out; inline code kept). */
function sentences(text: string): string[] {
  return withoutCode(text, false)
    .split('\n')
    .filter((l) => !/^\s*>/.test(l))
    .join('\n')
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export interface FixReferences {
  prs: number[];
  shas: string[];
}

/**
 * What an issue's human comments name as the fix, in thread order, once each: PR (or issue) numbers
 * and commit shas (as written, possibly abbreviated). Questions ("is this fixed by #12?") and other
 * repositories' references are left out. The source looks these up; issueRecords follows known ones.
 */
export function fixReferences(comments: GhIssueComment[], repo?: { owner: string; name: string }): FixReferences {
  const sameRepo = (owner: string, name: string) =>
    !repo || (owner.toLowerCase() === repo.owner.toLowerCase() && name.toLowerCase() === repo.name.toLowerCase());
  const out: FixReferences = { prs: [], shas: [] };
  const addPr = (n: number) => n > 0 && !out.prs.includes(n) && out.prs.push(n);
  const addSha = (s: string) => !out.shas.includes(s.toLowerCase()) && out.shas.push(s.toLowerCase());
  for (const c of [...comments].filter((c) => !isThreadBot(c)).sort(byTime))
    for (const s of sentences(c.body ?? '').filter((s) => !s.endsWith('?'))) {
      for (const m of s.matchAll(FIX_REFERENCE)) {
        if (m[1]) addPr(Number(m[1]));
        else if (m[4] && sameRepo(m[2]!, m[3]!)) addPr(Number(m[4]));
        else if (m[7] && sameRepo(m[5]!, m[6]!)) addSha(m[7]);
        else if (m[8]) addSha(m[8]);
      }
      for (const m of s.matchAll(REFERENCE_FIXES)) addPr(Number(m[1]));
    }
  return out;
}

const GREETING = /^(?:hi|hey|hello|thanks|thank you|thx|cc|ping|gentle ping|friendly ping)\b/i;
const TRIAGE = /\b(?:i can reproduce|can(?:not|'t)? reproduce|looking into (?:it|this)|(?:i'?ll|will|let me) (?:take a look|look into)|taking a look|any updates?|not stale|keep(?:ing)? (?:it|this) open)\b/i;
const REFERENCE_TOKEN = new RegExp(String.raw`${REF}|\x60?\b(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b\x60?`, 'gi');

/**
 * Characters of what a comment states: its declarative sentences, without questions back to the
 * author, greetings and thanks, triage ("I can reproduce this"), pings, and the references it points
 * at. "Fixed in #12" or "Could you share a reproducer?" state nothing of their own.
 */
function substance(body: string): number {
  return sentences(body)
    .filter((s) => !s.endsWith('?') && !GREETING.test(s) && !TRIAGE.test(s) && !(s.includes('@') && MENTION_LINE.test(s)))
    .map((s) => s.replace(REFERENCE_TOKEN, ''))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim().length;
}

const DUPLICATE = /\b(?:duplicate (?:of|with)|dupe of|same as)\s+(?:#(\d+)|https?:\/\/github\.com\/\S+)/i;
const DECLINED =
  /\b(?:won'?t fix|wontfix|not planned|won'?t (?:be )?(?:add(?:ing|ed)?|support(?:ed|ing)?|implement(?:ed|ing)?|fix(?:ed)?|chang(?:e|ed|ing))|not going to (?:add|support|implement|fix|change)|no plans? to|do(?:n't| not) plan to)\b/i;
const DECLINED_LABEL = /^(?:wontfix|won't fix|duplicate|invalid|not planned|stale)$/i;
// An issue author's reply that says the answer worked, and one that says it did not (or not yet).
const CONFIRMS = /\b(?:thanks?|thank you|thx|works?|worked|working|fixed|solved|resolved|did the trick|that did it|confirm(?:ed|s)?|perfect|closing)\b/i;
const DISPUTES = /\b(?:still|doesn'?t|does not|didn'?t|did not|isn'?t|is not|not (?:work|fix|solve|help)|no luck|same (?:error|issue|problem)|but|i'?ll try|will try|let me try)\b/i;
const confirms = (body: string) => {
  const prose = sentences(body).join(' ');
  return CONFIRMS.test(prose) && !DISPUTES.test(prose);
};
// An issue author telling what fixed it for them.
const OWN_FIX =
  /\b(?:(?:that|this|which) (?:fixed|solved|resolved)|fixed (?:it|this|the (?:issue|problem|error))|solved (?:it|this|the)|(?:the|my) (?:issue|problem|mistake|error) was|turns? out|turned out|figured (?:it )?out|the (?:fix|solution|workaround) (?:is|was)|found the (?:issue|problem|cause|fix|solution)|works? (?:now |fine )?after)\b/i;

interface Said {
  c: GhIssueComment;
  body: string;
  kinds: string[];
  byAuthor: boolean;
}

type Answer = { at: number; resolution: 'maintainer_answer' | 'contributor_answer' | 'author_fix' };

/**
 * The comment that answers the issue, walking back from the end: a maintainer's substantive answer
 * that the issue author's next reply confirms, or that nobody added anything of substance to (the
 * close followed it, whatever bots said); a contributor's answer the author confirmed; the author's
 * own account of what fixed it. A maintainer calling it a duplicate or declining it ends the search.
 */
function answerOf(thread: Said[]): Answer | { why: string } {
  const standing = (i: number): 'confirmed' | 'disputed' | 'superseded' | 'last' => {
    for (const x of thread.slice(i + 1)) {
      if (x.byAuthor) return confirms(x.body) ? 'confirmed' : 'disputed';
      if (substance(x.body) >= SUBSTANTIVE) return 'superseded';
    }
    return 'last';
  };
  let why: string | null = null;
  for (let i = thread.length - 1; i >= 0; i--) {
    const x = thread[i]!;
    const maintainer = isMaintainer(x.c.author_association) && !x.byAuthor;
    const prose = sentences(x.body).join(' ');
    if (maintainer) {
      const dup = DUPLICATE.exec(prose);
      if (dup) return { why: `a maintainer marked it a duplicate${dup[1] ? ` of #${dup[1]}` : ''}` };
      if (DECLINED.test(prose)) return { why: 'a maintainer declined it' };
    }
    if (substance(x.body) < SUBSTANTIVE) continue;
    const st = standing(i);
    if (maintainer) {
      if (st === 'confirmed' || st === 'last') return { at: i, resolution: 'maintainer_answer' };
      why ??= st === 'disputed' ? 'the issue author replied to the maintainer answer without confirming it' : 'a maintainer answer was followed by further unanswered discussion';
    } else if (x.byAuthor) {
      if (OWN_FIX.test(prose) && !x.body.trim().endsWith('?') && (st === 'confirmed' || st === 'last')) return { at: i, resolution: 'author_fix' };
    } else if (x.c.author_association?.toUpperCase() === 'CONTRIBUTOR' && st === 'confirmed') {
      return { at: i, resolution: 'contributor_answer' };
    }
  }
  return { why: why ?? 'no maintainer answer, confirmed fix, or fixing PR or commit in the thread' };
}

const ANSWER_HEADING: Record<Answer['resolution'], string> = {
  maintainer_answer: 'Maintainer answer:',
  contributor_answer: 'Contributor answer:',
  author_fix: "Issue author's fix:",
};

/**
 * A closed issue's record when the thread says how it was resolved: by a merged PR that closes it or
 * that a comment names ("fixed in #N"), by a commit a comment names ("closed by <sha>"), and/or by an
 * answer the thread settles on (see answerOf). Issues closed as not planned or duplicate, declined,
 * or without a resolution give no record and say why; open issues and pull requests give neither.
 */
export function issueRecords(input: IssueInput): IssueOutcome {
  const { issue, ref } = input;
  if (issue.pull_request || issue.state !== 'closed') return { records: [], resolution: null, unresolved: null };
  const unresolved = (why: string): IssueOutcome => ({ records: [], resolution: null, unresolved: why });
  if (issue.state_reason === 'not_planned') return unresolved('closed as not planned');
  if (issue.state_reason === 'duplicate') return unresolved('closed as a duplicate');
  const labels = Array.isArray(issue.labels) ? (issue.labels as unknown[]).map((l) => (typeof l === 'string' ? l : ((l as { name?: unknown })?.name ?? ''))) : [];
  const declined = labels.find((l): l is string => typeof l === 'string' && DECLINED_LABEL.test(l.trim()));
  if (declined) return unresolved(`labelled ${declined}`);

  const n = issue.number;
  const { redact, comment, keep, kinds } = redactor();
  const thread: Said[] = input.comments
    .filter((c) => !isThreadBot(c))
    .sort(byTime)
    .map((c) => {
      const x = comment(c, BODY_CHARS);
      return { c, body: x.body, kinds: x.kinds, byAuthor: sameUser(c.user, issue.user) };
    });

  // The fix: a PR whose body closes the issue, else the latest PR or commit the thread names that the source knows.
  const refs = fixReferences(input.comments, repoParts(ref));
  const knownPr = (num: number) => input.referencedPrs?.find((p) => p.number === num);
  const knownCommit = (sha: string) => input.referencedCommits?.find((c) => c.sha.toLowerCase().startsWith(sha));
  let pr: ClosingPr | null = closingPrOf(input.closingPrs, issue.closed_at);
  let commit: FixCommit | null = null;
  if (!pr) {
    pr = [...refs.prs].reverse().map(knownPr).find((p) => p !== undefined) ?? null;
    if (!pr) commit = [...refs.shas].reverse().map(knownCommit).find((c) => c !== undefined) ?? null;
  }
  const fixNote = pr || commit ? thread.findLast((x) => (pr ? fixReferences([x.c]).prs.includes(pr.number) : fixReferences([x.c]).shas.some((s) => commit!.sha.startsWith(s)))) : undefined;

  const found = answerOf(thread);
  // The note that names the fix ("This should be resolved by #12 in the next release") points at it
  // rather than answering; the fix's own section says what it did.
  const pointer = (i: number) => !!fixNote && thread[i] === fixNote && substance(fixNote.body.replace(FIX_REFERENCE, '')) < 2 * SUBSTANTIVE;
  const answer = 'at' in found && !pointer(found.at) ? found : null;
  if (!pr && !commit && !answer) {
    const unknown = [...refs.prs.map((r) => `#${r}`), ...refs.shas];
    const why = 'why' in found ? found.why : '';
    return unresolved(unknown.length ? `names ${unknown.join(', ')} as the fix, but no merged PR or commit by that reference is known; ${why}` : why);
  }

  const title = oneLine(redact(issue.title));
  const parts = [`Issue #${n}: ${title}`];
  const facts: RecordFacts = { type: 'issue', number: n, title, answer: null, fix: null };
  const body = cleanBody(redact(issue.body ?? ''), BODY_CHARS);
  if (body) parts.push(body);
  if (answer) {
    const said = thread[answer.at]!;
    const earlier = thread
      .slice(0, answer.at)
      .filter((x) => proseLength(x.body) >= SUBSTANTIVE)
      .slice(-DISCUSSION_COMMENTS);
    for (const x of [...earlier, said]) keep(x.kinds);
    if (earlier.length) {
      const label = (c: GhIssueComment) => `${association(c.author_association)}${sameUser(c.user, issue.user) ? ' (issue author)' : ''}: `;
      parts.push(`Discussion:\n${earlier.map((x) => label(x.c) + x.body).join('\n\n')}`);
    }
    parts.push(`${ANSWER_HEADING[answer.resolution]}\n${said.body}`);
    facts.answer = { heading: ANSWER_HEADING[answer.resolution], body: said.body };
  }
  const fixed = (what: string, fixTitle: string, body: string | null) => {
    const first = proseParagraphs(cleanBody(redact(body ?? ''), BODY_CHARS))[0];
    const detail = first ? capText(first, REPLY_CHARS) : null;
    parts.push(`Resolved by ${what}: ${fixTitle}${detail ? `\n${detail}` : ''}`);
    facts.fix = { what, title: fixTitle, detail };
  };
  if (pr) fixed(`PR #${pr.number}`, oneLine(redact(pr.title)), pr.body);
  else if (commit) fixed(`commit ${commit.sha}`, oneLine(redact(commit.subject)), commit.body);
  const text = parts.join('\n\n');
  const contentHash = sha256Hex(text);
  const sha = validSha(pr?.mergeSha) ?? validSha(commit?.sha) ?? ref.sha;
  const commentId = answer ? thread[answer.at]!.c.id : (fixNote?.c.id ?? null);
  const record: SourceRecord = {
    id: contentId('issue', n, contentHash),
    kind: 'issue',
    text,
    contentHash,
    provenance: provenanceAt(ref.repo, sha, { url: issue.html_url, prNumber: pr?.number, issueNumber: n, commentId }),
    facts,
    code: null,
    redactions: [...kinds].sort(),
  };
  const resolution: IssueResolution = pr ? 'pull_request' : commit ? 'commit' : answer!.resolution;
  return { records: [record], resolution, unresolved: null };
}
