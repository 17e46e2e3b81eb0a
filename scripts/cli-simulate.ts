// `qaforge simulate`: synthetic, seeded load on a running `qaforge serve` from the hand-written eval sets.
import { closeSync, openSync, writeSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UserError } from '../lib/errors.js';
import { loadEvalSet } from '../evals/set.js';
import { formatSimulationLine, parseDuration, runSimulation, SIMULATE_ANSWERS, SIMULATE_MODES, type SimulateAnswer, type SimulateMode } from '../serve/simulate.js';
import { collect, context, positiveInt, print } from './cli-common.js';

const positiveNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number above 0`);
  return n;
};

const share = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be a number in [0, 1]`);
  return n;
};

const duration = (name: string) => (v: string) => {
  try {
    return parseDuration(v);
  } catch (e) {
    throw new InvalidArgumentError(`${name}: ${(e as Error).message}`);
  }
};

interface SimulateFlags {
  url?: string;
  key?: string;
  questions: string[];
  rate: number;
  duration: number;
  max?: number;
  seed: number;
  feedbackRate: number;
  mode: SimulateMode;
  answer: SimulateAnswer;
  allowRemote?: boolean;
  concurrencyCap: number;
  timeout: number;
  json?: boolean;
  record?: string;
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'send eval-set questions to a running `qaforge serve` as seeded Poisson arrivals (marked synthetic), rate a share of the answers against the gold evidence, and report throughput, errors and latency',
    )
    .option('--url <url>', 'base URL of the service (default http://<serve.host>:<serve.port> from the configuration)')
    .addOption(new Option('--key <key>', 'API key (query role)').env('QAFORGE_API_KEY'))
    .requiredOption('--questions <jsonl>', 'an eval set (evals/sets/*.jsonl); repeat to mix sets', collect)
    .option('--rate <n>', 'offered load: requests per second', positiveNumber('--rate'), 5)
    .addOption(new Option('--duration <d>', 'send for at most this long (500ms, 60s, 2m)').argParser(duration('--duration')).default(60_000, '60s'))
    .option('--max <n>', 'send at most this many queries', positiveInt('--max'))
    .option('--seed <n>', 'random seed: the same seed gives the same arrivals, questions and feedback choices', positiveInt('--seed'), 1)
    .option('--feedback-rate <p>', 'share of answered queries that get feedback', share('--feedback-rate'), 0.1)
    .addOption(new Option('--mode <mode>', 'retrieval mode').choices(SIMULATE_MODES).default('hybrid'))
    .addOption(new Option('--answer <answer>', 'answer mode').choices(SIMULATE_ANSWERS).default('extractive'))
    .option('--allow-remote', 'allow a host that is not 127.0.0.1, ::1 or localhost')
    .option('--concurrency-cap <n>', 'requests in flight at most; queries over it wait (and are counted)', positiveInt('--concurrency-cap'), 256)
    .addOption(new Option('--timeout <d>', 'per-request timeout').argParser(duration('--timeout')).default(35_000, '35s'))
    .option('--json', 'print the summary as JSON on stdout (the one-line summary goes to stderr)')
    .option('--record <file>', 'write one JSON line per acknowledged response as it arrives: {type: "query", query_id, question} for a 200, {type: "feedback", feedback_id, query_id, rating, duplicate} for a 201, each with at_ms from the start')
    .action(async (o: SimulateFlags, cmd: Command) => {
      const { cfg, log } = context(cmd);
      if (!o.key) throw new UserError('an API key is needed: --key <key> or QAFORGE_API_KEY (a query-role key of the service)');
      // A server listening on every interface is reached on loopback.
      const host = ['0.0.0.0', '::', ''].includes(cfg.serve.host) ? '127.0.0.1' : cfg.serve.host;
      const url = o.url ?? `http://${host.includes(':') ? `[${host}]` : host}:${cfg.serve.port}`;
      const items = o.questions.flatMap((p) => loadEvalSet(p).items);
      // Written line by line, unbuffered: what was acknowledged is in the file even if this process dies.
      const record = o.record ? openSync(o.record, 'w') : null;
      const summary = await runSimulation({
        url,
        key: o.key,
        items,
        rate: o.rate,
        durationMs: o.duration,
        max: o.max,
        seed: o.seed,
        feedbackRate: o.feedbackRate,
        mode: o.mode,
        answer: o.answer,
        allowRemote: o.allowRemote,
        concurrencyCap: o.concurrencyCap,
        timeoutMs: o.timeout,
        log,
        ...(record !== null ? { onAcknowledged: (a) => void writeSync(record, `${JSON.stringify(a)}\n`) } : {}),
      }).finally(() => record !== null && closeSync(record));
      if (o.json) {
        process.stderr.write(`${formatSimulationLine(summary)}\n`);
        print(summary);
      } else print(formatSimulationLine(summary));
      if (summary.sent && summary.errors.network === summary.sent) {
        process.stderr.write(`qaforge: no response from ${url} to any query: is \`qaforge serve\` running there?\n`);
        process.exitCode = 1;
      }
    });
}
