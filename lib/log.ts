// One pino logger for the process, on stderr; human-readable on a TTY, JSON lines otherwise.
import { pino, destination, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

const REDACT = ['githubToken', 'hfToken', '*.githubToken', '*.hfToken', 'token', '*.token', 'headers.authorization'];

export function createLogger(level: string = 'info', pretty_ = process.stderr.isTTY): Logger {
  const opts = { level, redact: { paths: REDACT, censor: '****' }, base: undefined };
  if (pretty_) return pino(opts, pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname' }));
  return pino(opts, destination({ dest: 2, sync: true }));
}
