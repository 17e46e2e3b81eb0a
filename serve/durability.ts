// Durability of `qaforge serve` under SIGKILL: start the real server as a child process, load it
// (runSimulation), kill -9 it mid-load, restart it on the same data dir so it replays its journal,
// stop it cleanly, and check the query and feedback tables against every response the client had
// acknowledged: each id exactly once, with what was sent. No timing is judged here; the counts and
// the kill time are returned for a benchmark to report.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Stores } from '../datasets/store.js';
import { loadEvalSet, type EvalItem } from '../evals/set.js';
import { readSegment } from './journal.js';
import { runSimulation, type Acknowledged, type SimulationOptions, type SimulationSummary } from './simulate.js';
import { projectFile } from '../lib/paths.js';

export const QAFORGE_BIN = projectFile('bin/qaforge.mjs');

interface Pair<T> {
  queries: T;
  feedback: T;
}

export interface ServeProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  /** What the server's start replayed from the journal a previous process left (its log line). */
  replayed: Pair<number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its log so far (JSON lines). */
  log(): string;
}

/**
 * `qaforge <cliArgs> serve --port <port, default 0> <serveArgs>` as a child process; resolves once it listens (the journal is
 * replayed before that), with the URL and the replay counts read from its log.
 */
export function startServeProcess(o: { cliArgs: string[]; bin?: string; port?: number; serveArgs?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ServeProcess> {
  const child = spawn(process.execPath, [o.bin ?? QAFORGE_BIN, ...o.cliArgs, 'serve', '--port', String(o.port ?? 0), ...(o.serveArgs ?? [])], {
    env: { ...process.env, ...o.env, QAFORGE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  let partial = '';
  const replayed = { queries: 0, feedback: 0 };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`qaforge serve did not listen within ${o.timeoutMs ?? 60_000} ms; its log:\n${log.slice(-4000)}`));
    }, o.timeoutMs ?? 60_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      fail(new Error(`qaforge serve exited (${code ?? signal}) before it listened; its log:\n${log.slice(-4000)}`));
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log += chunk;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        let entry: { msg?: string; url?: string; queries?: number; feedback?: number };
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        if (entry.msg === 'journal replayed into the query log') Object.assign(replayed, { queries: entry.queries ?? 0, feedback: entry.feedback ?? 0 });
        if (typeof entry.url === 'string' && entry.msg?.startsWith('qaforge serve listening')) {
          const url = entry.url;
          // Ready once it answers: by then the command has also set up its SIGTERM handler (after the log line).
          void (async () => {
            for (;;) {
              const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
              await res?.arrayBuffer();
              if (res?.ok) break;
              await new Promise((r) => setTimeout(r, 50));
            }
            clearTimeout(timer);
            ok({ child, pid: child.pid!, url, replayed, exited, log: () => log });
          })();
        }
      }
    });
  });
}

/** SIGTERM (a clean close: requests finished, the journal moved into the tables) and the exit. */
export async function stopServeProcess(p: ServeProcess): Promise<void> {
  p.child.kill('SIGTERM');
  const { code, signal } = await p.exited;
  if (code !== 0) throw new Error(`qaforge serve exited ${code ?? signal} on SIGTERM; its log:\n${p.log().slice(-4000)}`);
}

/** Rows (the first of each key per segment) and torn lines in the journal segments left in a data dir. */
export function journalLeft(dataDir: string): Pair<number> & { tornLines: number } {
  const dir = join(resolve(dataDir), 'serve', 'journal');
  const out = { queries: 0, feedback: 0, tornLines: 0 };
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)) {
    const table = f.startsWith('queries-') ? 'queries' : f.startsWith('feedback-') ? 'feedback' : null;
    if (!table || !f.endsWith('.jsonl')) continue;
    const { rows, torn } = readSegment(join(dir, f), table === 'queries' ? 'query_id' : 'feedback_id');
    out[table] += rows.length;
    out.tornLines += torn;
  }
  return out;
}

export interface AcknowledgedCheck {
  /** Distinct acknowledged ids. */
  acknowledged: Pair<number>;
  /** Of those, present in the table (once or more). */
  found: Pair<number>;
  lost: Pair<string[]>;
  /** Present more than once. */
  duplicates: Pair<string[]>;
  /** Present with other content than was sent: a query's question, a feedback's query_id. */
  mismatched: Pair<string[]>;
}

/** Reads the queries and feedback tables of a data dir and checks every acknowledged response against them. */
export async function checkAcknowledged(dataDir: string, records: Acknowledged[]): Promise<AcknowledgedCheck> {
  const queries = new Map<string, string>();
  const feedback = new Map<string, string>();
  for (const r of records) {
    if (r.type === 'query') queries.set(r.query_id, r.question.trim());
    else feedback.set(r.feedback_id, r.query_id);
  }
  const stores = await Stores.open(dataDir);
  try {
    const check = async (table: 'queries' | 'feedback', key: string, field: string, sent: Map<string, string>) => {
      const seen = new Map<string, number>();
      const mismatched = new Set<string>();
      for await (const rows of stores.scan(table, [key, field]))
        for (const row of rows) {
          const id = row[key] as string;
          if (!sent.has(id)) continue;
          seen.set(id, (seen.get(id) ?? 0) + 1);
          if (row[field] !== sent.get(id)) mismatched.add(id);
        }
      return {
        acknowledged: sent.size,
        found: seen.size,
        lost: [...sent.keys()].filter((id) => !seen.has(id)),
        duplicates: [...seen].filter(([, n]) => n > 1).map(([id]) => id),
        mismatched: [...mismatched],
      };
    };
    const q = await check('queries', 'query_id', 'question', queries);
    const f = await check('feedback', 'feedback_id', 'query_id', feedback);
    const pair = <K extends keyof typeof q>(k: K) => ({ queries: q[k], feedback: f[k] });
    return { acknowledged: pair('acknowledged'), found: pair('found'), lost: pair('lost'), duplicates: pair('duplicates'), mismatched: pair('mismatched') };
  } finally {
    stores.close();
  }
}

export interface KillUnderLoadOptions {
  /** The server's data dir (its journal and tables), read after the restart. */
  dataDir: string;
  /** The server's configuration file (--config). */
  configFile?: string;
  /** More global qaforge arguments for the server. */
  cliArgs?: string[];
  /** The qaforge entry point (default: this checkout's bin/qaforge.mjs). */
  bin?: string;
  /** Port to serve on (default: any free one, read from the server's log). */
  port?: number;
  /** More environment for the server processes. */
  env?: NodeJS.ProcessEnv;
  /** A query-role API key of the server. */
  key: string;
  /** The questions: eval items, or eval set files (JSONL). */
  items?: EvalItem[];
  questions?: string | string[];
  /** The load, as runSimulation takes it; DEFAULT_KILL_LOAD for what is not given. */
  load?: Partial<Omit<SimulationOptions, 'url' | 'key' | 'items' | 'onAcknowledged' | 'signal'>>;
  /** SIGKILL once this many responses are acknowledged (queries and feedback together, or at least so many of each)... */
  killAfterAcks?: number | { queries?: number; feedback?: number };
  /** ...or this long after the load started (default: half the planned load), whichever comes first; at the load's end at the latest. */
  killAfterMs?: number;
  /** The load goes on this long after the kill (connections refused), then stops (default 500 ms). */
  sendAfterKillMs?: number;
  /** Bound on each server start (default 60 s). */
  startTimeoutMs?: number;
  /** Every acknowledged response, as it arrives. */
  onAcknowledged?: (a: Acknowledged) => void;
}

/** About 6 s of Poisson load at 50/s, a third of the answers rated. */
export const DEFAULT_KILL_LOAD = {
  rate: 50,
  durationMs: 30_000,
  max: 300,
  seed: 1,
  feedbackRate: 0.3,
  mode: 'hybrid',
  answer: 'extractive',
  concurrencyCap: 64,
  timeoutMs: 10_000,
} satisfies Partial<SimulationOptions>;

export interface KillUnderLoadResult extends AcknowledgedCheck {
  /** When the SIGKILL was sent, ms from the start of the load. */
  killAtMs: number;
  /** Requests sent and not yet answered when it was sent. */
  inFlightAtKill: number;
  /** Journal rows (and torn lines) the killed server left on disk. */
  leftInJournal: Pair<number> & { tornLines: number };
  /** What the restarted server replayed from them (its log). */
  replayed: Pair<number>;
  /** The simulator's counts: what was sent, answered, refused and dropped by the kill. */
  summary: SimulationSummary;
}

/** One round: start, load, SIGKILL, restart (replay), clean stop, check. The data dir is left ready for the next round. */
export async function killUnderLoad(o: KillUnderLoadOptions): Promise<KillUnderLoadResult> {
  const items = [...(o.items ?? []), ...[o.questions ?? []].flat().flatMap((p) => loadEvalSet(p).items)];
  const load = { ...DEFAULT_KILL_LOAD, ...o.load };
  const serve = {
    bin: o.bin,
    cliArgs: [...(o.configFile ? ['--config', o.configFile] : []), '--data-dir', o.dataDir, ...(o.cliArgs ?? [])],
    env: o.env,
    timeoutMs: o.startTimeoutMs,
    port: o.port,
  };
  const killAfterMs = o.killAfterMs ?? Math.min(load.durationMs, ((load.max ?? Infinity) / load.rate) * 1000) / 2;
  const server = await startServeProcess(serve);
  const acks = { query: 0, feedback: 0 };
  const k = o.killAfterAcks;
  const enough = () => (k === undefined ? false : typeof k === 'number' ? acks.query + acks.feedback >= k : acks.query >= (k.queries ?? 0) && acks.feedback >= (k.feedback ?? 0));
  let inFlight = 0;
  const at: { kill: { ms: number; inFlight: number } | null } = { kill: null };
  const stop = new AbortController();
  let stopTimer: NodeJS.Timeout | null = null;
  let started = performance.now();
  const killNow = () => {
    if (at.kill) return;
    at.kill = { ms: performance.now() - started, inFlight };
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch (e) {
      // Already gone (it crashed): the check below still holds it to what it acknowledged.
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
    stopTimer = setTimeout(() => stop.abort(), o.sendAfterKillMs ?? 500);
  };
  // Whole exchanges counted in flight: the body is read here, before the simulator sees the response.
  const countingFetch = async (input: string, init: RequestInit) => {
    inFlight++;
    try {
      const res = await fetch(input, init);
      const body = await res.arrayBuffer();
      return new Response([101, 204, 205, 304].includes(res.status) ? null : body, { status: res.status, statusText: res.statusText, headers: res.headers });
    } finally {
      inFlight--;
    }
  };
  const records: Acknowledged[] = [];
  let summary: SimulationSummary;
  let timer: NodeJS.Timeout | null = null;
  try {
    started = performance.now();
    timer = setTimeout(killNow, killAfterMs);
    summary = await runSimulation(
      {
        ...load,
        url: server.url,
        key: o.key,
        items,
        signal: stop.signal,
        onAcknowledged: (a) => {
          records.push(a);
          o.onAcknowledged?.(a);
          acks[a.type]++;
          if (enough()) killNow();
        },
      },
      countingFetch,
    );
  } finally {
    if (timer) clearTimeout(timer);
    killNow();
    if (stopTimer) clearTimeout(stopTimer);
    await server.exited;
  }
  const leftInJournal = journalLeft(o.dataDir);
  const restarted = await startServeProcess(serve);
  const replayed = { ...restarted.replayed };
  await stopServeProcess(restarted);
  const check = await checkAcknowledged(o.dataDir, records);
  return { ...check, killAtMs: Math.round(at.kill!.ms), inFlightAtKill: at.kill!.inFlight, leftInJournal, replayed, summary };
}
