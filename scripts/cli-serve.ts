// `qaforge serve` and `qaforge keys create|list|revoke`: the query service and its API keys.
import { Command, Option } from 'commander';
import { resolveRepo } from '../activities/repo.js';
import { promoteWithEmbeddings } from '../datasets/promote.js';
import { verifyProvenance } from '../evals/verify.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { createKey, listKeys, revokeKey, Role } from '../serve/keys.js';
import { context, print, withStores } from './cli-common.js';

export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('serve the corpus over HTTP: /v1/query, /v1/chat/completions (OpenAI-compatible), /v1/feedback, /v1/search, /v1/pairs/:id, /healthz, /readyz, /metrics')
    .option('--host <host>', 'interface to listen on (default 127.0.0.1)')
    .option('--port <port>', 'port (default 8080; 0 = any free port)', (v) => Number(v))
    .option('--dev', 'no API key needed (loopback hosts only)')
    .option('--print-curl', 'create a query key and an admin key named demo-<time>, and print a ready-to-paste curl and the dashboard URL with them')
    .option('--demo', 'when the corpus has no active pairs, build one first: backfill code, docs and commits of the repository (--repo, or the configured one) and promote')
    .option('--repo <path|url>', 'with --demo: the repository to build the corpus from')
    .action(async (o: { host?: string; port?: number; dev?: boolean; printCurl?: boolean; demo?: boolean; repo?: string }, cmd: Command) => {
      const { cfg, log } = context(cmd, { serve: { ...(o.host ? { host: o.host } : {}), ...(o.port !== undefined ? { port: o.port } : {}) }, ...(o.repo ? { repo: o.repo } : {}) });
      if (o.demo) await buildDemoCorpus(cfg, log);
      const { startQueryService } = await import('../serve/app.js');
      const demoName = `demo-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
      const keys = o.printCurl
        ? await withStores(cfg, async (s) => ({ query: await createKey(s, demoName, 'query'), admin: o.dev ? null : await createKey(s, `${demoName}-admin`, 'admin') }))
        : null;
      // Handlers first: a SIGTERM while the service starts still closes it cleanly once it is up.
      let svc: Awaited<ReturnType<typeof startQueryService>> | null = null;
      let stopping = false;
      let closing = false;
      const stop = () => {
        stopping = true;
        if (!svc || closing) return;
        closing = true;
        void svc.close().then(() => process.exit(0));
      };
      // `on`, not `once`: signal-exit (loaded with the local chat model) re-raises a signal that has no
      // other listener left, which killed the server mid-close after a generative answer.
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, stop);
      svc = await startQueryService(cfg, { dev: o.dev, log });
      if (stopping) return stop();
      if (keys)
        print(
          [
            `\ncurl -s ${svc.url}/v1/query -H 'authorization: Bearer ${keys.query.key}' -H 'content-type: application/json' -d '{"question": "How is the LoRA scaling factor computed?"}'`,
            `dashboard: ${svc.url}/dashboard${keys.admin ? ` (admin key, asked once: ${keys.admin.key})` : ''}`,
            `traffic for its online and drift panels: npx qaforge simulate --url ${svc.url} --key ${keys.query.key} --questions evals/sets/peft.jsonl --rate 5 --duration 60s\n`,
          ].join('\n'),
        );
    });

  const keys = program.command('keys').description('API keys of qaforge serve (only a hash of each is stored)');
  keys
    .command('create')
    .requiredOption('--name <name>', 'who the key is for (shown in the query log instead of the key)')
    .addOption(new Option('--role <role>', 'query: ask and give feedback; admin: also read the query log').choices(Role.options).default('query'))
    .description('create a key and print it once')
    .action(async (o: { name: string; role: Role }, cmd: Command) => {
      const { cfg } = context(cmd);
      const k = await withStores(cfg, (s) => createKey(s, o.name, o.role));
      print(`${k.key}\n(key ${k.name}, role ${k.role}: shown once; only its hash is stored)`);
    });
  keys
    .command('list')
    .description('keys by name, role, prefix and state')
    .option('--json', 'as JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const { cfg } = context(cmd);
      const all = await withStores(cfg, listKeys);
      print(o.json ? all : all.map((k) => `${k.name}\t${k.role}\t${k.prefix}…\t${k.created_at}\t${k.revoked_at ? `revoked ${k.revoked_at}` : 'active'}`).join('\n') || '(no keys)');
    });
  keys
    .command('revoke <name>')
    .description('revoke a key: a running server refuses it within serve.refreshMs')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { cfg } = context(cmd);
      await withStores(cfg, (s) => revokeKey(s, name));
      print(`revoked ${name}`);
    });
}

/**
 * `serve --demo`: an empty corpus is first built from the repository (code, docs, commits; rules and
 * the configured model sample), promoted, and its provenance checked (the dashboard's quality panel
 * shows the rate).
 */
async function buildDemoCorpus(cfg: Config, log: Logger): Promise<void> {
  const active = await withStores(cfg, (s) => s.count('corpus', "status = 'active'"));
  if (active) return;
  log.info({ repo: cfg.repo }, 'the corpus is empty: building it from the repository first (backfill code, docs, commits; then promote)');
  // The sources load only here, for --demo on an empty corpus.
  const { runBackfill } = await import('../activities/backfill.js');
  const run = await runBackfill({ ...cfg, sources: ['code', 'docs', 'commits'] }, log, 'serve-demo');
  const p = await withStores(cfg, (s) => promoteWithEmbeddings(cfg, s, log, run.runId));
  const repo = await resolveRepo(cfg.repo, cfg.rev, cfg.dataDir, log);
  const v = await withStores(cfg, (s) => verifyProvenance(s, repo.path, 500, { record: true }));
  print(`corpus version ${p.version}: ${p.active} active pairs (+${p.promoted} promoted); provenance: ${v.resolved}/${v.checked} checked pairs resolve`);
}
