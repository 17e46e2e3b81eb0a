// Merged pull requests, their review threads, and resolved issues → SourceRecords: cleaned prose,
// a content-hash id, provenance, redaction. Pure functions over GitHub REST items; no HTTP here.
import { z } from 'zod';
import { Sha, type SourceRecord } from '../datasets/schemas.js';
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
export const ASSOCIATIONS = ['OWNER', 'MEMBER', 'COLLABORATOR', 'CONTRIBUTOR', 'FIRST_TIME_CONTRIBUTOR', 'FIRST_TIMER', 'MANNEQUIN', 'NONE'] as const;
const association = (a: string | null | undefined): string => {
  const u = (a ?? '').toUpperCase();
  return (ASSOCIATIONS as readonly string[]).includes(u) ? u : 'NONE';
};
/** How a comment starts in record text: "<ASSOCIATION>: " or "<ASSOCIATION> (PR author): ". */
export const COMMENT_LABEL = new RegExp(`^(${ASSOCIATIONS.join('|')})( \\((?:PR|issue) author\\))?: `);

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
  const record = (text: string, kinds: Set<string>, loc: { commentId: number | null; path: string | null; startLine: number | null; endLine: number | null; url: string | null }): SourceRecord => {
    const contentHash = sha256Hex(text);
    return {
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
    out.push(record(parts.join('\n\n'), kinds, { commentId: null, path: null, startLine: null, endLine: null, url: pr.pull_request.html_url ?? pr.html_url }));
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
    for (const reply of (threads.get(root.id) ?? []).filter((c) => !isBot(c.user)).sort(byTime)) {
      const { body, kinds: found } = comment(reply, REPLY_CHARS);
      if (!body) continue;
      const next = `\n\n${label(reply)}${body}`;
      if (text.length + next.length > THREAD_CHARS) break;
      text += next;
      keep(found);
    }
    out.push(
      record(text, kinds, {
        commentId: root.id,
        path: root.path,
        startLine: root.line != null ? (root.start_line ?? root.line) : null,
        endLine: root.line ?? null,
        url: root.html_url,
      }),
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

export interface IssueInput {
  issue: GhIssue;
  comments: GhIssueComment[];
  /** Merged PRs whose bodies close this issue (see linkedIssueNumbers). */
  closingPrs: ClosingPr[];
  ref: RepoRef;
}

export type IssueResolution = 'pull_request' | 'maintainer_answer';

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

/**
 * A closed issue's record when it is known how it was resolved: by a merged closing PR, or else by a
 * maintainer's substantial last comment answering someone else's question. Issues closed as not
 * planned or duplicate, pull requests, and issues without a known resolution give no record.
 */
export function issueRecords(input: IssueInput): { records: SourceRecord[]; resolution: IssueResolution | null } {
  const { issue, ref } = input;
  const none = { records: [], resolution: null };
  if (issue.pull_request || issue.state !== 'closed') return none;
  if (issue.state_reason === 'not_planned' || issue.state_reason === 'duplicate') return none;
  const n = issue.number;
  const { redact, comment, keep, kinds } = redactor();
  const parts = [`Issue #${n}: ${oneLine(redact(issue.title))}`];
  const body = cleanBody(redact(issue.body ?? ''), BODY_CHARS);
  if (body) parts.push(body);

  let resolution: IssueResolution;
  let pr: ClosingPr | null = closingPrOf(input.closingPrs, issue.closed_at);
  let answerId: number | null = null;
  if (pr) {
    resolution = 'pull_request';
    const first = proseParagraphs(cleanBody(redact(pr.body ?? ''), BODY_CHARS))[0];
    parts.push(`Resolved by PR #${pr.number}: ${oneLine(redact(pr.title))}${first ? `\n${capText(first, REPLY_CHARS)}` : ''}`);
  } else {
    const comments = input.comments.filter((c) => !isBot(c.user)).sort(byTime);
    const last = comments.at(-1);
    if (!last || !isMaintainer(last.author_association) || sameUser(last.user, issue.user)) return none;
    const answer = comment(last, BODY_CHARS);
    if (proseLength(answer.body) < SUBSTANTIVE) return none;
    resolution = 'maintainer_answer';
    answerId = last.id;
    const earlier = comments
      .slice(0, -1)
      .map((c) => comment(c, COMMENT_CHARS))
      .filter((x) => proseLength(x.body) >= SUBSTANTIVE)
      .slice(-DISCUSSION_COMMENTS);
    for (const x of [...earlier, answer]) keep(x.kinds);
    if (earlier.length) {
      const label = (c: GhIssueComment) => `${association(c.author_association)}${sameUser(c.user, issue.user) ? ' (issue author)' : ''}: `;
      parts.push(`Discussion:\n${earlier.map((x) => label(x.c) + x.body).join('\n\n')}`);
    }
    parts.push(`Maintainer answer:\n${answer.body}`);
    pr = null;
  }
  const text = parts.join('\n\n');
  const contentHash = sha256Hex(text);
  const sha = validSha(pr?.mergeSha) ?? ref.sha;
  const record: SourceRecord = {
    id: contentId('issue', n, contentHash),
    kind: 'issue',
    text,
    contentHash,
    provenance: provenanceAt(ref.repo, sha, { url: issue.html_url, prNumber: pr?.number, issueNumber: n, commentId: answerId }),
    code: null,
    redactions: [...kinds].sort(),
  };
  return { records: [record], resolution };
}
