// Benchmark: what incremental ingestion costs. Prints JSON.
//
//   npm run bench:ingest -- [--repo <path>] [--commits 50] [--issues 2000] [--prs 1000]
//
// 1. GitHub API calls (against the GitHub-shaped test server on 127.0.0.1, a transformers-shaped
//    fixture: most issues with 3–10 comments): qaforge's repo-wide listings vs the pagination floor
//    ⌈(issues + PRs + comments) / 100⌉ and vs the naive one-call-per-issue pattern, plus a second
//    pass with nothing new (conditional requests only).
// 2. With --repo (e.g. a clone of huggingface/diffusers): a full backfill of code, commits and docs
//    at HEAD~N, then an ingest to HEAD (the last N commits new), then an ingest with nothing new —
//    each as a ratio of the full backfill's time; all three rules only (--llm-sample 0), since that
//    is what incremental ingestion costs. Then, on its own line, one more pass with nothing new and
//    the model step on (--model-sample records): what working through the model backlog costs per
//    record, and how much of the backlog is left. Every run is a child process, as a user runs it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Octokit } from '@octokit/rest';
import { Command } from 'commander';
import { makeGithubFixture } from '../test/github/fixture.js';
import { startGithubServer } from '../test/github/server.js';
import { makeRepo } from '../test/fixtures.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const opts = new Command()
  .option('--repo <path>', 'local git repository for the timing part (skipped when absent)')
  .option('--commits <n>', 'commits new to the incremental ingest', (v) => Number(v), 50)
  .option('--issues <n>', 'closed issues in the API fixture', (v) => Number(v), 2000)
  .option('--prs <n>', 'pull requests in the API fixture', (v) => Number(v), 1000)
  .option('--model-sample <n>', 'records the model-step pass writes for (0: leave it out)', (v) => Number(v), 4)
  .option('--out <file>', 'also write the JSON here')
  .parse()
  .opts<{ repo?: string; commits: number; issues: number; prs: number; modelSample: number; out?: string }>();

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ json: any; wall: number; peakRssMb: number }> {
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    // GNU time reports the child's peak RSS; without it the figure is left out.
    const timed = existsSync('/usr/bin/time');
    const argv = [process.execPath, join(root, 'bin/qaforge.mjs'), ...args, '--json'];
    const p = spawn(timed ? '/usr/bin/time' : argv[0]!, timed ? ['-f', '%M', ...argv] : argv.slice(1), {
      cwd: root,
      env: { ...process.env, QAFORGE_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('close', (code) => {
      if (code !== 0) return fail(new Error(`qaforge ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      const rss = timed ? Number(err.trim().split('\n').pop()) : NaN;
      ok({ json: JSON.parse(out), wall: (performance.now() - t0) / 1000, peakRssMb: round(rss / 1024, 1) });
    });
  });
}

async function apiCalls() {
  const fixture = makeGithubFixture({ owner: 'acme', repo: 'transformers-like', seed: 7, issues: opts.issues, prs: opts.prs });
  const server = await startGithubServer(fixture);
  const data = mkdtempSync(join(tmpdir(), 'qaforge-bench-api-'));
  const repo = await makeRepo({ 'README.md': '# fixture\n' }, 'https://github.com/acme/transformers-like.git');
  try {
    const closed = fixture.issues.filter((i: any) => i.state === 'closed');
    const comments = fixture.issueComments.filter((c: any) => closed.some((i: any) => c.issue_url.endsWith(`/issues/${i.number}`))).length;
    const reviews = fixture.reviewComments.length;
    const items = closed.length;
    const floor = Math.ceil((items + comments + reviews) / 100);
    const args = ['--data-dir', data, 'ingest', '--repo', repo.dir, '--sources', 'prs,issues', '--github', 'acme/transformers-like', '--github-api-url', server.url];
    const env = { GITHUB_TOKEN: 'bench-token' };
    server.resetStats();
    const first = await cli(args, env);
    const counted = (s: typeof server.stats) => s.log.filter((r) => r.route !== 'GET /rate_limit').length;
    const firstCalls = counted(server.stats);
    server.resetStats();
    const second = await cli(args, env);
    const secondCalls = counted(server.stats);
    const secondNotModified = server.stats.notModified;

    // The naive pattern: list closed issues, then one call per issue for its comments and one per PR for its review comments.
    server.resetStats();
    const octokit = new Octokit({ baseUrl: server.url, auth: 'bench-token', log: { debug() {}, info() {}, warn() {}, error() {} } });
    const list = await octokit.paginate('GET /repos/{owner}/{repo}/issues', { owner: 'acme', repo: 'transformers-like', state: 'closed', per_page: 100 });
    for (const i of list) {
      await octokit.paginate('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', { owner: 'acme', repo: 'transformers-like', issue_number: i.number, per_page: 100 });
      if (i.pull_request) await octokit.paginate('GET /repos/{owner}/{repo}/pulls/{pull_number}/comments', { owner: 'acme', repo: 'transformers-like', pull_number: i.number, per_page: 100 });
    }
    const naiveCalls = counted(server.stats);
    return {
      fixture: { closed_issues_and_prs: items, issue_comments: comments, review_comments: reviews },
      pagination_floor: floor,
      qaforge: { requests: firstCalls, ratio_to_floor: round(firstCalls / floor), staged: first.json.staged, seconds: round(first.json.seconds) },
      naive_one_call_per_issue: { requests: naiveCalls, ratio_to_floor: round(naiveCalls / floor) },
      second_pass_nothing_new: { requests: secondCalls, not_modified: secondNotModified, staged: second.json.staged },
    };
  } finally {
    await server.close();
    rmSync(data, { recursive: true, force: true });
  }
}

/** The model step of a pass with nothing else new: its records, pairs and seconds, per record, and the backlog left. */
function modelPart(r: any) {
  const m = r.sources.find((o: any) => o.source === 'self-instruct');
  const task = r.models?.task === 'paraphrase' ? 'paraphrase' : 'self-instruct';
  const write = r.stages.find((s: any) => s.stage === task);
  const judge = r.stages.find((s: any) => s.stage === 'judge');
  const others = r.sources.filter((o: any) => o.source !== 'self-instruct').reduce((a: number, o: any) => a + o.seconds, 0);
  return {
    task,
    units: m?.units ?? 0,
    staged: m?.staged ?? 0,
    seconds: round(m?.seconds ?? 0),
    seconds_per_unit: m?.units ? round(m.seconds / m.units) : null,
    write_seconds: round(write?.seconds ?? 0),
    judge_seconds: round(judge?.seconds ?? 0),
    backlog_left: r.models?.backlog ?? null,
    rest_of_the_pass_seconds: round(others),
  };
}

async function incremental(repoPath: string) {
  const data = mkdtempSync(join(tmpdir(), 'qaforge-bench-ingest-'));
  try {
    const base = ['--data-dir', data];
    const src = ['--repo', repoPath, '--sources', 'code,commits,docs'];
    const rules = ['--llm-sample', '0'];
    const full = await cli([...base, 'backfill', ...src, ...rules, '--rev', `HEAD~${opts.commits}`]);
    const fifty = await cli([...base, 'ingest', ...src, ...rules]);
    const none = await cli([...base, 'ingest', ...src, ...rules]);
    const model = opts.modelSample > 0 ? await cli([...base, 'ingest', ...src, '--llm-sample', String(opts.modelSample)]) : null;
    const part = (r: { json: any; wall: number; peakRssMb: number }) => ({
      seconds: round(r.json.seconds),
      wall_seconds: round(r.wall),
      peak_rss_mb: r.peakRssMb,
      staged: r.json.staged,
      retired: r.json.retired,
      sources: Object.fromEntries(r.json.sources.map((o: any) => [o.source, { units: o.units, staged: o.staged, retired: o.retired, seconds: round(o.seconds) }])),
    });
    return {
      repo: repoPath,
      full_backfill_at_head_minus_n: part(full),
      ingest_last_n_commits: { ...part(fifty), ratio_to_full: round(fifty.json.seconds / full.json.seconds), wall_ratio_to_full: round(fifty.wall / full.wall) },
      ingest_nothing_new: { ...part(none), ratio_to_full: round(none.json.seconds / full.json.seconds), wall_ratio_to_full: round(none.wall / full.wall) },
      model_step_pass: model ? modelPart(model.json) : null,
      n: opts.commits,
    };
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

const result = {
  machine: { cores: (await import('node:os')).availableParallelism(), node: process.version },
  api: await apiCalls(),
  ...(opts.repo ? { ingest: await incremental(resolve(opts.repo)) } : {}),
};
const json = JSON.stringify(result, null, 2);
process.stdout.write(`${json}\n`);
if (opts.out) writeFileSync(opts.out, `${json}\n`);
