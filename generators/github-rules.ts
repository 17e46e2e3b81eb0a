// Rule templates: pull-request and issue SourceRecords → extractive candidate QAPairs that quote the
// record text (PR description, review comments, how an issue was resolved).
import type { GeneratorInfo, QAPair, RecordFacts, SourceRecord } from '../datasets/schemas.js';
import { isMaintainer, proseLength, proseParagraphs } from '../extractors/github.js';
import { candidatePair, phrasing } from './pair.js';

export const GITHUB_RULES: GeneratorInfo = { name: 'github-rules', version: '1.1.0', promptVersion: null, model: null };

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

// The extractor's facts (datasets/schemas.ts), not the text parsed back: a record without them (one
// read back from the stores) makes no rule pairs.
export function pullRequestQuestions(rec: SourceRecord): QAPair[] {
  const n = rec.provenance.prNumber;
  if (rec.kind !== 'pull_request' || n === null) return [];
  const f = rec.facts;
  if (f?.type === 'pull_request' && rec.provenance.commentId === null) return summaryPairs(rec, n, f.title, f.body);
  if (f?.type === 'review_thread' && rec.provenance.commentId !== null) return reviewPairs(rec, n, f);
  return [];
}

/** The description's first prose paragraphs: what changed and, often in the next one, why. */
function summaryPairs(rec: SourceRecord, n: number, title: string, body: string): QAPair[] {
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
      question: phrasing(`pr:${n}:pr_summary`, summaryQuestions(n, quoted(title))),
      answer: evidence.join('\n\n'),
      evidence,
    }),
  ];
}

/** What the root comment of a review thread pointed out, and the PR author's reply when it says what was done. */
function reviewPairs(rec: SourceRecord, n: number, thread: Extract<RecordFacts, { type: 'review_thread' }>): QAPair[] {
  const path = rec.provenance.path;
  if (path === null) return [];
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
  const question = phrasing(`pr:${n}:review_comment:${rec.provenance.commentId}`, (root.byAuthor ? authorNoteQuestions : reviewQuestions)(n, quoted(thread.title), about));
  return [candidatePair(rec, GITHUB_RULES, { category: 'review_comment', question, answer, evidence })];
}

// Question wordings, one set per kind of pair; phrasing() picks one by a stable key. They differ
// outside the quoted title, numbers and `code`, so that the corpus does not fall into a few templates.
const summaryQuestions = (n: number, t: string) => [
  `What did PR #${n} (${t}) change, and why?`,
  `What does PR #${n}, ${t}, do?`,
  `Why was PR #${n} (${t}) opened, and what does it change?`,
  `What problem does PR #${n} (${t}) solve?`,
  `Can you summarize the change in PR #${n} (${t})?`,
  `What was the motivation for PR #${n} (${t}), and what did it do?`,
  `Give an overview of PR #${n}, ${t}: what changed and why?`,
  `What is PR #${n} (${t}) about?`,
];
const reviewQuestions = (n: number, t: string, about: string) => [
  `What did a reviewer point out about ${about} in PR #${n} (${t})?`,
  `What review feedback did ${about} get in PR #${n} (${t})?`,
  `In PR #${n} (${t}), what concern was raised about ${about}?`,
  `What did the review of PR #${n} (${t}) ask to change in ${about}?`,
  `What came up in code review on ${about} in PR #${n} (${t})?`,
  `During review of PR #${n} (${t}), what was said about ${about}?`,
  `Why was ${about} questioned when PR #${n} (${t}) was reviewed?`,
];
const authorNoteQuestions = (n: number, t: string, about: string) => [
  `What did the author of PR #${n} (${t}) note about ${about}?`,
  `What did the PR author explain about ${about} in PR #${n} (${t})?`,
  `In PR #${n} (${t}), what note did the author leave on ${about}?`,
  `Why did the author of PR #${n} (${t}) comment on ${about}?`,
  `What does the author's review note on ${about} say in PR #${n} (${t})?`,
  `What context did the author of PR #${n} (${t}) give for ${about}?`,
];
const resolvedQuestions = (n: number, t: string) => [
  `How was issue #${n} (${t}) resolved?`,
  `How was ${t} (issue #${n}) fixed?`,
  `What resolved issue #${n}, ${t}?`,
  `Issue #${n} reports ${t}. What was the resolution?`,
  `I'm running into issue #${n} (${t}). How do I fix it?`,
  `What was the outcome of issue #${n} (${t})?`,
  `Is there a fix or workaround for issue #${n}, ${t}?`,
  `What is the solution to issue #${n} (${t})?`,
];
// Titles that name an error or a failure get questions about the error too.
const ERROR_TITLE = /\b(?:\w+(?:Error|Exception|Warning)\b|error|fails?|failing|crash(?:es)?|hangs?|broken|out of memory|OOM|NaN|wrong|ignores?|not work)/i;
const errorQuestions = (n: number, t: string) => [
  `What is the fix for the error in issue #${n} (${t})?`,
  `Why does ${t} happen (issue #${n}), and how do I fix it?`,
  `How do I get past ${t}, as reported in issue #${n}?`,
  `What causes the failure in issue #${n} (${t}), and what fixes it?`,
];
const whichPrQuestions = (n: number, t: string) => [
  `Which pull request fixed issue #${n} (${t})?`,
  `What PR closed issue #${n}, ${t}?`,
  `Which change resolved issue #${n} (${t})?`,
  `Where was issue #${n} (${t}) fixed?`,
  `What is the number of the PR that fixed issue #${n} (${t})?`,
  `Issue #${n} (${t}) was fixed by which PR?`,
];
const whichCommitQuestions = (n: number, t: string) => [
  `Which commit fixed issue #${n} (${t})?`,
  `What commit resolved issue #${n}, ${t}?`,
  `In which commit was issue #${n} (${t}) fixed?`,
  `Issue #${n} (${t}) was fixed by which commit?`,
  `What is the commit that closed issue #${n} (${t})?`,
  `Which change in the git history fixed issue #${n} (${t})?`,
];

// Who wrote each kind of answer an issue record quotes (extractors/github.ts issueRecords).
const ANSWERS: Record<string, string> = {
  'Maintainer answer:': 'A maintainer answered',
  'Contributor answer:': 'A contributor answered',
  "Issue author's fix:": 'The issue author found the fix',
};

/**
 * How a resolved issue was resolved: the answer the thread settled on, and the PR or commit that
 * fixed it (and which one that was).
 */
export function issueQuestions(rec: SourceRecord): QAPair[] {
  const n = rec.provenance.issueNumber;
  if (rec.kind !== 'issue' || n === null) return [];
  const f = rec.facts;
  if (f?.type !== 'issue') return [];
  const { title } = f;
  const t = quoted(title);
  const how = phrasing(`issue:${n}:issue_resolution`, ERROR_TITLE.test(title) ? [...resolvedQuestions(n, t), ...errorQuestions(n, t)] : resolvedQuestions(n, t));
  const out: QAPair[] = [];
  const pair = (question: string, answer: string, evidence: string[]) => out.push(candidatePair(rec, GITHUB_RULES, { category: 'issue_resolution', question, answer, evidence }));

  const who = f.answer ? ANSWERS[f.answer.heading] : undefined;
  if (f.answer && who) {
    const answer = quotePrefix(f.answer.body, ANSWER_CHARS);
    if (proseLength(answer) >= MIN_PROSE) pair(how, `${who}:\n${answer}`, [answer]);
  }

  // "Resolved by PR #12: <title>\n<first paragraph>" or "Resolved by commit <sha>: <subject>\n<…>".
  if (!f.fix) return out;
  const { what, title: fixTitle, detail: rest } = f.fix;
  const isPr = what.startsWith('PR');
  if (isPr && rec.provenance.prNumber === null) return out;
  const by = isPr ? what : `commit ${what.slice(7, 19)}`;
  const quote = rest ? quotePrefix(rest, FIX_CHARS, 2) : '';
  const evidence = [isPr ? what : what.slice(7, 19), fixTitle];
  // With an answer already quoted, the fix pair asks which change it was; else it also says how.
  if (!out.length) pair(how, `It was fixed by ${by} ("${fixTitle}")${quote ? `: ${quote}` : '.'}`, quote ? [...evidence, quote] : evidence);
  const which = phrasing(`issue:${n}:issue_resolution:which`, (isPr ? whichPrQuestions : whichCommitQuestions)(n, t));
  pair(which, `${isPr ? what : `Commit ${what.slice(7)}`} ("${fixTitle}").`, evidence);
  return out;
}
