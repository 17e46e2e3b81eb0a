import type { components } from '@octokit/openapi-types';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SourceRecord } from '../datasets/schemas.js';
import { contentId } from '../lib/hash.js';
import { FAKE_TOKEN } from '../test/fixtures.js';
import type { RepoRef } from './code-records.js';
import { makeUser } from '../test/github/fixture.js';
import {
  cleanBody,
  commentTargetNumber,
  fixReferences,
  GhIssue,
  GhIssueComment,
  GhReviewComment,
  isMaintainer,
  issueRecords,
  linkedIssueNumbers,
  parseGhItem,
  pullRequestRecords,
} from './github.js';

type Issue = components['schemas']['issue'];
type IssueComment = components['schemas']['issue-comment'];
type ReviewComment = components['schemas']['pull-request-review-comment'];
type User = components['schemas']['simple-user'];
type Association = components['schemas']['author-association'];

// Fixtures typed as GitHub's REST objects, so their shape is checked against the OpenAPI description.
const API = 'https://api.github.com/repos/acme/widgets';
const WEB = 'https://github.com/acme/widgets';
const HEAD = 'aaaa'.repeat(10);
const MERGE = '5d1e2f0c'.repeat(5);
const REF: RepoRef = { repo: 'acme/widgets', sha: HEAD, webUrl: WEB };

const user = (login: string, id: number, type: 'User' | 'Bot' = 'User'): User => makeUser(login, type, id);
const AUTHOR = user('dana-dev', 501);
const MAINT = user('bob-maint', 502);
const CAROL = user('carol', 503);
const DOCS_BOT = user('github-actions[bot]', 41898282, 'Bot');

function issueItem(
  number: number,
  title: string,
  body: string | null,
  author: User | null,
  extra: Partial<Issue> & { author_association: Association },
): Issue {
  const isPr = extra.pull_request !== undefined;
  return {
    id: 2_000_000 + number,
    node_id: `I_${number}`,
    url: `${API}/issues/${number}`,
    repository_url: API,
    labels_url: `${API}/issues/${number}/labels{/name}`,
    comments_url: `${API}/issues/${number}/comments`,
    events_url: `${API}/issues/${number}/events`,
    html_url: `${WEB}/${isPr ? 'pull' : 'issues'}/${number}`,
    number,
    state: 'closed',
    state_reason: isPr ? null : 'completed',
    title,
    body,
    user: author,
    labels: [],
    assignee: null,
    assignees: [],
    milestone: null,
    locked: false,
    active_lock_reason: null,
    comments: 0,
    closed_at: '2024-03-02T10:00:05Z',
    created_at: '2024-02-20T08:00:00Z',
    updated_at: '2024-03-02T10:00:05Z',
    ...extra,
  };
}

function prPart(number: number, mergedAt: string | null): NonNullable<Issue['pull_request']> {
  return {
    url: `${API}/pulls/${number}`,
    html_url: `${WEB}/pull/${number}`,
    diff_url: `${WEB}/pull/${number}.diff`,
    patch_url: `${WEB}/pull/${number}.patch`,
    merged_at: mergedAt,
  };
}

function comment(id: number, target: number, author: User | null, association: Association, body: string, createdAt: string): IssueComment {
  return {
    id,
    node_id: `IC_${id}`,
    url: `${API}/issues/comments/${id}`,
    html_url: `${WEB}/issues/${target}#issuecomment-${id}`,
    body,
    user: author,
    created_at: createdAt,
    updated_at: createdAt,
    issue_url: `${API}/issues/${target}`,
    author_association: association,
    performed_via_github_app: null,
  };
}

function review(
  id: number,
  pr: number,
  author: User | null,
  association: Association,
  body: string,
  at: { path: string; diff_hunk: string; createdAt: string } & Partial<ReviewComment>,
): ReviewComment {
  const { path, diff_hunk, createdAt, ...rest } = at;
  return {
    url: `${API}/pulls/comments/${id}`,
    pull_request_review_id: 9_000_000 + id,
    id,
    node_id: `PRRC_${id}`,
    diff_hunk,
    path,
    commit_id: 'b'.repeat(40),
    original_commit_id: 'c'.repeat(40),
    user: author,
    body,
    created_at: createdAt,
    updated_at: createdAt,
    html_url: `${WEB}/pull/${pr}#discussion_r${id}`,
    pull_request_url: `${API}/pulls/${pr}`,
    author_association: association,
    _links: {
      self: { href: `${API}/pulls/comments/${id}` },
      html: { href: `${WEB}/pull/${pr}#discussion_r${id}` },
      pull_request: { href: `${API}/pulls/${pr}` },
    },
    side: 'RIGHT',
    subject_type: 'line',
    ...rest,
  };
}

// Items reach the extractors the way the pipeline hands them over: validated one by one.
const parse = <T>(schema: { parse: (x: unknown) => T }, x: unknown): T => schema.parse(x);

// A PR body as GitHub stores it: CRLF line ends, the repository's PR template half filled in.
const PR_BODY = [
  '# What does this PR do?',
  '',
  '<!--',
  "Congratulations! You've made it this far! You're not quite done yet though.",
  'Please describe your change and link the issue it fixes.',
  '-->',
  '',
  '`Client.fetch` could hang forever when the server stopped answering mid-response. This PR adds a `timeout` argument (seconds, default 30) and raises `FetchTimeout` when it expires.',
  '',
  'The old behaviour is kept with `timeout=None`, so existing callers that stream large files are unaffected.',
  '',
  '<!-- Remove if not applicable -->',
  '',
  'Fixes #398',
  'Also fixes acme/widgets#377, and closes https://github.com/acme/widgets/issues/360. Unrelated: fixes other/repo#5.',
  '',
  '```python',
  'client.fetch(url, timeout=5)  # fixes #999 is code, not a link',
  '```',
  '',
  '## Before submitting',
  "- [ ] This PR fixes a typo or improves the docs (you can dismiss the other checks if that's the case).",
  '- [x] Did you read the [contributor guideline](https://github.com/acme/widgets/blob/main/CONTRIBUTING.md),',
  '      Pull Request section?',
  '- [x] Did you write any new necessary tests?',
  '',
  '## Who can review?',
  '',
  'Anyone in the community is free to review the PR once the tests have passed. Feel free to tag',
  'members/contributors who may be interested in your PR.',
  '',
  '@bob-maint @carol',
].join('\r\n');

const PR_TITLE = 'Add `timeout` option to `Client.fetch`';
const MERGED_AT = '2024-03-02T10:00:00Z';

// 18 lines: the record keeps the @@ header and the last 15.
const HUNK_A = [
  '@@ -70,12 +70,24 @@ class Client:',
  '     def fetch(self, url, timeout=30):',
  '         """Fetch `url`, giving up after `timeout` seconds."""',
  '         deadline = time.monotonic() + timeout',
  '         for attempt in range(self.retries):',
  '             try:',
  '                 return self._get(url, deadline)',
  '-            except OSError:',
  '+            except TimeoutError:',
  '+                raise FetchTimeout(url)',
  '+            except OSError:',
  '                 if attempt == self.retries - 1:',
  '                     raise',
  '                 time.sleep(self.backoff)',
  '         raise FetchTimeout(url)',
  ' ',
  '     def close(self):',
  '         self._session.close()',
].join('\n');

const HUNK_B = [
  '@@ -30,6 +30,12 @@ def test_fetch_retries(server):',
  ' ',
  '+def test_fetch_times_out(stalled_server):',
  '+    client = Client(stalled_server.url)',
  '+    try:',
  '+        client.fetch("/slow", timeout=0.01)',
  '+    except FetchTimeout:',
  '+        pass',
].join('\n');

const ROOT_A =
  'This catches `TimeoutError`, but `socket.timeout` is only an alias of it from Python 3.10 on. Since we still support 3.9, please catch both.';
const ROOT_B =
  '```suggestion\n    with pytest.raises(FetchTimeout):\n        client.fetch("/slow", timeout=0.01)\n```\nUsing `pytest.raises` keeps the test from passing when no error is raised at all.';

const mergedPr = () =>
  parse(
    GhIssue,
    issueItem(412, PR_TITLE, PR_BODY, AUTHOR, { author_association: 'CONTRIBUTOR', pull_request: prPart(412, MERGED_AT) }),
  );
const prComments = () =>
  [
    comment(7001, 412, DOCS_BOT, 'NONE', 'The docs for this PR live [here](https://moon-ci-docs.acme.dev/docs/widgets/pr_412). All of your documentation changes will be reflected on that endpoint.', '2024-02-25T09:00:00Z'),
    comment(7002, 412, MAINT, 'MEMBER', 'Thanks for the thorough fix! I ran the integration suite against the flaky staging server and it no longer hangs.', '2024-03-01T12:00:00Z'),
    comment(7003, 412, AUTHOR, 'CONTRIBUTOR', '@bob-maint thanks!', '2024-03-01T12:30:00Z'),
  ].map((c) => parse(GhIssueComment, c));
const prReviews = () =>
  [
    // Listed out of order, as pages of /pulls/comments can be.
    review(8002, 412, AUTHOR, 'CONTRIBUTOR', 'Good point, done in 5d1e2f0: both are caught now.', {
      path: 'src/widgets/client.py',
      diff_hunk: HUNK_A,
      createdAt: '2024-02-27T10:00:00Z',
      in_reply_to_id: 8001,
      line: 88,
      original_line: 79,
    }),
    review(8001, 412, MAINT, 'MEMBER', ROOT_A, { path: 'src/widgets/client.py', diff_hunk: HUNK_A, createdAt: '2024-02-26T10:00:00Z', line: 88, original_line: 79 }),
    // Outdated: the lines changed after the comment, so only the original position is known.
    review(8003, 412, CAROL, 'COLLABORATOR', ROOT_B, {
      path: 'tests/test_client.py',
      diff_hunk: HUNK_B,
      createdAt: '2024-02-26T11:00:00Z',
      start_line: null,
      original_start_line: 33,
      original_line: 36,
    }),
    review(8004, 412, user('codecov[bot]', 22429695, 'Bot'), 'NONE', 'Added line #L80 was not covered by tests', {
      path: 'src/widgets/client.py',
      diff_hunk: HUNK_A,
      createdAt: '2024-02-26T12:00:00Z',
      line: 80,
      original_line: 80,
    }),
  ].map((c) => parse(GhReviewComment, c));

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('linkedIssueNumbers', () => {
  it("reads GitHub's closing keywords for this repository, in order, once each, outside code", () => {
    const repo = { owner: 'acme', name: 'widgets' };
    expect(linkedIssueNumbers(PR_BODY, repo)).toEqual([398, 377, 360]);
    expect(linkedIssueNumbers('Fixes #1, fixes #2 and RESOLVED: #3; closes #1', repo)).toEqual([1, 2, 3]);
    // As on GitHub, each issue needs its own keyword.
    expect(linkedIssueNumbers('Fixes #1, #2', repo)).toEqual([1]);
    expect(linkedIssueNumbers('Closes ACME/Widgets#8 and fixes https://github.com/acme/widgets/issues/9#issuecomment-1', repo)).toEqual([8, 9]);
    expect(linkedIssueNumbers('Prefixes #4, unfixed #5, fixes #6abc, see #7, `fixes #8`, <!-- fixes #9 -->', repo)).toEqual([]);
    expect(linkedIssueNumbers('~~~\nfixes #10\n~~~\nfix: #11', repo)).toEqual([11]);
    // Triple backticks within one line are inline code, not a fence that hides the rest.
    expect(linkedIssueNumbers('```make test``` runs them all.\nFixes #12', repo)).toEqual([12]);
    // Without knowing the repository, only bare #n references count.
    expect(linkedIssueNumbers('fixes acme/widgets#8, closes #12')).toEqual([12]);
    expect(linkedIssueNumbers(null)).toEqual([]);
  });
});

describe('API item schemas', () => {
  it('accept real items, keep unknown keys, and allow null bodies and ghost users', () => {
    const item = issueItem(5, 'Ghost issue', null, null, { author_association: 'NONE' });
    const r = parseGhItem(GhIssue, item, 'issue');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.user).toBeNull();
    expect(r.value.body).toBeNull();
    expect(r.value.node_id).toBe('I_5');
    expect(commentTargetNumber(parse(GhReviewComment, prReviews()[0]))).toBe(412);
    expect(commentTargetNumber(prComments()[1]!)).toBe(412);
  });

  it('report a malformed item with a clear reason instead of throwing', () => {
    const { number: _dropped, ...noNumber } = issueItem(6, 'No number', 'body', AUTHOR, { author_association: 'NONE' });
    expect(parseGhItem(GhIssue, noNumber, 'issue')).toEqual({
      ok: false,
      detail: `issue id 2000006 (${WEB}/issues/6): number: Invalid input: expected number, received undefined`,
    });
    expect(parseGhItem(GhReviewComment, { id: 12, path: 7, html_url: `${WEB}/pull/9#discussion_r12`, created_at: '2024-01-01T00:00:00Z', updated_at: '2024-01-01T00:00:00Z', user: null }, 'review comment')).toEqual({
      ok: false,
      detail: `review comment id 12 (${WEB}/pull/9#discussion_r12): path: Invalid input: expected string, received number`,
    });
    expect(parseGhItem(GhIssueComment, 'oops', 'comment')).toEqual({
      ok: false,
      detail: 'comment: (item): Invalid input: expected object, received string',
    });
  });

  it('tell maintainers by author association', () => {
    expect(['OWNER', 'MEMBER', 'COLLABORATOR', 'member'].map(isMaintainer)).toEqual([true, true, true, true]);
    expect(['CONTRIBUTOR', 'NONE', 'FIRST_TIME_CONTRIBUTOR', null, undefined].map(isMaintainer)).toEqual([false, false, false, false, false]);
  });
});

describe('cleanBody', () => {
  it('drops template comments, checklists, placeholders and ping lists, and keeps prose and code', () => {
    expect(cleanBody(PR_BODY)).toBe(
      [
        '`Client.fetch` could hang forever when the server stopped answering mid-response. This PR adds a `timeout` argument (seconds, default 30) and raises `FetchTimeout` when it expires.',
        '',
        'The old behaviour is kept with `timeout=None`, so existing callers that stream large files are unaffected.',
        '',
        'Fixes #398',
        'Also fixes acme/widgets#377, and closes https://github.com/acme/widgets/issues/360. Unrelated: fixes other/repo#5.',
        '',
        '```python',
        'client.fetch(url, timeout=5)  # fixes #999 is code, not a link',
        '```',
      ].join('\n'),
    );
    const filled = '## Motivation\n\nUsers asked for it.\n\n## Checklist\n- [x] I have added tests\n\n## Tasks\n- [x] port the CLI\n- [ ] Fixes # (issue)\n\ncc @alice, @bob';
    expect(cleanBody(filled)).toBe('## Motivation\n\nUsers asked for it.\n\n## Tasks\n- [x] port the CLI');
    expect(cleanBody('<!-- only a template -->\r\n\r\n## Before submitting\r\n- [ ] Did you write tests?')).toBe('');
  });

  it('caps long bodies on a paragraph boundary', () => {
    const para = 'word '.repeat(150).trim();
    const capped = cleanBody([para, para, para].join('\n\n'), 1000);
    expect(capped).toBe(`${para}\n[…]`);
  });
});

describe('pullRequestRecords', () => {
  const records = () => pullRequestRecords({ pr: mergedPr(), comments: prComments(), reviewComments: prReviews(), mergeSha: MERGE, ref: REF });

  it('gives the PR and one record per human review thread, with exact texts', () => {
    const recs = records();
    expect(recs.map((r) => r.provenance.commentId)).toEqual([null, 8001, 8003]);
    for (const r of recs) expect(SourceRecord.parse(r)).toEqual(r);
    const [pr, a, b] = recs as [SourceRecord, SourceRecord, SourceRecord];
    expect(pr.text).toBe(
      [
        'PR #412: Add `timeout` option to `Client.fetch`',
        'Merged: 2024-03-02T10:00:00Z',
        'Closes: #398, #377, #360',
        '',
        cleanBody(PR_BODY),
        '',
        'Discussion:',
        'MEMBER: Thanks for the thorough fix! I ran the integration suite against the flaky staging server and it no longer hangs.',
      ].join('\n'),
    );
    expect(a.text).toBe(
      [
        'PR #412: Add `timeout` option to `Client.fetch`',
        'Review comment on src/widgets/client.py line 88:',
        '@@ -70,12 +70,24 @@ class Client:',
        ...HUNK_A.split('\n').slice(3),
        '',
        `MEMBER: ${ROOT_A}`,
        '',
        'CONTRIBUTOR (PR author): Good point, done in 5d1e2f0: both are caught now.',
      ].join('\n'),
    );
    expect(b.text).toBe(
      ['PR #412: Add `timeout` option to `Client.fetch`', 'Review comment on tests/test_client.py lines 33-36:', HUNK_B, '', `COLLABORATOR: ${ROOT_B}`].join('\n'),
    );
    // No logins, and nothing of the bots.
    for (const r of recs) expect(r.text).not.toMatch(/dana-dev|bob-maint|carol|codecov|docs for this PR|not covered/);
  });

  it('carries its structure as facts: title, description, and each thread comment with who wrote it', () => {
    const [pr, a, b] = records() as [SourceRecord, SourceRecord, SourceRecord];
    const title = 'Add `timeout` option to `Client.fetch`';
    expect(pr.facts).toEqual({ type: 'pull_request', number: 412, title, body: cleanBody(PR_BODY) });
    expect(a.facts).toEqual({
      type: 'review_thread',
      number: 412,
      title,
      location: 'src/widgets/client.py line 88',
      lines: ' line 88',
      comments: [
        { association: 'MEMBER', byAuthor: false, body: ROOT_A },
        { association: 'CONTRIBUTOR', byAuthor: true, body: 'Good point, done in 5d1e2f0: both are caught now.' },
      ],
    });
    expect(b.facts).toEqual({ type: 'review_thread', number: 412, title, location: 'tests/test_client.py lines 33-36', lines: ' lines 33-36', comments: [{ association: 'COLLABORATOR', byAuthor: false, body: ROOT_B }] });
  });

  it('ids hash kind, number, root comment and content; provenance points at the merge and the comment', () => {
    const [pr, a, b] = records() as [SourceRecord, SourceRecord, SourceRecord];
    expect(pr.id).toBe(contentId('pull_request', 412, '', sha256(pr.text)));
    expect(a.id).toBe(contentId('pull_request', 412, 8001, sha256(a.text)));
    expect(pr.contentHash).toBe(sha256(pr.text));
    expect(pr.provenance).toEqual({
      repo: 'acme/widgets',
      commitFirstSeen: MERGE,
      commitLastVerified: MERGE,
      path: null,
      startLine: null,
      endLine: null,
      qualname: null,
      url: `${WEB}/pull/412`,
      prNumber: 412,
      issueNumber: null,
      commentId: null,
    });
    expect(a.provenance).toMatchObject({ path: 'src/widgets/client.py', startLine: 88, endLine: 88, url: `${WEB}/pull/412#discussion_r8001`, commentId: 8001 });
    // An outdated comment has no current line.
    expect(b.provenance).toMatchObject({ path: 'tests/test_client.py', startLine: null, endLine: null, commentId: 8003 });
    expect(pr.redactions).toEqual([]);
    // Without a merge sha, HEAD at ingestion stands in; ids do not change with it.
    const atHead = pullRequestRecords({ pr: mergedPr(), comments: prComments(), reviewComments: prReviews(), mergeSha: null, ref: REF });
    expect(atHead.map((r) => r.provenance.commitFirstSeen)).toEqual([HEAD, HEAD, HEAD]);
    expect(atHead.map((r) => r.id)).toEqual([pr.id, a.id, b.id]);
  });

  it('gives nothing for a PR closed without merging, or authored by a bot', () => {
    const closed = parse(GhIssue, issueItem(415, 'Try a different retry policy', 'Superseded by #412.', AUTHOR, { author_association: 'CONTRIBUTOR', pull_request: prPart(415, null) }));
    expect(pullRequestRecords({ pr: closed, comments: [], reviewComments: [], mergeSha: null, ref: REF })).toEqual([]);
    const bump = parse(GhIssue, issueItem(416, 'Bump urllib3 from 2.0.6 to 2.0.7', 'Bumps urllib3.', user('dependabot[bot]', 49699333, 'Bot'), { author_association: 'CONTRIBUTOR', pull_request: prPart(416, MERGED_AT) }));
    expect(pullRequestRecords({ pr: bump, comments: [], reviewComments: [], mergeSha: MERGE, ref: REF })).toEqual([]);
  });

  it('redacts secrets in comments and records their kinds', () => {
    const leak = parse(
      GhIssueComment,
      comment(7010, 412, MAINT, 'MEMBER', `I reproduced it with GITHUB_TOKEN=${FAKE_TOKEN} against the staging API; mail ops.lead@acme-corp.io for access.`, '2024-03-01T13:00:00Z'),
    );
    const [pr] = pullRequestRecords({ pr: mergedPr(), comments: [leak], reviewComments: [], mergeSha: MERGE, ref: REF });
    expect(pr!.text.endsWith('MEMBER: I reproduced it with GITHUB_TOKEN=[REDACTED:github_token] against the staging API; mail [REDACTED:private_email] for access.')).toBe(true);
    expect(pr!.text).not.toContain(FAKE_TOKEN);
    expect(pr!.redactions).toEqual(['github_token', 'private_email']);
    // Kinds count only for text the record keeps: a fourth comment is past the discussion's three.
    const later = (id: number, body: string) => parse(GhIssueComment, comment(id, 412, MAINT, 'MEMBER', body, `2024-03-01T1${id - 7020}:00:00Z`));
    const busy = [1, 2, 3].map((i) => later(7020 + i, `Follow-up number ${i}: the staging run still looks good after the rebase.`));
    const [quiet] = pullRequestRecords({ pr: mergedPr(), comments: [...busy, later(7024, `Rotated the old one: ${FAKE_TOKEN} is revoked now.`)], reviewComments: [], mergeSha: MERGE, ref: REF });
    expect(quiet!.text).toContain('Follow-up number 3');
    expect(quiet!.redactions).toEqual([]);
  });
});

const ISSUE_BODY = [
  '### System Info',
  '',
  '- widgets version: 2.3.1',
  '- Python 3.9.18',
  '',
  '### Reproduction',
  '',
  '```python',
  'from widgets import Client',
  'Client("http://10.0.0.7:8080").fetch("/stall")  # never returns',
  '```',
  '',
  '### Expected behavior',
  '',
  'fetch should give up after a while instead of blocking the worker forever.',
].join('\r\n');

describe('issueRecords', () => {
  const fixedIssue = () => parse(GhIssue, issueItem(398, 'Client.fetch hangs forever when the server stalls', ISSUE_BODY, CAROL, { author_association: 'COLLABORATOR' }));
  const closing = (mergeSha: string | null = MERGE) => ({ number: 412, title: PR_TITLE, body: PR_BODY, mergeSha, mergedAt: MERGED_AT });

  it('records an issue fixed by a merged PR', () => {
    // The pipeline finds closing PRs by the references in merged PR bodies.
    expect(linkedIssueNumbers(PR_BODY, { owner: 'acme', name: 'widgets' })).toContain(398);
    const { records, resolution } = issueRecords({ issue: fixedIssue(), comments: [], closingPrs: [closing()], ref: REF });
    expect(resolution).toBe('pull_request');
    expect(records).toHaveLength(1);
    const rec = records[0]!;
    expect(rec.text).toBe(
      [
        'Issue #398: Client.fetch hangs forever when the server stalls',
        '',
        ISSUE_BODY.replaceAll('\r\n', '\n'),
        '',
        'Resolved by PR #412: Add `timeout` option to `Client.fetch`',
        '`Client.fetch` could hang forever when the server stopped answering mid-response. This PR adds a `timeout` argument (seconds, default 30) and raises `FetchTimeout` when it expires.',
      ].join('\n'),
    );
    expect(rec.facts).toEqual({
      type: 'issue',
      number: 398,
      title: 'Client.fetch hangs forever when the server stalls',
      answer: null,
      fix: {
        what: 'PR #412',
        title: 'Add `timeout` option to `Client.fetch`',
        detail: '`Client.fetch` could hang forever when the server stopped answering mid-response. This PR adds a `timeout` argument (seconds, default 30) and raises `FetchTimeout` when it expires.',
      },
    });
    expect(rec.id).toBe(contentId('issue', 398, sha256(rec.text)));
    expect(SourceRecord.parse(rec)).toEqual(rec);
    expect(rec.provenance).toEqual({
      repo: 'acme/widgets',
      commitFirstSeen: MERGE,
      commitLastVerified: MERGE,
      path: null,
      startLine: null,
      endLine: null,
      qualname: null,
      url: `${WEB}/issues/398`,
      prNumber: 412,
      issueNumber: 398,
      commentId: null,
    });
  });

  it('picks the PR merged by the time the issue closed, and falls back to HEAD without a merge sha', () => {
    const later = { number: 430, title: 'Tune the default timeout', body: null, mergeSha: 'd'.repeat(40), mergedAt: '2024-04-01T00:00:00Z' };
    const earlier = { number: 401, title: 'Partial fix for stalls', body: null, mergeSha: 'e'.repeat(40), mergedAt: '2024-02-21T00:00:00Z' };
    const { records } = issueRecords({ issue: fixedIssue(), comments: [], closingPrs: [later, closing(null), earlier], ref: REF });
    expect(records[0]!.provenance).toMatchObject({ prNumber: 412, commitFirstSeen: HEAD });
    // A PR without a body: just its title.
    const only = issueRecords({ issue: fixedIssue(), comments: [], closingPrs: [later], ref: REF }).records[0]!;
    expect(only.text.endsWith('\n\nResolved by PR #430: Tune the default timeout')).toBe(true);
  });

  const question = () =>
    parse(
      GhIssue,
      issueItem(403, 'How do I send a custom User-Agent on redirects?', 'Our proxy rejects requests without our User-Agent. How do I set it for every request?', user('erin', 504), {
        author_association: 'NONE',
      }),
    );
  const ANSWER =
    'Headers passed to `fetch()` apply to that request only, and redirects are new requests. Use `Client(default_headers={"User-Agent": "my-app/1.0"})`: default headers are sent with every request, redirects included.';
  const thread = () =>
    [
      comment(7101, 403, user('erin', 504), 'NONE', 'I tried passing `headers=` to `fetch()` but the header is missing after the 302 redirect.', '2024-02-21T08:00:00Z'),
      comment(7102, 403, CAROL, 'NONE', '+1', '2024-02-21T09:00:00Z'),
      comment(7103, 403, MAINT, 'MEMBER', ANSWER, '2024-02-22T08:00:00Z'),
      comment(7104, 403, user('stale[bot]', 26384082, 'Bot'), 'NONE', 'This issue has been automatically marked as stale because it has not had recent activity.', '2024-03-22T08:00:00Z'),
    ].map((c) => parse(GhIssueComment, c));

  it("records an issue answered by a maintainer's last comment", () => {
    const { records, resolution } = issueRecords({ issue: question(), comments: thread(), closingPrs: [], ref: REF });
    expect(resolution).toBe('maintainer_answer');
    const rec = records[0]!;
    expect(rec.text).toBe(
      [
        'Issue #403: How do I send a custom User-Agent on redirects?',
        '',
        'Our proxy rejects requests without our User-Agent. How do I set it for every request?',
        '',
        'Discussion:',
        'NONE (issue author): I tried passing `headers=` to `fetch()` but the header is missing after the 302 redirect.',
        '',
        'Maintainer answer:',
        ANSWER,
      ].join('\n'),
    );
    expect(rec.facts).toEqual({ type: 'issue', number: 403, title: 'How do I send a custom User-Agent on redirects?', answer: { heading: 'Maintainer answer:', body: ANSWER }, fix: null });
    expect(rec.provenance).toMatchObject({ commitFirstSeen: HEAD, prNumber: null, issueNumber: 403, commentId: 7103, url: `${WEB}/issues/403` });
    expect(rec.id).toBe(contentId('issue', 403, sha256(rec.text)));
    // Inline code is part of an answer's substance.
    const terse = parse(GhIssueComment, comment(7106, 403, MAINT, 'MEMBER', 'Use `Client(default_headers={"User-Agent": "my-app/1.0"})`.', '2024-02-23T00:00:00Z'));
    expect(issueRecords({ issue: question(), comments: [terse], closingPrs: [], ref: REF }).resolution).toBe('maintainer_answer');
  });

  it('gives no record without a known resolution, for not-planned or duplicate issues, and for PRs, and says why', () => {
    const unresolved = (why: string) => ({ records: [], resolution: null, unresolved: why });
    const [follow, , answer] = thread();
    // The asker had the last word, and it does not say the answer worked.
    expect(issueRecords({ issue: question(), comments: [answer!, { ...follow!, created_at: '2024-02-23T00:00:00Z' }], closingPrs: [], ref: REF })).toEqual(
      unresolved('the issue author replied to the maintainer answer without confirming it'),
    );
    // A maintainer's last word that says little.
    const short = parse(GhIssueComment, comment(7105, 403, MAINT, 'MEMBER', 'Fixed on main, see `fetch`.', '2024-02-23T00:00:00Z'));
    const nothing = 'no maintainer answer, confirmed fix, or fixing PR or commit in the thread';
    expect(issueRecords({ issue: question(), comments: [follow!, short], closingPrs: [], ref: REF })).toEqual(unresolved(nothing));
    // A maintainer answering their own issue is not an answer to someone's question.
    const own = parse(GhIssue, { ...question(), user: MAINT });
    expect(issueRecords({ issue: own, comments: thread(), closingPrs: [], ref: REF })).toEqual(unresolved(nothing));
    expect(issueRecords({ issue: question(), comments: [], closingPrs: [], ref: REF })).toEqual(unresolved(nothing));
    for (const [reason, why] of [['not_planned', 'closed as not planned'], ['duplicate', 'closed as a duplicate']] as const) {
      const issue = parse(GhIssue, { ...fixedIssue(), state_reason: reason });
      expect(issueRecords({ issue, comments: thread(), closingPrs: [closing()], ref: REF })).toEqual(unresolved(why));
    }
    const none = { records: [], resolution: null, unresolved: null };
    const open = parse(GhIssue, { ...fixedIssue(), state: 'open', state_reason: null, closed_at: null });
    expect(issueRecords({ issue: open, comments: [], closingPrs: [closing()], ref: REF })).toEqual(none);
    expect(issueRecords({ issue: mergedPr(), comments: [], closingPrs: [], ref: REF })).toEqual(none);
  });

  // Threads as they end on GitHub: the asker thanks the maintainer, a stale bot has the last word, a
  // note names the PR or commit that fixed it.
  const said = (id: number, who: User, association: Association, body: string, at: string) => parse(GhIssueComment, comment(id, 403, who, association, body, at));
  const ERIN = user('erin', 504);
  const STALE_BOT = user('github-actions[bot]', 41898282, 'Bot');

  it('takes the answer the issue author confirms, or that stands when a bot has the last word', () => {
    const thanks = said(7110, ERIN, 'NONE', 'Thanks, that fixed it!', '2024-02-22T09:00:00Z');
    const confirmed = issueRecords({ issue: question(), comments: [...thread().slice(0, 3), thanks], closingPrs: [], ref: REF });
    expect(confirmed).toMatchObject({ resolution: 'maintainer_answer', unresolved: null });
    expect(confirmed.records[0]!.text.endsWith(`Maintainer answer:\n${ANSWER}`)).toBe(true);
    expect(confirmed.records[0]!.provenance.commentId).toBe(7103);
    // A maintainer's "closing" and a bot after the confirmation change nothing; "I'll try" is not a confirmation.
    const closingNote = said(7111, MAINT, 'MEMBER', 'Great, closing!', '2024-02-22T10:00:00Z');
    const stale = said(7112, STALE_BOT, 'NONE', 'This issue has been automatically marked as stale because it has not had recent activity.', '2024-03-22T10:00:00Z');
    expect(issueRecords({ issue: question(), comments: [...thread().slice(0, 3), closingNote, thanks, stale], closingPrs: [], ref: REF }).records[0]!.provenance.commentId).toBe(7103);
    const later = said(7113, ERIN, 'NONE', "Thanks, I'll try it tomorrow.", '2024-02-22T09:00:00Z');
    expect(issueRecords({ issue: question(), comments: [...thread().slice(0, 3), later], closingPrs: [], ref: REF }).resolution).toBeNull();
    // A contributor's answer counts once the asker confirms it.
    const helper = said(7114, CAROL, 'CONTRIBUTOR', ANSWER, '2024-02-22T08:00:00Z');
    expect(issueRecords({ issue: question(), comments: [helper, thanks], closingPrs: [], ref: REF })).toMatchObject({ resolution: 'contributor_answer' });
    expect(issueRecords({ issue: question(), comments: [helper], closingPrs: [], ref: REF }).resolution).toBeNull();
  });

  it("takes the asker's own fix, and gives nothing for duplicates and declined requests", () => {
    const fix = said(7120, ERIN, 'NONE', 'Found it: the problem was our proxy stripping the header on redirects. Whitelisting `User-Agent` in the proxy config fixed it.', '2024-02-22T09:00:00Z');
    const own = issueRecords({ issue: question(), comments: [thread()[0]!, fix], closingPrs: [], ref: REF });
    expect(own).toMatchObject({ resolution: 'author_fix' });
    expect(own.records[0]!.text.endsWith(`Issue author's fix:\n${fix.body}`)).toBe(true);
    const dup = said(7121, MAINT, 'MEMBER', 'Duplicate of #388', '2024-02-22T09:00:00Z');
    expect(issueRecords({ issue: question(), comments: [...thread().slice(0, 3), dup], closingPrs: [], ref: REF }).unresolved).toBe('a maintainer marked it a duplicate of #388');
    const no = said(7122, MAINT, 'MEMBER', "Thanks for the suggestion, but we won't add a per-redirect header hook: it is out of scope for the client.", '2024-02-22T09:00:00Z');
    expect(issueRecords({ issue: question(), comments: [no], closingPrs: [], ref: REF }).unresolved).toBe('a maintainer declined it');
    const labelled = parse(GhIssue, { ...question(), labels: [{ name: 'wontfix' }] });
    expect(issueRecords({ issue: labelled, comments: thread(), closingPrs: [], ref: REF }).unresolved).toBe('labelled wontfix');
  });

  it('follows "fixed in #N" and "closed by <sha>" to a PR or commit the source knows', () => {
    const note = said(7130, MAINT, 'MEMBER', 'Fixed in #412', '2024-03-02T10:00:00Z');
    expect(fixReferences([note, said(7131, ERIN, 'NONE', 'Is this fixed by #413?', '2024-03-02T11:00:00Z')])).toEqual({ prs: [412], shas: [] });
    const viaPr = issueRecords({ issue: question(), comments: [thread()[0]!, note], closingPrs: [], referencedPrs: [closing()], ref: REF });
    expect(viaPr).toMatchObject({ resolution: 'pull_request', records: [{ provenance: { prNumber: 412, commentId: 7130, commitFirstSeen: MERGE } }] });
    expect(viaPr.records[0]!.text).toContain('\n\nResolved by PR #412: Add `timeout` option to `Client.fetch`\n');
    // Not known to the source (not fetched, or not merged): no resolution, and the skip says so.
    expect(issueRecords({ issue: question(), comments: [note], closingPrs: [], ref: REF }).unresolved).toBe(
      'names #412 as the fix, but no merged PR or commit by that reference is known; no maintainer answer, confirmed fix, or fixing PR or commit in the thread',
    );
    const sha = '3f2a9c1d'.repeat(5);
    const byCommit = said(7132, MAINT, 'MEMBER', 'Closed by 3f2a9c1 on main.', '2024-03-02T10:00:00Z');
    expect(fixReferences([byCommit])).toEqual({ prs: [], shas: ['3f2a9c1'] });
    const viaCommit = issueRecords({
      issue: question(),
      comments: [byCommit],
      closingPrs: [],
      referencedCommits: [{ sha, subject: 'Send default headers on redirects', body: 'Redirects are new requests, so they now get the default headers too.' }],
      ref: REF,
    });
    expect(viaCommit).toMatchObject({ resolution: 'commit', records: [{ provenance: { prNumber: null, commentId: 7132, commitFirstSeen: sha } }] });
    expect(viaCommit.records[0]!.text).toContain(`\n\nResolved by commit ${sha}: Send default headers on redirects\nRedirects are new requests`);
  });
});
