// Issue resolutions where real threads put them: the labelled threads of issue-threads.ts through the
// real CLI against the GitHub-shaped server, with the fixing commits in the repository. Coverage is
// resolved issues with an issue_resolution pair over resolved issues; unresolved ones give no pair
// and an `unresolved` skip.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stores, SCHEMAS, type TableName } from '../../datasets/store.js';
import { qaforgeJson } from '../cli.js';
import { makeRepo, tempDir } from '../fixtures.js';
import { FIX_COMMITS, makeIssueThreadFixture, type IssueThreadFixture } from './issue-threads.js';
import { startGithubServer, type GithubServer } from './server.js';

const ENV = { GITHUB_TOKEN: 'test-token-not-a-secret', QAFORGE_GITHUB_RETRY_BASE_MS: '20' };

async function rows(dataDir: string, names: TableName[]): Promise<Record<TableName, Record<string, unknown>[]>> {
  const stores = await Stores.open(dataDir);
  const out = {} as Record<TableName, Record<string, unknown>[]>;
  for (const name of names) {
    out[name] = [];
    for await (const batch of stores.scan(name, SCHEMAS[name].fields.map((f) => f.name))) out[name].push(...batch);
  }
  stores.close();
  return out;
}

/** A question with its `code`, "quoted" spans, hex shas and numbers replaced: what phrasings share. */
const template = (q: string) =>
  q
    .replace(/`[^`]*`/g, '<code>')
    .replace(/"[^"]*"|“[^”]*”/g, '<quote>')
    .replace(/\b[0-9a-f]{7,40}\b/g, '<sha>')
    .replace(/\d+/g, '<n>');

let t: IssueThreadFixture;
let server: GithubServer;
let got: Record<TableName, Record<string, unknown>[]>;

beforeAll(async () => {
  const repo = await makeRepo({ 'README.md': '# threads\n' }, 'https://github.com/acme/threads.git');
  const shas: Record<string, string> = {};
  for (const [key, c] of Object.entries(FIX_COMMITS)) shas[key] = await repo.commit(c.files, c.message);
  t = makeIssueThreadFixture(shas);
  server = await startGithubServer(t.fx);
  const data = tempDir();
  await qaforgeJson(['--data-dir', data, 'ingest', '--repo', repo.dir, '--sources', 'prs,issues', '--github', 'acme/threads', '--github-api-url', server.url, '--json'], { env: ENV });
  got = await rows(data, ['staging', 'rejected', 'skipped']);
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('issue resolutions on threads shaped like transformers threads', () => {
  it('covers at least 90% of resolved issues and gives no pair for unresolved ones', () => {
    const pairs = got.staging.filter((r) => r.category === 'issue_resolution');
    const withPairs = new Set(pairs.map((r) => Number((r.split_group as string).slice('issue:'.length))));
    const resolved = [...t.threads].filter(([, s]) => s.resolved).map(([n]) => n);
    const unresolved = [...t.threads].filter(([, s]) => !s.resolved).map(([n]) => n);
    const covered = resolved.filter((n) => withPairs.has(n));
    const fromUnresolved = pairs.filter((r) => unresolved.includes(Number((r.split_group as string).slice('issue:'.length))));
    const missed = resolved.filter((n) => !withPairs.has(n)).map((n) => `#${n} ${t.threads.get(n)!.shape}`);
    console.log(
      `issue resolution coverage: ${covered.length}/${resolved.length} resolved issues (${((100 * covered.length) / resolved.length).toFixed(1)}%), ` +
        `${pairs.length} pairs; ${fromUnresolved.length} pairs from ${unresolved.length} unresolved issues; missed: ${missed.join(', ') || 'none'}`,
    );
    expect(t.threads.size).toBeGreaterThanOrEqual(30);
    expect(unresolved.length).toBeGreaterThanOrEqual(6);
    expect(covered.length / resolved.length).toBeGreaterThanOrEqual(0.9);
    expect(fromUnresolved).toEqual([]);
    // Every drawn pair passed validation (grounded evidence, lengths).
    expect(got.rejected.filter((r) => r.source_kind === 'issue').map((r) => `${r.question}: ${r.reasons} ${r.detail}`)).toEqual([]);
  });

  it('records every unresolved issue as an `unresolved` skip saying why', () => {
    const skips = new Map(got.skipped.filter((s) => s.reason === 'unresolved').map((s) => [Number((s.path as string).split('/').pop()), s.detail as string]));
    const unresolved = [...t.threads].filter(([, s]) => !s.resolved);
    expect(unresolved.filter(([n]) => !skips.has(n)).map(([n, s]) => `#${n} ${s.shape}`)).toEqual([]);
    const why = Object.fromEntries(unresolved.map(([n, s]) => [`${s.shape} #${n}`, skips.get(n)]));
    expect(Object.values(why)).toEqual(
      expect.arrayContaining(['closed as not planned', 'a maintainer declined it', expect.stringMatching(/^a maintainer marked it a duplicate of #\d+$/)]),
    );
  });

  it('names the PR or commit a "fixed in" note points at', () => {
    const byIssue = (shape: string) =>
      [...t.threads].filter(([, s]) => s.shape === shape).map(([n]) => got.staging.filter((r) => r.split_group === `issue:${n}`).map((r) => r.answer as string));
    for (const answers of byIssue('fixed_in_pr')) expect(answers.some((a) => /^PR #\d+ \(".+"\)\.$/.test(a))).toBe(true);
    for (const answers of byIssue('closed_by_commit')) expect(answers.some((a) => /^Commit [0-9a-f]{40} \(".+"\)\.$/.test(a))).toBe(true);
  });

  it('words questions in several ways, each naming the issue', () => {
    const pairs = got.staging.filter((r) => r.category === 'issue_resolution');
    for (const p of pairs) expect(p.question as string).toMatch(/\bissue #\d+/i);
    const counts = new Map<string, number>();
    for (const p of pairs) counts.set(template(p.question as string), (counts.get(template(p.question as string)) ?? 0) + 1);
    const top10 = [...counts.values()].sort((a, b) => b - a).slice(0, 10).reduce((a, b) => a + b, 0);
    console.log(`issue question templates: ${counts.size} distinct over ${pairs.length} pairs; the ten most common cover ${((100 * top10) / pairs.length).toFixed(1)}%`);
    expect(counts.size).toBeGreaterThanOrEqual(8);
  });
});
