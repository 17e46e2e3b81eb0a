// Where the project's own files are, whether this code runs from its TypeScript sources (through tsx
// or vitest) or from the compiled copy under .build/ (what bin/qaforge.mjs runs once `npm run build`
// has made one that is not older than the sources). Files that are not code — prompts, seed tasks,
// eval sets, the dashboard's page, models and tools — are always read from the project itself.
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

/** The compiled copy's directory, under the project root. */
export const BUILD_DIR = '.build';

function findRoot(): string {
  // lib/ in the sources, .build/lib/ in the compiled copy.
  const up = dirname(dirname(fileURLToPath(import.meta.url)));
  return basename(up) === BUILD_DIR ? dirname(up) : up;
}

/** The project's root directory (where package.json is), with no trailing separator. */
export const PROJECT_ROOT = findRoot();

/** A file of the project, by its path from the root (e.g. `generators/prompts/judge.v1.md`). */
export const projectFile = (path: string): string => join(PROJECT_ROOT, path);

/**
 * The piscina options of a worker-thread entry point next to the caller's module, as the caller runs:
 * `name.ts` loaded through tsx (by absolute URL, so the working directory does not matter) beside a
 * TypeScript source, `name.js` as it is beside a compiled one.
 */
export function workerEntry(callerUrl: string, name: string): { filename: string; execArgv: string[] } {
  const fromSources = callerUrl.endsWith('.ts');
  return {
    filename: new URL(`./${name}${fromSources ? '.ts' : '.js'}`, callerUrl).href,
    execArgv: fromSources ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [],
  };
}
