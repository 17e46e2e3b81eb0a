import type { components } from '@octokit/openapi-types';
import { describe, expect, it } from 'vitest';
import type { QAPair } from '../datasets/schemas.js';
import type { RepoRef } from '../extractors/code-records.js';
import { GhIssue, GhIssueComment, GhReviewComment, issueRecords, pullRequestRecords } from '../extractors/github.js';
import { FAKE_TOKEN } from '../test/fixtures.js';
import { failedReasons, validateCandidate } from '../validators/checks.js';
import { GITHUB_RULES, issueQuestions, pullRequestQuestions, quotePrefix } from './github-rules.js';
import { makeUser } from '../test/github/fixture.js';

type S = components['schemas'];
type Association = S['author-association'];

// Items carry the fields GitHub's REST API returns that the extractors read, plus a few they do not.
const API = 'https://api.github.com/repos/acme/widgets';
const WEB = 'https://github.com/acme/widgets';
const MERGE = '5d1e2f0c'.repeat(5);
const REF: RepoRef = { repo: 'acme/widgets', sha: 'a'.repeat(40), webUrl: WEB };
const user = (login: string, id: number, type: 'User' | 'Bot' = 'User'): S['simple-user'] => makeUser(login, type, id);
const AUTHOR = user('dana-dev', 501);
const MAINT = user('bob-maint', 502);
const CAROL = user('carol', 503);

const issueItem = (number: number, title: string, body: string | null, author: S['simple-user'], association: Association, pr?: { merged_at: string | null }) =>
  GhIssue.parse({
    id: 2_000_000 + number,
    node_id: `I_${number}`,
    url: `${API}/issues/${number}`,
    html_url: `${WEB}/${pr ? 'pull' : 'issues'}/${number}`,
    number,
    state: 'closed',
    state_reason: pr ? null : 'completed',
    title,
    body,
    user: author,
    labels: [],
    comments: 2,
    author_association: association,
    created_at: '2024-02-20T08:00:00Z',
    updated_at: '2024-03-02T10:00:05Z',
    closed_at: '2024-03-02T10:00:05Z',
    ...(pr && {
      pull_request: { url: `${API}/pulls/${number}`, html_url: `${WEB}/pull/${number}`, diff_url: null, patch_url: null, merged_at: pr.merged_at },
    }),
  } satisfies Partial<S['issue']>);

const comment = (id: number, target: number, author: S['simple-user'], association: Association, body: string, at: string) =>
  GhIssueComment.parse({
    id,
    node_id: `IC_${id}`,
    url: `${API}/issues/comments/${id}`,
    html_url: `${WEB}/issues/${target}#issuecomment-${id}`,
    issue_url: `${API}/issues/${target}`,
    body,
    user: author,
    author_association: association,
    created_at: at,
    updated_at: at,
  } satisfies Partial<S['issue-comment']>);

const review = (id: number, author: S['simple-user'], association: Association, body: string, at: Partial<S['pull-request-review-comment']> & { path: string; created_at: string }) =>
  GhReviewComment.parse({
    id,
    node_id: `PRRC_${id}`,
    url: `${API}/pulls/comments/${id}`,
    pull_request_review_id: 9_000_000 + id,
    html_url: `${WEB}/pull/412#discussion_r${id}`,
    pull_request_url: `${API}/pulls/412`,
    diff_hunk: '@@ -74,6 +74,8 @@ class Client:\n             try:\n                 return self._get(url, deadline)\n-            except OSError:\n+            except TimeoutError:\n+                raise FetchTimeout(url)\n+            except OSError:',
    commit_id: 'b'.repeat(40),
    original_commit_id: 'c'.repeat(40),
    user: author,
    body,
    author_association: association,
    side: 'RIGHT',
    subject_type: 'line',
    updated_at: at.created_at,
    ...at,
  } satisfies Partial<S['pull-request-review-comment']>);

const PR_TITLE = 'Add `timeout` option to `Client.fetch`';
const SUMMARY_1 =
  '`Client.fetch` could hang forever when the server stopped answering mid-response. This PR adds a `timeout` argument (seconds, default 30) and raises `FetchTimeout` when it expires.';
const SUMMARY_2 = 'The old behaviour is kept with `timeout=None`, so existing callers that stream large files are unaffected.';
const PR_BODY = [
  '# What does this PR do?',
  '<!-- Describe your change and link the issue it fixes. -->',
  SUMMARY_1,
  '',
  SUMMARY_2,
  '',
  'Fixes #398',
  '',
  '## Before submitting',
  '- [x] Did you read the contributor guideline?',
  '- [ ] Did you write any new necessary tests?',
  '',
  '## Who can review?',
  '@bob-maint',
].join('\r\n');
const ROOT_A =
  'This catches `TimeoutError`, but `socket.timeout` is only an alias of it from Python 3.10 on. Since we still support 3.9, please catch both.';
const REPLY_A = 'Good point, done in 5d1e2f0: both are caught now.';
const NOTE_D = 'Kept the `OSError` branch on purpose: connection resets should still be retried with backoff.';

const prRecords = () =>
  pullRequestRecords({
    pr: issueItem(412, PR_TITLE, PR_BODY, AUTHOR, 'CONTRIBUTOR', { merged_at: '2024-03-02T10:00:00Z' }),
    comments: [comment(7002, 412, MAINT, 'MEMBER', 'Thanks for the thorough fix! The integration suite no longer hangs on the stalled server.', '2024-03-01T12:00:00Z')],
    reviewComments: [
      review(8001, MAINT, 'MEMBER', ROOT_A, { path: 'src/widgets/client.py', line: 77, start_line: 76, original_line: 77, created_at: '2024-02-26T10:00:00Z' }),
      review(8002, AUTHOR, 'CONTRIBUTOR', REPLY_A, { path: 'src/widgets/client.py', line: 77, in_reply_to_id: 8001, created_at: '2024-02-27T10:00:00Z' }),
      review(8003, CAROL, 'COLLABORATOR', 'nit: trailing space', { path: 'src/widgets/client.py', line: 79, original_line: 79, created_at: '2024-02-26T11:00:00Z' }),
      review(8004, CAROL, 'COLLABORATOR', 'LGTM 👍', { path: 'tests/test_client.py', original_line: 36, created_at: '2024-02-26T11:30:00Z' }),
      review(8005, AUTHOR, 'CONTRIBUTOR', NOTE_D, { path: 'src/widgets/client.py', line: 80, original_line: 80, created_at: '2024-02-25T09:00:00Z' }),
    ],
    mergeSha: MERGE,
    ref: REF,
  });

const validated = (pairs: QAPair[]) => pairs.map((p) => validateCandidate(p));
const noFailures = (pairs: QAPair[]) => expect(validated(pairs).flatMap((p) => failedReasons(p).map((r) => `${p.question}: ${r}`))).toEqual([]);

describe('pullRequestQuestions', () => {
  it('summarises the PR from its first prose paragraphs, skipping the template', () => {
    const [pr] = prRecords();
    const pairs = pullRequestQuestions(pr!);
    expect(pairs).toHaveLength(1);
    expect(pairs[0]).toMatchObject({
      category: 'pr_summary',
      question: 'What did PR #412 ("Add `timeout` option to `Client.fetch`") change, and why?',
      answer: `${SUMMARY_1}\n\n${SUMMARY_2}`,
      evidence: [SUMMARY_1, SUMMARY_2],
      context: pr!.text,
      sourceId: pr!.id,
      sourceKind: 'pull_request',
      splitGroup: 'pr:412',
      generator: GITHUB_RULES,
    });
    noFailures(pairs);
  });

  it("quotes a review thread's point and the author's reply, and skips trivial comments", () => {
    const threads = prRecords().slice(1);
    // Roots in time order: the author's note, the reviewer's point, then the nit and the LGTM.
    expect(threads.map((r) => r.provenance.commentId)).toEqual([8005, 8001, 8003, 8004]);
    const pairs = threads.flatMap(pullRequestQuestions);
    expect(pairs.map((p) => [p.question, p.answer, p.evidence, p.category, p.provenance.commentId])).toEqual([
      [
        'What did the author of PR #412 ("Add `timeout` option to `Client.fetch`") note about `src/widgets/client.py` line 80?',
        `The PR author commented on src/widgets/client.py line 80:\n${NOTE_D}`,
        ['src/widgets/client.py line 80', NOTE_D],
        'review_comment',
        8005,
      ],
      [
        'In PR #412 ("Add `timeout` option to `Client.fetch`"), what concern was raised about `src/widgets/client.py` lines 76-77?',
        `A maintainer commented on src/widgets/client.py lines 76-77:\n${ROOT_A}\nThe PR author replied:\n${REPLY_A}`,
        ['src/widgets/client.py lines 76-77', ROOT_A, REPLY_A],
        'review_comment',
        8001,
      ],
    ]);
    expect(new Set(pairs.map((p) => p.splitGroup))).toEqual(new Set(['pr:412']));
    noFailures(pairs);
  });

  it('asks nothing of a PR whose body is only template, or of records of other kinds', () => {
    const template = '<!-- Describe your change -->\r\n\r\nFixes # (issue)\r\n\r\n## Before submitting\r\n- [ ] Did you write any new necessary tests?';
    const [bare] = pullRequestRecords({
      pr: issueItem(420, 'Fix typo in README', template, AUTHOR, 'CONTRIBUTOR', { merged_at: '2024-03-03T00:00:00Z' }),
      comments: [],
      reviewComments: [],
      mergeSha: MERGE,
      ref: REF,
    });
    expect(bare!.text).toBe('PR #420: Fix typo in README\nMerged: 2024-03-03T00:00:00Z');
    expect(pullRequestQuestions(bare!)).toEqual([]);
    // A body that only points at issues says nothing about the change either.
    const [refsOnly] = pullRequestRecords({
      pr: issueItem(421, 'Bump the pinned ruff', 'Closes #400', AUTHOR, 'CONTRIBUTOR', { merged_at: '2024-03-03T00:00:00Z' }),
      comments: [],
      reviewComments: [],
      mergeSha: MERGE,
      ref: REF,
    });
    expect(refsOnly!.text).toBe('PR #421: Bump the pinned ruff\nMerged: 2024-03-03T00:00:00Z\nCloses: #400\n\nCloses #400');
    expect(pullRequestQuestions(refsOnly!)).toEqual([]);
    expect(pullRequestQuestions({ ...refsOnly!, kind: 'issue' })).toEqual([]);
  });
  it('keeps questions under the length limit for the longest titles', () => {
    const title = `Refactor ${'the retry and timeout handling of '.repeat(8)}the client`.slice(0, 256);
    const path = `src/widgets/${'transport/'.repeat(8)}http_client.py`;
    const recs = pullRequestRecords({
      pr: issueItem(99_999, title, SUMMARY_1, AUTHOR, 'CONTRIBUTOR', { merged_at: '2024-03-03T00:00:00Z' }),
      comments: [],
      reviewComments: [review(8100, MAINT, 'MEMBER', ROOT_A, { path, line: 1234, start_line: 1200, created_at: '2024-02-26T10:00:00Z' })],
      mergeSha: MERGE,
      ref: REF,
    });
    const pairs = recs.flatMap(pullRequestQuestions);
    expect(pairs.map((p) => p.category)).toEqual(['pr_summary', 'review_comment']);
    expect(pairs[1]!.question).toBe(`Why was \`${path}\` lines 1200-1234 questioned when PR #99999 ("${title.slice(0, 149).trimEnd()}…") was reviewed?`);
    for (const p of pairs) expect(p.question.length).toBeLessThanOrEqual(400);
    noFailures(pairs);
  });
});

describe('issueQuestions', () => {
  const FIX_REST = ' The old behaviour is kept with `timeout=None`.';
  const fixed = () =>
    issueRecords({
      issue: issueItem(398, 'Client.fetch hangs forever when the server stalls', 'Calling `Client("http://10.0.0.7:8080").fetch("/stall")` never returns.', CAROL, 'COLLABORATOR'),
      comments: [],
      closingPrs: [{ number: 412, title: PR_TITLE, body: `${PR_BODY.replace(SUMMARY_2, '')}`.replace(SUMMARY_1, SUMMARY_1 + FIX_REST), mergeSha: MERGE, mergedAt: '2024-03-02T10:00:00Z' }],
      ref: REF,
    }).records[0]!;

  it('names the fixing PR and quotes what it did', () => {
    const rec = fixed();
    expect(rec.text).toBe(
      `Issue #398: Client.fetch hangs forever when the server stalls\n\nCalling \`Client("http://10.0.0.7:8080").fetch("/stall")\` never returns.\n\nResolved by PR #412: ${PR_TITLE}\n${SUMMARY_1}${FIX_REST}`,
    );
    const pairs = issueQuestions(rec);
    expect(pairs.map((p) => [p.question, p.answer, p.evidence])).toEqual([
      [
        'What was the outcome of issue #398 ("Client.fetch hangs forever when the server stalls")?',
        // Two sentences of the PR's first paragraph; the third is left out.
        `It was fixed by PR #412 ("${PR_TITLE}"): ${SUMMARY_1}`,
        ['PR #412', PR_TITLE, SUMMARY_1],
      ],
      ['Where was issue #398 ("Client.fetch hangs forever when the server stalls") fixed?', `PR #412 ("${PR_TITLE}").`, ['PR #412', PR_TITLE]],
    ]);
    for (const p of pairs) expect(p).toMatchObject({ category: 'issue_resolution', sourceKind: 'issue', splitGroup: 'issue:398', provenance: { prNumber: 412, issueNumber: 398 } });
    noFailures(pairs);
  });

  const ANSWER =
    'Headers passed to `fetch()` apply to that request only, and redirects are new requests. Use `Client(default_headers={"User-Agent": "my-app/1.0"})`: default headers are sent with every request, redirects included.';
  const answered = (answer = ANSWER) =>
    issueRecords({
      issue: issueItem(403, 'How do I send a custom User-Agent on redirects?', 'Our proxy rejects requests without our User-Agent. How do I set it for every request?', user('erin', 504), 'NONE'),
      comments: [comment(7103, 403, MAINT, 'MEMBER', answer, '2024-02-22T08:00:00Z')],
      closingPrs: [],
      ref: REF,
    }).records[0]!;

  it("quotes the maintainer's answer", () => {
    const pairs = issueQuestions(answered());
    expect(pairs.map((p) => [p.question, p.answer, p.evidence, p.provenance.commentId])).toEqual([
      ['What is the solution to issue #403 ("How do I send a custom User-Agent on redirects?")?', `A maintainer answered:\n${ANSWER}`, [ANSWER], 7103],
    ]);
    noFailures(pairs);
  });

  it('keeps long answers under the cap, cut at a sentence end', () => {
    const sentence = 'Each retry waits twice as long as the one before it, up to the configured maximum. ';
    const long = sentence.repeat(20).trim();
    const [pair] = issueQuestions(answered(long));
    const quote = sentence.repeat(13).trim();
    expect(pair!.answer).toBe(`A maintainer answered:\n${quote}`);
    expect(pair!.answer.length).toBeLessThanOrEqual(1200);
    noFailures([pair!]);
  });

  it('draws pairs from a redacted record that the secret check then rejects', () => {
    const rec = answered(`Set the token in the environment, e.g. \`WIDGETS_TOKEN=${FAKE_TOKEN}\`, and the client sends it with every request.`);
    expect(rec.redactions).toEqual(['github_token']);
    expect(rec.text).not.toContain(FAKE_TOKEN);
    const [pair] = validated(issueQuestions(rec));
    expect(pair!.answer).toBe('A maintainer answered:\nSet the token in the environment, e.g. `WIDGETS_TOKEN=[REDACTED:github_token]`, and the client sends it with every request.');
    expect(failedReasons(pair!)).toEqual(['secret']);
  });
});

describe('question wordings', () => {
  // What phrasings share once code, quoted spans, shas and numbers are placeholders.
  const template = (q: string) => q.replace(/`[^`]*`/g, '<code>').replace(/"[^"]*"/g, '<quote>').replace(/\b[0-9a-f]{7,40}\b/g, '<sha>').replace(/\d+/g, '<n>');

  const REDIRECT_ANSWER = 'Use `Client(default_headers={"User-Agent": "my-app/1.0"})`: default headers are sent with every request, redirects included.';

  it('vary by a stable key, at least six per category, each naming the PR or issue', () => {
    const templates = new Map<string, Set<string>>();
    const see = (pairs: QAPair[]) => {
      for (const p of pairs) {
        expect(p.question).toMatch(/\b(?:PR|issue) #\d+/i);
        templates.set(p.category, (templates.get(p.category) ?? new Set()).add(template(p.question)));
      }
    };
    for (let n = 1000; n < 1060; n++) {
      const recs = pullRequestRecords({
        pr: issueItem(n, PR_TITLE, PR_BODY, AUTHOR, 'CONTRIBUTOR', { merged_at: '2024-03-02T10:00:00Z' }),
        comments: [],
        reviewComments: [review(8001, MAINT, 'MEMBER', ROOT_A, { path: 'src/widgets/client.py', line: 77, created_at: '2024-02-26T10:00:00Z' })],
        mergeSha: MERGE,
        ref: REF,
      });
      see(recs.flatMap(pullRequestQuestions));
      const issue = issueItem(n, 'How do I send a custom User-Agent on redirects?', 'Our proxy rejects requests without our User-Agent.', user('erin', 504), 'NONE');
      see(issueRecords({ issue, comments: [comment(7103, n, MAINT, 'MEMBER', REDIRECT_ANSWER, '2024-02-22T08:00:00Z')], closingPrs: [], ref: REF }).records.flatMap(issueQuestions));
    }
    expect(Object.fromEntries([...templates].map(([c, t]) => [c, t.size >= 6]))).toEqual({ pr_summary: true, review_comment: true, issue_resolution: true });
    // The same record always gets the same question.
    const [pr] = prRecords();
    expect(pullRequestQuestions(pr!)[0]!.question).toBe(pullRequestQuestions(pr!)[0]!.question);
  });
});

describe('issueQuestions for fixes the thread names', () => {
  const sha = '3f2a9c1d'.repeat(5);
  const question = () => issueItem(405, 'ValueError: redirect lost the User-Agent header', 'Redirects arrive without our User-Agent.', user('erin', 504), 'NONE');

  it('names the commit a "closed by <sha>" note points at', () => {
    const [rec] = issueRecords({
      issue: question(),
      comments: [comment(7132, 405, MAINT, 'MEMBER', 'Closed by 3f2a9c1.', '2024-03-02T10:00:00Z')],
      closingPrs: [],
      referencedCommits: [{ sha, subject: 'Send default headers on redirects', body: 'Redirects are new requests, so they now get the default headers too.' }],
      ref: REF,
    }).records;
    const pairs = issueQuestions(rec!);
    expect(pairs.map((p) => [p.answer, p.evidence])).toEqual([
      ['It was fixed by commit 3f2a9c1d3f2a ("Send default headers on redirects"): Redirects are new requests, so they now get the default headers too.', ['3f2a9c1d3f2a', 'Send default headers on redirects', 'Redirects are new requests, so they now get the default headers too.']],
      [`Commit ${sha} ("Send default headers on redirects").`, ['3f2a9c1d3f2a', 'Send default headers on redirects']],
    ]);
    noFailures(pairs);
  });

  it("quotes the asker's own fix", () => {
    const fix = 'Found it: the problem was our proxy stripping the header on redirects. Whitelisting `User-Agent` in the proxy config fixed it.';
    const [rec] = issueRecords({ issue: question(), comments: [comment(7120, 405, user('erin', 504), 'NONE', fix, '2024-02-22T09:00:00Z')], closingPrs: [], ref: REF }).records;
    const pairs = issueQuestions(rec!);
    expect(pairs.map((p) => [p.answer, p.evidence, p.provenance.commentId])).toEqual([[`The issue author found the fix:\n${fix}`, [fix], 7120]]);
    noFailures(pairs);
  });
});

describe('quotePrefix', () => {
  it('returns a prefix: whole when short, else up to a sentence end or a space', () => {
    const text = 'First sentence here. Second one follows. Third is last.';
    expect(quotePrefix(text, 100)).toBe(text);
    expect(quotePrefix(text, 100, 2)).toBe('First sentence here. Second one follows.');
    expect(quotePrefix(text, 45)).toBe('First sentence here. Second one follows.');
    expect(quotePrefix('no sentence ends in this rather long line of words', 20)).toBe('no sentence ends in');
    expect(quotePrefix('See v1.2 and `a.b()`. Done', 100, 1)).toBe('See v1.2 and `a.b()`.');
  });
});

