// Crash points for the crash-and-restart tests: with QAFORGE_FAILPOINT=<name>, the process dies at
// that point as if killed (no cleanup, no flush), so a re-run must recover from what was durable.
export function failpoint(name: string): void {
  if (process.env.QAFORGE_FAILPOINT === name) {
    process.stderr.write(`qaforge: failpoint ${name}: exiting abruptly\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
