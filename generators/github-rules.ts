// Rule templates: pull-request and issue SourceRecords → extractive candidate QAPairs that quote the
// record text (PR description, review comments, how an issue was resolved).
import type { GeneratorInfo, QAPair, SourceRecord } from '../datasets/schemas.js';
import { ASSOCIATIONS, COMMENT_LABEL, isMaintainer, proseLength, proseParagraphs } from '../extractors/github.js';
import { candidatePair } from './pair.js';

export const GITHUB_RULES: GeneratorInfo = { name: 'github-rules', version: '1.0.0', promptVersion: null, model: null };

const SUMMARY_PARAGRAPHS = 2;
const SUMMARY_CHARS = 1100;
const MIN_PROSE = 25;
const ROOT_CHARS = 800;
const REPLY_CHARS = 250;
const ANSWER_CHARS = 1100;
const FIX_CHARS = 400;
const TITLE_CHARS = 150;

// A PR author's reply that says what was done about the comment.
const DONE = /\b(?:done|fixed|updated|changed|removed|added|moved|renamed|addressed|applied|reverted|switched|replaced|refactored|good catch|good point)\b/i;

/** A title as questions quote it: short enough that the question stays under its length limit. */
const quoted = (title: string) => `"${title.length > TITLE_CHARS ? `${title.slice(0, TITLE_CHARS - 1).trimEnd()}…` : title}"`;

/**
 * A prefix of `text` of at most `max` chars, ending at a sentence end when one is near, else at a
 * space. Being a prefix, it stays a verbatim quote of the record.
 */
export function quotePrefix(text: string, max: number, sentences = Infinity): string {
  let end = 0;
  let count = 0;
  for (const m of text.matchAll(/[.!?](?=\s|$)/g)) {
    if (m.index + 1 > max) break;
    end = m.index + 1;
    if (++count >= sentences) break;
  }
  if (text.length <= max && count < sentences) return text.trim();
  if (end >= max / 3 || (end > 0 && count >= sentences)) return text.slice(0, end).trim();
  const space = text.lastIndexOf(' ', max);
  return text.slice(0, space > max / 2 ? space : max).trim();
}

/** The record's title from its first line ("PR #12: …", "Issue #3: …"), or null when it is not there. */
function titleAfter(text: string, prefix: string): string | null {
  const nl = text.indexOf('\n');
  const first = nl < 0 ? text : text.slice(0, nl);
  return first.startsWith(prefix) ? first.slice(prefix.length) : null;
}

export function pullRequestQuestions(rec: SourceRecord): QAPair[] {
  const n = rec.provenance.prNumber;
  if (rec.kind !== 'pull_request' || n === null) return [];
  const title = titleAfter(rec.text, `PR #${n}: `);
  if (title === null) return [];
  return rec.provenance.commentId === null ? summaryPairs(rec, n, title) : reviewPairs(rec, n, title);
}

/** The description's first prose paragraphs: what changed and, often in the next one, why. */
function summaryPairs(rec: SourceRecord, n: number, title: string): QAPair[] {
  const start = rec.text.indexOf('\n\n');
  if (start < 0) return [];
  let body = rec.text.slice(start + 2);
  const discussion = body.indexOf('\n\nDiscussion:\n');
  if (body.startsWith('Discussion:\n')) body = '';
  else if (discussion >= 0) body = body.slice(0, discussion);
  const paragraphs = proseParagraphs(body);
  if (!paragraphs.length || proseLength(paragraphs[0]!) < MIN_PROSE) return [];
  const evidence: string[] = [];
  let used = 0;
  for (const p of paragraphs.slice(0, SUMMARY_PARAGRAPHS)) {
    const q = quotePrefix(p, SUMMARY_CHARS - used);
    if (!q || (evidence.length && proseLength(q) < MIN_PROSE)) break;
    evidence.push(q);
    used += q.length + 2;
    if (q.length < p.length || used >= SUMMARY_CHARS / 2) break;
  }
  return [
    candidatePair(rec, GITHUB_RULES, {
      category: 'pr_summary',
      question: `What did PR #${n} (${quoted(title)}) change, and why?`,
      answer: evidence.join('\n\n'),
      evidence,
    }),
  ];
}

interface ThreadComment {
  association: string;
  byAuthor: boolean;
  body: string;
}

/** The comments of a review-thread record, split at their "<ASSOCIATION>: " labels. */
function threadComments(text: string): { location: string; lines: string; comments: ThreadComment[] } | null {
  const loc = /^Review comment on (.*?( lines? \d+(?:-\d+)?)?):$/.exec(text.split('\n', 2)[1] ?? '');
  if (!loc) return null;
  const starts = [...text.matchAll(new RegExp(`\\n\\n(?=(?:${ASSOCIATIONS.join('|')})(?: \\(PR author\\))?: )`, 'g'))].map((m) => m.index + 2);
  const comments = starts.map((s, i) => {
    const segment = text.slice(s, i + 1 < starts.length ? starts[i + 1]! - 2 : undefined);
    const m = COMMENT_LABEL.exec(segment)!;
    return { association: m[1]!, byAuthor: !!m[2], body: segment.slice(m[0].length) };
  });
  return comments.length ? { location: loc[1]!, lines: loc[2] ?? '', comments } : null;
}

/** What the root comment of a review thread pointed out, and the PR author's reply when it says what was done. */
function reviewPairs(rec: SourceRecord, n: number, title: string): QAPair[] {
  const thread = threadComments(rec.text);
  const path = rec.provenance.path;
  if (!thread || path === null) return [];
  const [root, ...replies] = thread.comments;
  // "nit", "LGTM", "+1", an emoji: too short to carry a point of their own.
  if (!root || proseLength(root.body) < MIN_PROSE) return [];
  const rootQuote = quotePrefix(root.body, ROOT_CHARS);
  const who = root.byAuthor ? 'The PR author' : isMaintainer(root.association) ? 'A maintainer' : 'A reviewer';
  let answer = `${who} commented on ${thread.location}:\n${rootQuote}`;
  const evidence = [thread.location, rootQuote];
  const reply = root.byAuthor ? undefined : replies.find((r) => r.byAuthor && (DONE.test(r.body) || proseLength(r.body) >= 40));
  if (reply) {
    const replyQuote = quotePrefix(reply.body, REPLY_CHARS);
    answer += `\nThe PR author replied:\n${replyQuote}`;
    evidence.push(replyQuote);
  }
  // The lines tell apart threads on one file of one PR.
  const about = `\`${path}\`${thread.lines}`;
  const question = root.byAuthor
    ? `What did the author of PR #${n} (${quoted(title)}) note about ${about}?`
    : `What did a reviewer point out about ${about} in PR #${n} (${quoted(title)})?`;
  return [candidatePair(rec, GITHUB_RULES, { category: 'review_comment', question, answer, evidence })];
}

/** How a resolved issue was resolved: the PR that fixed it (and which PR that was), or the maintainer's answer. */
export function issueQuestions(rec: SourceRecord): QAPair[] {
  const n = rec.provenance.issueNumber;
  if (rec.kind !== 'issue' || n === null) return [];
  const title = titleAfter(rec.text, `Issue #${n}: `);
  if (title === null) return [];
  const how = `How was issue #${n} (${quoted(title)}) resolved?`;
  const m = rec.provenance.prNumber;
  if (m !== null) {
    const marker = `\n\nResolved by PR #${m}: `;
    const at = rec.text.lastIndexOf(marker);
    if (at < 0) return [];
    const rest = rec.text.slice(at + marker.length);
    const nl = rest.indexOf('\n');
    const prTitle = nl < 0 ? rest : rest.slice(0, nl);
    const fix = nl < 0 ? '' : quotePrefix(rest.slice(nl + 1), FIX_CHARS, 2);
    const pr = `PR #${m}`;
    const evidence = [pr, prTitle];
    if (fix) evidence.push(fix);
    return [
      candidatePair(rec, GITHUB_RULES, {
        category: 'issue_resolution',
        question: how,
        answer: `It was fixed by ${pr} ("${prTitle}")${fix ? `: ${fix}` : '.'}`,
        evidence,
      }),
      candidatePair(rec, GITHUB_RULES, {
        category: 'issue_resolution',
        question: `Which pull request fixed issue #${n} (${quoted(title)})?`,
        answer: `${pr} ("${prTitle}").`,
        evidence: [pr, prTitle],
      }),
    ];
  }
  const marker = '\n\nMaintainer answer:\n';
  const at = rec.text.lastIndexOf(marker);
  if (at < 0) return [];
  const answer = quotePrefix(rec.text.slice(at + marker.length), ANSWER_CHARS);
  if (proseLength(answer) < MIN_PROSE) return [];
  return [candidatePair(rec, GITHUB_RULES, { category: 'issue_resolution', question: how, answer: `A maintainer answered:\n${answer}`, evidence: [answer] })];
}
