// Crash points for the crash-and-restart tests: with QAFORGE_FAILPOINT=<name>, the process dies at
// that point as if killed (no cleanup, no flush), so a re-run must recover from what was durable.
export function failpoint(name: string): void {
  if (process.env.QAFORGE_FAILPOINT === name) {
    process.stderr.write(`qaforge: failpoint ${name}: exiting abruptly\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

/**
 * Faults inside a code worker thread, for the tests of a dying worker: with
 * QAFORGE_WORKER_FAULT="crash:<path>,oom:<path>,hang:<path>", the worker that takes <path> exits,
 * fills its heap to the limit, or never returns. Never on the main thread.
 */
export function workerFault(path: string, isWorkerThread: boolean): void {
  const spec = process.env.QAFORGE_WORKER_FAULT;
  if (!spec || !isWorkerThread) return;
  for (const item of spec.split(',')) {
    const at = item.indexOf(':');
    if (item.slice(at + 1) !== path) continue;
    const kind = item.slice(0, at);
    if (kind === 'crash') process.exit(70);
    if (kind === 'oom') {
      const hog: number[][] = [];
      for (;;) hog.push(new Array(1 << 16).fill(hog.length));
    }
    if (kind === 'hang') for (;;);
  }
}
