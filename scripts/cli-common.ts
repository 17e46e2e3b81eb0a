// What every command group of the CLI shares: the effective configuration and logger of a command,
// the stores opened for one command, printing, and argument parsers.
import { Command, InvalidArgumentError } from 'commander';
import { Stores } from '../datasets/store.js';
import { loadConfig, type Config, type ConfigInput } from '../lib/config.js';
import { createLogger, type Logger } from '../lib/log.js';

interface GlobalOpts {
  dataDir?: string;
  config?: string;
  logLevel?: string;
}

export const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

export const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The configuration (file < env < these flags < global flags) and a logger for one command. */
export function context(cmd: Command, flags: Partial<ConfigInput> = {}): { cfg: Config; log: Logger } {
  const g = cmd.optsWithGlobals<GlobalOpts>();
  const cfg = loadConfig({
    configPath: g.config,
    flags: { ...flags, ...(g.dataDir ? { dataDir: g.dataDir } : {}), ...(g.logLevel ? { logLevel: g.logLevel as Config['logLevel'] } : {}) },
  });
  return { cfg, log: createLogger(cfg.logLevel) };
}

export const configPathOf = (cmd: Command) => cmd.optsWithGlobals<GlobalOpts>().config;

/** Opens the stores for one command and always closes them. */
export async function withStores<T>(cfg: Config, fn: (stores: Stores) => Promise<T>): Promise<T> {
  const stores = await Stores.openFor(cfg);
  try {
    return await fn(stores);
  } finally {
    stores.close();
  }
}

export const print = (v: unknown): void => {
  process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`);
};
