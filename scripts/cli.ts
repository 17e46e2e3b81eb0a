// The qaforge command line: backfill, ingest, worker, promote, export, stats, verify, config, show, sample, retire, search, eval, versions, diff, rollback, tag, demo.
import { resolve as resolvePath } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { BackfillResult, runBackfill } from '../activities/backfill.js';
import type { runViaTemporal } from './temporal-worker.js';
// Temporal's native worker loads only for the commands that use it, and the sources (tree-sitter, git,
// GitHub, the models) only for the commands that read a repository: the other commands start faster.
const temporal = () => import('./temporal-worker.js');
const sources = () => import('../activities/backfill.js');
import { findPair, retirePair, samplePairs, storeStats } from '../datasets/curation.js';
import { exportCorpus, type ExportFormat } from '../datasets/export.js';
import { promoteWithEmbeddings } from '../datasets/promote.js';
import { searchCorpus, type SearchMode } from '../datasets/search.js';
import { openEmbedder } from '../lib/models/index.js';
import { Category, provenanceLocation } from '../datasets/schemas.js';
import { Stores } from '../datasets/store.js';
import { verifyProvenance } from '../evals/verify.js';
import { diffVersions, listVersions, resolveVersion, rollbackTo, tagVersion, TAG_NAME, type DatasetVersion, type DiffGroup } from '../datasets/versions.js';
import { calibrateAbstention, formatAbstention, recordAbstention } from '../evals/abstention.js';
import { evalRetrieval, formatEvalTable, SEARCH_MODES } from '../evals/retrieval.js';
import { loadEvalSet } from '../evals/set.js';
import { formatReport, qualityReport } from '../evals/report.js';
import {
  AUDIT_FORMATS,
  auditPairs,
  defaultAuditFrom,
  formatAuditProxies,
  formatAuditSample,
  formatGradeRates,
  gradedRates,
  readGrades,
  writeAuditSample,
  type AuditFormat,
  type AuditFrom,
} from '../evals/audit.js';
import { resolveRepo } from '../activities/repo.js';
import { DEFAULT_REPO, loadConfig, maskedConfig, SOURCES, type Config, type ConfigInput, type SourceName } from '../lib/config.js';
import { UserError } from '../lib/errors.js';
import { collect, configPathOf, context, positiveInt, print, withStores } from './cli-common.js';
import { registerSimulateCommand } from './cli-simulate.js';
import { registerServeCommands } from './cli-serve.js';
import { registerFeedbackCommands } from './cli-feedback.js';
import { registerRunsCommands, repoOfDataDir } from './cli-runs.js';

/** A dataset version: its number, or a tag naming it (resolved against the stores by the command). */
const versionRef = (name: string) => (v: string): number | string => {
  if (/^\d+$/.test(v)) return positiveInt(name)(v);
  if (!TAG_NAME.test(v)) throw new InvalidArgumentError(`${name} takes a version number or a tag ([A-Za-z0-9._-]+)`);
  return v;
};

const program = new Command()
  .name('qaforge')
  .description('Build a grounded, provenance-tracked QA corpus from a git repository')
  .option('--data-dir <dir>', 'where the LanceDB stores live (default ./data, or QAFORGE_DATA_DIR)')
  .option('--config <file>', 'configuration file (default ./qaforge.config.json when present)')
  .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
  .showHelpAfterError('(run with --help for usage)');

const sourceList = (v: string): SourceName[] => {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((s) => !(SOURCES as readonly string[]).includes(s));
  if (bad.length || !list.length) throw new InvalidArgumentError(`unknown source ${bad.join(', ') || '(none)'}: choose from ${SOURCES.join(',')}`);
  return list as SourceName[];
};

interface BackfillFlags {
  sources?: SourceName[];
  since?: string;
  github?: string;
  githubApiUrl?: string;
  repo?: string;
  rev?: string;
  include?: string[];
  exclude?: string[];
  workers?: number;
  maxFileBytes?: number;
  llmSample?: number | 'all';
  budget?: number;
  endpointUrl?: string;
  generatorModel?: string;
  judgeModel?: string;
}
/** The model flags, as the nested `models` config they set (merged over file and env values). */
const modelFlags = (o: BackfillFlags): Partial<ConfigInput> => {
  const m = {
    ...(o.llmSample !== undefined ? { llmSample: o.llmSample } : {}),
    ...(o.budget ? { budgetTokens: o.budget } : {}),
    ...(o.endpointUrl ? { endpointUrl: o.endpointUrl } : {}),
    ...(o.generatorModel ? { generator: { model: o.generatorModel } } : {}),
    ...(o.judgeModel ? { judge: { model: o.judgeModel } } : {}),
  };
  return Object.keys(m).length ? { models: m } : {};
};
const llmSample = (v: string): number | 'all' => {
  if (v === 'all') return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`--llm-sample takes a record count or "all", not ${v}`);
  return n;
};
const backfillFlags = (o: BackfillFlags): Partial<ConfigInput> => ({
  ...modelFlags(o),
  ...(o.sources ? { sources: o.sources } : {}),
  ...(o.since ? { since: o.since } : {}),
  ...(o.github ? { github: o.github } : {}),
  ...(o.githubApiUrl ? { githubApiUrl: o.githubApiUrl } : {}),
  ...(o.repo ? { repo: o.repo } : {}),
  ...(o.rev ? { rev: o.rev } : {}),
  ...(o.include?.length ? { include: o.include } : {}),
  ...(o.exclude?.length ? { exclude: o.exclude } : {}),
  ...(o.workers ? { workers: o.workers } : {}),
  ...(o.maxFileBytes ? { maxFileBytes: o.maxFileBytes } : {}),
});
const withBackfillOptions = (c: Command) =>
  c
    .option('--repo <path|url>', 'local git repository or git URL (URLs are cloned blobless under the data dir)')
    .option('--rev <ref>', 'commit, branch or tag to read (default HEAD)')
    .option('--include <glob>', 'files to read (repeatable; default **/*.py)', collect)
    .option('--exclude <glob>', 'files to leave out (repeatable)', collect)
    .option('--workers <n>', 'worker threads (default: all cores)', positiveInt('--workers'))
    .option('--max-file-bytes <n>', 'skip files larger than this (default 10 MB)', positiveInt('--max-file-bytes'))
    .option('--sources <list>', `comma-separated sources to read (default all: ${SOURCES.join(',')})`, sourceList)
    .option('--since <date>', 'only history after this date: commits, PRs, issues (ISO date)')
    .option('--github <owner/name>', 'GitHub repository for PRs and issues (default: from the origin remote)')
    .option('--github-api-url <url>', 'GitHub API base URL, e.g. for GitHub Enterprise Server (default https://api.github.com, or GITHUB_API_URL)')
    .option('--llm-sample <n|all>', 'source records self-instruct writes for in this run (default 12; 0 = rules only; all = every record, for real endpoints)', llmSample)
    .option('--budget <tokens>', 'stop model generation once a run has spent this many tokens (cached calls are free)', positiveInt('--budget'))
    .option('--endpoint-url <url>', 'OpenAI-compatible server (TGI, vLLM, …) for the generator and judge; embeddings from <url>/embed')
    .option('--generator-model <id>', 'generator model: an HF model id (remote) or a file under .models/ (local)')
    .option('--judge-model <id>', 'judge model, a different one from the generator');

const printRun = (r: BackfillResult, json?: boolean) => {
  if (json) print({ ...r, repo: { repo: r.repo.repo, sha: r.repo.sha } });
};

const printWorkflow = (r: Awaited<ReturnType<typeof runViaTemporal>>, json?: boolean) => {
  if (json) return print(r);
  print(
    `workflow ${r.workflowId} on ${r.address}: run ${r.run.runId} at ${r.run.sha.slice(0, 12)} staged ${r.run.staged}, retired ${r.run.retired}; ` +
      (r.promoted ? `promoted ${r.promoted.promoted} → corpus version ${r.promoted.version} (${r.promoted.active} active)` : `not promoted (${r.staged} validated pairs waiting)`),
  );
};

/** `--via-temporal --detach`: start the workflow, say its id and what runs it, and return. */
interface TemporalFlags {
  json?: boolean;
  viaTemporal?: boolean;
  detach?: boolean;
  concurrentBatches?: number;
  batchFiles?: number;
}
const withTemporalOptions = (c: Command, backfill: boolean) => {
  c.option('--detach', 'with --via-temporal: start the workflow, print its id and return; `qaforge worker` processes run it (on TEMPORAL_ADDRESS, or on the dev server started and left running for it)');
  if (backfill)
    c.option('--concurrent-batches <n>', 'with --via-temporal: code batches extracted at once, shared by the workers (default 4)', positiveInt('--concurrent-batches')).option(
      '--batch-files <n>',
      'with --via-temporal: code files per batch (default 400)',
      positiveInt('--batch-files'),
    );
  return c;
};

async function detached(cfg: Config, log: Parameters<typeof runBackfill>[1], workflow: 'backfillWorkflow' | 'ingestWorkflow', flags: Partial<ConfigInput>, o: TemporalFlags & { promoteAt?: number }, cmd: Command) {
  const t = await temporal();
  const r = await t.startDetached(cfg, log, workflow, flags, { promoteAt: o.promoteAt ?? (workflow === 'backfillWorkflow' ? 0 : 1), concurrentBatches: o.concurrentBatches, batchFiles: o.batchFiles });
  if (o.json) return print(r);
  const g = cmd.optsWithGlobals<{ dataDir?: string; config?: string }>();
  const globals = [...(g.config ? ['--config', g.config] : []), ...(g.dataDir ? ['--data-dir', g.dataDir] : [])].join(' ');
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  const qaforgeCmd = `qaforge${globals ? ` ${globals.split(' ').map(q).join(' ')}` : ''}`;
  const lines = [`started ${workflow} ${r.workflowId} on ${r.address} (task queue ${r.taskQueue})`];
  if (r.devServer?.started)
    lines.push(`the Temporal dev server was started for it and keeps running (pid ${r.devServer.pid}${r.devServer.uiUrl ? `, Web UI ${r.devServer.uiUrl}` : ''}, state in ${t.devDbFile(cfg)}); stop it with: kill ${r.devServer.pid}`);
  else if (r.devServer) lines.push(`on the dev server left running for this data dir (pid ${r.devServer.pid}${r.devServer.uiUrl ? `, Web UI ${r.devServer.uiUrl}` : ''})`);
  lines.push(
    `it needs a worker: nothing runs until one polls task queue ${r.taskQueue}. Start one (or N, to share the work) with:`,
    `  ${cfg.temporalAddress ? '' : `TEMPORAL_ADDRESS=${r.address} `}${qaforgeCmd} worker`,
    `progress: ${qaforgeCmd} runs status ${r.workflowId}`,
  );
  print(lines.join('\n'));
}

const checkDetach = (o: TemporalFlags) => {
  if (o.detach && !o.viaTemporal) throw new UserError('--detach goes with --via-temporal: the run is started as a Temporal workflow and left to the workers');
  if ((o.concurrentBatches || o.batchFiles) && !o.viaTemporal) throw new UserError('--concurrent-batches and --batch-files go with --via-temporal');
};

withTemporalOptions(
  withBackfillOptions(program.command('backfill').description('read every chosen source whole (code and docs at HEAD, history from --since) into staging'))
    .option('--json', 'print the run result as JSON on stdout')
    .option('--via-temporal', 'run as a Temporal workflow (backfill, then promote): on TEMPORAL_ADDRESS, or on the installed dev server'),
  true,
).action(async (o: BackfillFlags & TemporalFlags, cmd: Command) => {
  checkDetach(o);
  const { cfg, log } = context(cmd, backfillFlags(o));
  if (o.viaTemporal && o.detach) return detached(cfg, log, 'backfillWorkflow', backfillFlags(o), o, cmd);
  if (o.viaTemporal)
    return printWorkflow(
      await (await temporal()).runViaTemporal(cfg, log, 'backfillWorkflow', backfillFlags(o), { promoteAt: 0, configPath: configPathOf(cmd), concurrentBatches: o.concurrentBatches, batchFiles: o.batchFiles }),
      o.json,
    );
  printRun(await (await sources()).runBackfill(cfg, log), o.json);
});

/**
 * `ingest` without --repo (and no repo set by QAFORGE_REPO or the config file) continues the
 * repository the data dir was backfilled from, and says which.
 */
async function ingestRepo(o: BackfillFlags, cmd: Command): Promise<BackfillFlags> {
  if (o.repo) return o;
  const { cfg } = context(cmd, backfillFlags(o));
  if (cfg.repo !== DEFAULT_REPO) return o;
  const r = await repoOfDataDir(cfg);
  process.stderr.write(
    `qaforge ingest: continuing ${r.label} from ${r.spec}, the repository ${cfg.dataDir} was backfilled from${r.others.length ? ` (it also holds ${r.others.join(', ')}: give --repo to choose)` : ''}\n`,
  );
  return { ...o, repo: r.spec };
}

withTemporalOptions(
  withBackfillOptions(
    program
      .command('ingest')
      .description('one incremental pass over the chosen sources from their cursors: changed files, new commits, new or updated PRs and issues; retires pairs whose evidence changed; without --repo, the repository the data dir was backfilled from'),
  )
    .option('--json', 'print the run result as JSON on stdout')
    .option('--via-temporal', 'run as the Temporal ingestWorkflow: on TEMPORAL_ADDRESS, or on the installed dev server')
    .option('--promote-at <n>', 'with --via-temporal: promote when at least n validated pairs wait in staging (default 1)', positiveInt('--promote-at')),
  false,
).action(async (given: BackfillFlags & TemporalFlags & { promoteAt?: number }, cmd: Command) => {
  checkDetach(given);
  const o = { ...given, ...(await ingestRepo(given, cmd)) };
  const { cfg, log } = context(cmd, backfillFlags(o));
  if (o.viaTemporal && o.detach) return detached(cfg, log, 'ingestWorkflow', backfillFlags(o), o, cmd);
  if (o.viaTemporal) return printWorkflow(await (await temporal()).runViaTemporal(cfg, log, 'ingestWorkflow', backfillFlags(o), { promoteAt: o.promoteAt ?? 1, configPath: configPathOf(cmd) }), o.json);
  printRun(await (await sources()).runIngest(cfg, log), o.json);
});

withBackfillOptions(
  program
    .command('schedule <action>')
    .description('a Schedule on TEMPORAL_ADDRESS: create | pause | unpause | trigger | describe | delete (starts ingestWorkflow, or feedbackWorkflow with --workflow feedback, every --every; never two at once)'),
)
  .option('--every <interval>', 'how often to run, e.g. 10m, 1h, 30s', '10m')
  .addOption(new Option('--workflow <name>', 'ingest: continuous ingestion; feedback: propose corrections of flagged answers, retrain past feedback.retrainAt').choices(['ingest', 'feedback']).default('ingest'))
  .option('--id <id>', 'schedule id (default qaforge-ingest, or qaforge-feedback with --workflow feedback)')
  .option('--promote-at <n>', 'promote when at least n validated pairs wait in staging (default 1)', positiveInt('--promote-at'))
  .action(async (action: string, o: BackfillFlags & { every: string; id?: string; workflow: 'ingest' | 'feedback'; promoteAt?: number }, cmd: Command) => {
    const actions = ['create', 'pause', 'unpause', 'trigger', 'describe', 'delete'];
    if (!actions.includes(action)) throw new UserError(`unknown schedule action ${action}: choose from ${actions.join(', ')}`);
    const { cfg } = context(cmd, backfillFlags(o));
    const { defaultScheduleId, manageSchedule } = await import('./temporal-schedule.js');
    const id = o.id ?? defaultScheduleId(o.workflow);
    // The schedule's workflows run on workers elsewhere: paths are made absolute here.
    const flags = { ...backfillFlags(o), dataDir: resolvePath(cfg.dataDir), ...(o.repo && !/^[a-z]+:\/\//.test(o.repo) ? { repo: resolvePath(o.repo) } : {}) };
    const info = await manageSchedule(cfg, action as Parameters<typeof manageSchedule>[1], { id, every: o.every, flags, promoteAt: o.promoteAt ?? 1, workflow: o.workflow });
    print(info ?? { id, deleted: true });
  });

program
  .command('worker')
  .description('run a Temporal worker for qaforge workflows on TEMPORAL_ADDRESS (task queue QAFORGE_TASK_QUEUE, default qaforge) until interrupted')
  .action(async (_o, cmd: Command) => {
    const { cfg, log } = context(cmd);
    const t = await temporal();
    // TEMPORAL_ADDRESS, else the dev server a detached run left running for this data dir.
    const address = cfg.temporalAddress ?? (await (await import('../lib/temporal-server.js')).runningDevServer(t.devDbFile(cfg)))?.address;
    if (!address) throw new UserError('no Temporal server: set TEMPORAL_ADDRESS (host:port), or use --via-temporal, which starts the dev server');
    const worker = await t.createWorker(cfg, address, configPathOf(cmd));
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => worker.shutdown());
    log.info({ address, namespace: cfg.temporalNamespace, taskQueue: cfg.taskQueue, batchQueue: t.batchTaskQueue(cfg) }, 'worker running');
    await worker.run();
  });

program
  .command('promote')
  .description('move validated staging pairs into the corpus (merge-insert) and rebuild the full-text index')
  .option('--via-temporal', 'run promoteWorkflow: quality gates, promote, re-index, snapshot, fine-tune trigger')
  .action(async (o: { viaTemporal?: boolean }, cmd: Command) => {
    const { cfg, log } = context(cmd);
    if (o.viaTemporal) return print(await (await temporal()).promoteViaTemporal(cfg, log, { configPath: configPathOf(cmd) }));
    await withStores(cfg, async (stores) => {
      print(await promoteWithEmbeddings(cfg, stores, log));
    });
  });

program
  .command('export')
  .description('write the corpus as JSONL train/validation/test splits (a split with no rows gets no file) plus a Hugging Face dataset card; --mix adds general QA to train only')
  .requiredOption('--out <dir>', 'output directory')
  .addOption(new Option('--format <format>', 'qa: question/answer/context; chat: messages').choices(['qa', 'chat']).default('qa'))
  .option('--version <n|tag>', 'corpus version, or a tag naming one, to export (default: latest)', versionRef('--version'))
  .option('--mix <jsonl>', 'general QA to add to train only (never validation/test): JSONL lines with question, answer [, context, id, source, license]; bad lines are skipped and reported')
  .option('--mix-ratio <r>', 'general rows = round(r × corpus train rows), chosen by a stable hash of each row; capped at the usable lines of the file (needs --mix)', (v: string) => {
    const r = Number(v);
    if (v.trim() === '' || !Number.isFinite(r) || r < 0) throw new InvalidArgumentError('--mix-ratio must be a number >= 0');
    return r;
  })
  .option('--min-quality <s>', 'only pairs whose value score is at least s (0-1); pairs under the backfill threshold limits.minQuality were never staged (lower it before a backfill to keep more)', (v: string) => {
    const r = Number(v);
    if (v.trim() === '' || !Number.isFinite(r) || r < 0 || r > 1) throw new InvalidArgumentError('--min-quality must be a number from 0 to 1');
    return r;
  })
  .action(async (o: { out: string; format: ExportFormat; version?: number; mix?: string; mixRatio?: number; minQuality?: number }, cmd: Command) => {
    const { cfg, log } = context(cmd);
    if ((o.mix === undefined) !== (o.mixRatio === undefined)) throw new UserError('--mix and --mix-ratio go together: give both (e.g. --mix general.jsonl --mix-ratio 0.2)');
    const mix = o.mix !== undefined ? { path: o.mix, ratio: o.mixRatio! } : undefined;
    await withStores(cfg, async (stores) => {
      print(await exportCorpus(stores, { out: o.out, format: o.format, version: o.version, splits: cfg.splits, mix, minQuality: o.minQuality }, log));
    });
  });

program
  .command('stats')
  .description('counts: symbols, source records and pairs by source kind, staging, corpus, rejected by reason, skipped items, cursors')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }, cmd: Command) => {
    const { cfg } = context(cmd);
    await withStores(cfg, async (stores) => {
      const s = await storeStats(stores);
      if (o.json) return print(s);
      const kv = (r: Record<string, number>) => Object.entries(r).map(([k, v]) => `${k}=${v}`).join(' ') || '-';
      print(
        [
          `symbols:   ${kv(s.symbols)}`,
          `sources:   ${kv(s.sources)}`,
          `staging:   ${kv(s.staging)}`,
          `pairs:     ${kv(s.pairsByKind)} (staged, unretired, by source kind)`,
          `corpus:    active=${s.corpus.active} retired=${s.corpus.retired} version=${s.corpus.version}`,
          `           ${kv(s.corpus.byCategory)}`,
          `rejected:  total=${s.rejected.total} ${kv(s.rejected.byReason)}`,
          `skipped:   ${kv(s.skipped)}`,
          ...Object.entries(s.cursors).map(([k, v]) => `cursor:    ${k} = ${v}`),
          ...s.runs.map((r) => `run:       ${r.run_id} ${r.command} ${r.repo}@${r.commit.slice(0, 12)} ${r.finished_at}`),
        ].join('\n'),
      );
    });
  });

program
  .command('verify')
  .description('check that pairs resolve: their quoted evidence is at (commit, path, lines) in the repository; commit pairs in their commit')
  .option('--repo <path|url>', 'the repository the pairs were drawn from (default: the configured repo)')
  .option('--n <n>', 'pairs to check, spread evenly over staging', positiveInt('--n'), 500)
  .option('--no-record', 'do not store the outcomes in provenance_checks (the dashboard reads them)')
  .option('--json', 'print JSON')
  .action(async (o: { repo?: string; n: number; record: boolean; json?: boolean }, cmd: Command) => {
    const { cfg, log } = context(cmd, o.repo ? { repo: o.repo } : {});
    const repo = await resolveRepo(cfg.repo, cfg.rev, cfg.dataDir, log);
    await withStores(cfg, async (stores) => {
      const r = await verifyProvenance(stores, repo.path, o.n, { record: o.record });
      if (r.failures.length) process.exitCode = 1;
      if (o.json) return print(r);
      print(
        [
          `checked ${r.checked}: ${r.resolved} resolve, ${r.failures.length} do not; ${r.notCheckable} PR/issue pairs point at GitHub (not checked)`,
          ...Object.entries(r.byKind).map(([k, v]) => `  ${k.padEnd(12)} ${v.resolved}/${v.checked}`),
          ...r.failures.slice(0, 20).map((f) => `  ${f.id} ${f.kind}/${f.category}: ${f.reason}`),
        ].join('\n'),
      );
    });
  });

program
  .command('config')
  .description('print the effective configuration (file < env < flags), secrets masked')
  .action((_o, cmd: Command) => print(maskedConfig(context(cmd).cfg)));

program
  .command('show <id>')
  .description('show one pair wherever it is (corpus, staging, rejected), with verdicts and provenance')
  .action(async (id: string, _o, cmd: Command) => {
    const { cfg } = context(cmd);
    await withStores(cfg, async (stores) => {
      const found = await findPair(stores, id);
      if (!found.length) throw new UserError(`no pair with id ${id}`);
      print(found);
    });
  });

program
  .command('sample')
  .description('print a random sample of corpus pairs')
  .option('--n <n>', 'how many', positiveInt('--n'), 20)
  .addOption(new Option('--category <category>', 'only this category').choices(Category.options))
  .option('--seed <n>', 'random seed', positiveInt('--seed'), 1)
  .option('--json', 'print JSON')
  .action(async (o: { n: number; category?: Category; seed: number; json?: boolean }, cmd: Command) => {
    const { cfg } = context(cmd);
    await withStores(cfg, async (stores) => {
      const pairs = await samplePairs(stores, o.n, o.category, o.seed);
      if (o.json) return print(pairs);
      for (const p of pairs)
        print(`[${p.id}] (${p.category}) ${provenanceLocation(p.provenance)}\nQ: ${p.question}\nA: ${p.answer}\n`);
    });
  });

program
  .command('retire <id>')
  .description('take a pair out of the corpus (kept, marked retired) and out of later runs')
  .requiredOption('--reason <text>', 'why')
  .action(async (id: string, o: { reason: string }, cmd: Command) => {
    const { cfg, log } = context(cmd);
    await withStores(cfg, async (stores) => {
      const r = await retirePair(stores, id, o.reason);
      log.info({ id, reason: o.reason }, 'retired');
      print(r.map((f) => ({ where: f.where, status: f.status })));
    });
  });

program
  .command('search <query>')
  .description('search the active corpus: by vector (the embedder), full text (BM25), or hybrid (both, fused by reciprocal rank)')
  .option('--k <n>', 'how many pairs', positiveInt('--k'), 10)
  .addOption(new Option('--mode <mode>', 'vector | fts | hybrid').choices(['vector', 'fts', 'hybrid']).default('hybrid'))
  .option('--json', 'print the hits as JSON')
  .action(async (query: string, o: { k: number; mode: SearchMode; json?: boolean }, cmd: Command) => {
    const { cfg } = context(cmd);
    await withStores(cfg, async (stores) => {
      const embedder = o.mode === 'fts' ? null : await openEmbedder(cfg);
      try {
        const hits = await searchCorpus(stores, embedder, query, { k: o.k, mode: o.mode });
        if (o.json) return print(hits);
        if (!hits.length) return print('no pairs found (is the corpus promoted? `qaforge promote`)');
        for (const h of hits)
          print(`${h.rank}. [${h.score.toFixed(3)}] (${h.category}) ${h.url ?? `${h.path ?? h.sourceKind}${h.startLine ? `:${h.startLine}-${h.endLine}` : ''}`}\n   Q: ${h.question}\n   A: ${h.answer.split('\n').slice(0, 3).join('\n      ')}`);
      } finally {
        await embedder?.close();
      }
    });
  });

const evalCmd = program.command('eval').description('evaluate the corpus against a hand-written eval set (evals/sets/*.jsonl)');
evalCmd
  .command('retrieval')
  .description('search every question of a set and score the hits against its gold evidence: recall@1/5/10, MRR@10, nDCG@10 per mode and kind, with 95 % bootstrap intervals; stored in the evals table under the corpus version')
  .requiredOption('--set <file>', 'eval set (JSONL, one question per line)')
  .addOption(new Option('--mode <mode>', 'vector | fts | hybrid | all').choices(['vector', 'fts', 'hybrid', 'all']).default('all'))
  .option('--k <n>', 'hits per question', positiveInt('--k'), 10)
  .option('--no-record', 'do not store the result in the evals table')
  .option('--json', 'print the results as JSON')
  .action(async (o: { set: string; mode: SearchMode | 'all'; k: number; record: boolean; json?: boolean }, cmd: Command) => {
    const { cfg } = context(cmd);
    const set = loadEvalSet(o.set);
    const modes = o.mode === 'all' ? SEARCH_MODES : [o.mode];
    await withStores(cfg, async (stores) => {
      if (!(await stores.count('corpus', "status = 'active'"))) throw new UserError('the corpus is empty: run `qaforge backfill` and `qaforge promote` first');
      const embedder = modes.some((m) => m !== 'fts') ? await openEmbedder(cfg) : null;
      try {
        const results = await evalRetrieval(stores, set, { modes, k: o.k, embedder, record: o.record });
        print(o.json ? results : formatEvalTable(results));
      } finally {
        await embedder?.close();
      }
    });
  });

evalCmd
  .command('abstention')
  .description("calibrate the query service's abstention threshold: search every question of the sets as qaforge serve does and pick the best-cosine-similarity threshold that best separates answerable in-scope questions from out-of-scope ones; stored for qaforge serve (state serve:abstain) unless --no-record")
  .requiredOption('--set <file>', 'eval set (JSONL); repeat to pool sets', collect, [])
  .addOption(new Option('--mode <mode>', 'the search mode the service will use').choices(['vector', 'fts', 'hybrid']).default('hybrid'))
  .option('--k <n>', 'hits per question (a gold among them makes a question answerable)', positiveInt('--k'), 10)
  .option('--no-record', 'print the calibration only')
  .option('--json', 'print the calibration as JSON, with every question\'s score')
  .action(async (o: { set: string[]; mode: SearchMode; k: number; record: boolean; json?: boolean }, cmd: Command) => {
    const { cfg } = context(cmd);
    const sets = o.set.map((f) => loadEvalSet(f));
    await withStores(cfg, async (stores) => {
      if (!(await stores.count('corpus', "status = 'active'"))) throw new UserError('the corpus is empty: run `qaforge backfill` and `qaforge promote` first');
      if (!(await stores.corpusVectors())) throw new UserError('the corpus has no vectors: abstention compares cosine similarity, so promote with an embedder first');
      const embedder = await openEmbedder(cfg);
      try {
        const c = await calibrateAbstention(stores, embedder, sets, { k: o.k, mode: o.mode });
        if (o.record) await recordAbstention(stores, c);
        print(o.json ? c : `${formatAbstention(c)}${o.record ? '\nstored: qaforge serve uses it from its next refresh' : ''}`);
      } finally {
        await embedder.close();
      }
    });
  });

// `export --version <tag>`: the tag is resolved to the version it names before the export runs.
program.commands.find((c) => c.name() === 'export')!.hook('preAction', async (cmd) => {
  const v = cmd.opts<{ version?: number | string }>().version;
  if (typeof v !== 'string') return;
  const { cfg } = context(cmd);
  cmd.setOptionValue('version', await withStores(cfg, (stores) => resolveVersion(stores, v)));
});

/** The eval summary in a few characters: its first numbers, or its JSON cut short. */
const shortEval = (s: Record<string, unknown> | null): string => {
  if (!s) return '-';
  const nums = Object.entries(s).filter((e): e is [string, number] => typeof e[1] === 'number');
  if (nums.length) return nums.slice(0, 3).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`).join(' ');
  const j = JSON.stringify(s);
  return j.length > 40 ? `${j.slice(0, 39)}…` : j;
};

const formatVersions = (vs: DatasetVersion[]): string => {
  if (!vs.length) return 'no versions yet (`qaforge promote` makes the first)';
  const rows = vs.map((v) => [
    String(v.version),
    v.at,
    v.kind === 'rollback' ? `rollback to ${v.rolledBackTo}` : v.undoneBy !== null ? `promotion (undone by ${v.undoneBy})` : 'promotion',
    `+${v.inserted}`,
    `-${v.retired}`,
    String(v.active),
    shortEval(v.evalSummary),
    v.tags.join(',') || '-',
    v.reason ?? '',
  ]);
  const head = ['version', 'time', 'kind', 'added', 'retired', 'active', 'eval', 'tags', 'reason'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]!))).join('  ').trimEnd()).join('\n');
};

program
  .command('versions')
  .description('dataset versions, oldest first: time, kind (promotion | rollback), pairs added and retired, active pairs, eval summary, tags')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }, cmd: Command) => {
    const { cfg } = context(cmd);
    await withStores(cfg, async (stores) => {
      const vs = await listVersions(stores);
      print(o.json ? vs : formatVersions(vs));
    });
  });

program
  .command('diff <a> <b>')
  .description('pairs added (active at b, not at a) and retired (active at a, not at b) between two versions (numbers or tags), by source kind and category')
  .option('--samples <n>', 'sample questions per group', (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('--samples must be an integer >= 0');
    return n;
  }, 3)
  .option('--json', 'print JSON')
  .action(async (a: string, b: string, o: { samples: number; json?: boolean }, cmd: Command) => {
    const { cfg } = context(cmd);
    await withStores(cfg, async (stores) => {
      const d = await diffVersions(stores, a, b, { samples: o.samples });
      if (o.json) return print(d);
      const groups = (gs: DiffGroup[]) =>
        gs.flatMap((g) => [`  ${`${g.sourceKind}/${g.category}`.padEnd(32)} ${g.count}`, ...g.samples.map((s) => `      ${s.question}`)]);
      print([`version ${d.from} → ${d.to}: +${d.added.total} added, -${d.retired.total} retired`, 'added:', ...groups(d.added.groups), 'retired:', ...groups(d.retired.groups)].join('\n'));
    });
  });

program
  .command('rollback')
  .description('restore the corpus and its indexes to an earlier version, as a new version; staging follows (pairs the restored corpus lacks wait as validated)')
  .requiredOption('--to <n|tag>', 'the version to restore', versionRef('--to'))
  .requiredOption('--reason <text>', 'why (recorded with the new version)')
  .action(async (o: { to: number | string; reason: string }, cmd: Command) => {
    const { cfg, log } = context(cmd);
    await withStores(cfg, async (stores) => {
      const r = await rollbackTo(stores, await resolveVersion(stores, o.to), o.reason);
      log.info({ version: r.version, restoredFrom: r.restoredFrom, reverted: r.reverted, created: r.created }, r.created ? 'rolled back' : 'already rolled back');
      print(r);
    });
  });

program
  .command('tag <version> <name>')
  .description('name a version (names are unique: [A-Za-z0-9._-]+, not only digits); export, diff and rollback take the name')
  .action(async (version: string, name: string, _o, cmd: Command) => {
    const { cfg } = context(cmd);
    await withStores(cfg, async (stores) => print(await tagVersion(stores, version, name)));
  });

program
  .command('report')
  .description("the corpus's health: provenance on a sample, near-duplicates, coverage of public documented symbols, pairs by kind and category, answer lengths, judge pass rate and reject reasons, split sizes and leakage, retrieval hardness (stored on the pairs, exported)")
  .option('--repo <path|url>', 'the repository checkout for the provenance sample (default: the configured repo)')
  .option('--verify <n>', 'pairs to check for provenance', positiveInt('--verify'), 200)
  .option('--hardness <n>', 'pairs whose question is searched for retrieval hardness', positiveInt('--hardness'), 200)
  .addOption(new Option('--mode <mode>', 'search mode for hardness').choices(['vector', 'fts', 'hybrid']).default('hybrid'))
  .option('--json', 'print JSON')
  .action(async (o: { repo?: string; verify: number; hardness: number; mode: SearchMode; json?: boolean }, cmd: Command) => {
    const { cfg, log } = context(cmd, o.repo ? { repo: o.repo } : {});
    const repo = await resolveRepo(cfg.repo, cfg.rev, cfg.dataDir, log);
    await withStores(cfg, async (stores) => {
      const embedder = o.mode === 'fts' ? null : await openEmbedder(cfg);
      try {
        const r = await qualityReport(stores, { repoPath: repo.path, verifySample: o.verify, hardnessSample: o.hardness, embedder, mode: o.mode, splits: cfg.splits }, log);
        print(o.json ? r : formatReport(r));
      } finally {
        await embedder?.close();
      }
    });
  });

program
  .command('audit')
  .description(
    'a seeded sample stratified by source kind and category, with context and provenance, for a person to grade; the automatic proxies over every pair considered (template concentration, test-code share, duplicate questions, answer informativeness, rejects); --grades scores a filled-in sample',
  )
  .option('--n <n>', 'pairs in the sample', positiveInt('--n'), 150)
  .option('--seed <n>', 'random seed: the same seed gives the same sample', positiveInt('--seed'), 1)
  .addOption(new Option('--from <table>', 'corpus: its active pairs; staging: validated and promoted pairs (default: corpus once anything is promoted, else staging)').choices(['corpus', 'staging']))
  .addOption(new Option('--format <format>', 'how the sample is written; jsonl lines carry blank grades to fill in').choices(AUDIT_FORMATS).default('text'))
  .option('--out <file>', 'write the sample to this file; the proxies go to stdout')
  .option('--grades <file>', 'a filled-in audit JSONL: correct, standalone and useful rates with 95 % Wilson intervals, overall and per source kind and category')
  .option('--json', 'print JSON: strata, sample and proxies (with --grades: the rates)')
  .action(async (o: { n: number; seed: number; from?: AuditFrom; format: AuditFormat; out?: string; grades?: string; json?: boolean }, cmd: Command) => {
    if (o.grades) {
      const r = gradedRates(readGrades(o.grades));
      return print(o.json ? r : formatGradeRates(r));
    }
    const { cfg } = context(cmd);
    await withStores(cfg, async (stores) => {
      const from = o.from ?? (await defaultAuditFrom(stores));
      const a = await auditPairs(stores, { n: o.n, seed: o.seed, from });
      if (!a.proxies.pairs) throw new UserError(`no pairs to audit in ${from} (run \`qaforge backfill\`, then \`qaforge promote\`)`);
      if (o.out) writeAuditSample(a, o.format, o.out);
      if (o.json) return print(a);
      if (o.out) return print(`${formatAuditProxies(a)}\nsample: ${a.sample.length} pairs written to ${o.out} (${o.format})`);
      print(formatAuditSample(a, o.format));
      // JSONL on stdout stays JSONL: the proxies go to stderr.
      if (o.format === 'jsonl') process.stderr.write(`${formatAuditProxies(a)}\n`);
      else print(`\n${formatAuditProxies(a)}`);
    });
  });

registerServeCommands(program);
registerSimulateCommand(program);

registerFeedbackCommands(program);
registerRunsCommands(program);

withBackfillOptions(
  program.command('demo').description('backfill a repository (default huggingface/transformers: code, docs, commits, and PRs/issues when GitHub is reachable), promote, and export QA + chat JSONL'),
)
  .option('--out <dir>', 'export directory (default <data-dir>/export)')
  .option('--local', 'run in this process instead of as a Temporal workflow')
  .action(async (o: BackfillFlags & { out?: string; local?: boolean }, cmd: Command) => {
    const { cfg, log } = context(cmd, backfillFlags(o));
    // Through Temporal by default: the dev server (Web UI on :8233) unless TEMPORAL_ADDRESS is set.
    let run: { repo: string; sha: string; files: number; bytes: number; symbols: Record<string, number>; staged: number; rejected: number; alreadyKnown: number; nearDuplicates: number; outcomes: string };
    let promotion: { version: number; active: number; promoted: number };
    let via = 'in process';
    if (o.local) {
      const { formatOutcomes, runBackfill } = await sources();
      const r = await runBackfill(cfg, log, 'demo');
      run = { ...r, repo: r.repo.repo, sha: r.repo.sha, outcomes: formatOutcomes(r.sources) };
      promotion = await withStores(cfg, (stores) => promoteWithEmbeddings(cfg, stores, log, r.runId));
    } else {
      const r = await (await temporal()).runViaTemporal(cfg, log, 'backfillWorkflow', backfillFlags(o), { promoteAt: 0, ui: true, configPath: configPathOf(cmd) });
      run = r.run;
      promotion = r.promoted ?? { version: 0, active: 0, promoted: 0 };
      via = `Temporal workflow ${r.workflowId} on ${r.address}${r.uiUrl ? ` (UI ${r.uiUrl} while it ran; its history stays in ${cfg.dataDir}/temporal/dev.db)` : ''}`;
    }
    await withStores(cfg, async (stores) => {
      const base = o.out ?? `${cfg.dataDir}/export`;
      const qa = await exportCorpus(stores, { out: `${base}/qa`, format: 'qa', splits: cfg.splits }, log);
      const chat = await exportCorpus(stores, { out: `${base}/chat`, format: 'chat', splits: cfg.splits }, log);
      // One pair from each of a few categories: code, commit history, docs, PRs and issues.
      const sample = (
        await Promise.all((['purpose', 'commit_why', 'doc_section', 'issue_resolution', 'self_instruct'] as const).map((c) => samplePairs(stores, 1, c, 7)))
      ).flat();
      // The corpus answers a question by meaning and by words: one of its own, reworded by nobody.
      const query = sample[0]?.question ?? 'how is the model configured?';
      const embedder = await openEmbedder(cfg);
      const hits = await searchCorpus(stores, embedder, query, { k: 3, mode: 'hybrid' }).finally(() => embedder.close());
      print(
        [
          '',
          `repository  ${run.repo} @ ${run.sha}`,
          `ran         ${via}`,
          `files       ${run.files} (${(run.bytes / 1e6).toFixed(1)} MB)   symbols ${JSON.stringify(run.symbols)}`,
          `pairs       staged ${run.staged}, rejected ${run.rejected}, already known ${run.alreadyKnown}, near-duplicates ${run.nearDuplicates}`,
          ...run.outcomes.split('\n').map((l) => `  ${l}`),
          `corpus      version ${promotion.version}, ${promotion.active} active pairs (+${promotion.promoted} promoted)`,
          `export      ${qa.out} (qa) and ${chat.out} (chat): ${JSON.stringify(qa.bySplit)}`,
          '',
          'a few pairs from the corpus:',
          ...sample.map((p) => `  Q: ${p.question}\n  A: ${p.answer.split('\n').join('\n     ')}\n     (${provenanceLocation(p.provenance)})`),
          '',
          `qaforge search ${JSON.stringify(query)} --mode hybrid --k 3:`,
          ...hits.map((h) => `  ${h.rank}. (${h.category}) ${h.question}\n     ${h.url ?? h.path ?? h.sourceKind}`),
        ].join('\n'),
      );
    });
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof UserError) {
    process.stderr.write(`qaforge: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  const err = e as Error;
  process.stderr.write(`qaforge: unexpected error: ${err.message}\n`);
  if (process.env.QAFORGE_DEBUG) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}
