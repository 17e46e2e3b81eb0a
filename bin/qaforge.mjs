#!/usr/bin/env node
// qaforge entry point. Runs the compiled copy under .build/ (made by `npm run build`, and by `npm test`)
// when it is at least as new as every TypeScript source; otherwise the sources themselves, through
// tsx. The compiled copy starts in about half the time (no loader hooks translating each module),
// which every CLI call, worker thread and test that runs the CLI pays.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// LanceDB's scanner warns on every hybrid search that it still adds _score/_distance to the selected
// columns (a future change; the Node client cannot opt in yet): keep its other warnings.
process.env.LANCEDB_LOG ??= 'warn,lance::dataset::scanner=error';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const SOURCE_DIRS = ['activities', 'dashboard', 'datasets', 'evals', 'extractors', 'generators', 'lib', 'scripts', 'serve', 'types', 'validators', 'workflows'];

/** Whether .build/ was compiled after the last change to any source (a missing stamp: never). */
function buildIsFresh() {
  let stamp;
  try {
    stamp = statSync(join(root, '.build', '.stamp')).mtimeMs;
  } catch {
    return false;
  }
  for (const dir of SOURCE_DIRS) {
    let names;
    try {
      names = readdirSync(join(root, dir), { recursive: true });
    } catch {
      continue;
    }
    for (const name of names)
      if (name.endsWith('.ts') && !name.endsWith('.test.ts') && statSync(join(root, dir, name)).mtimeMs > stamp) return false;
  }
  return true;
}

if (process.env.QAFORGE_FROM_SOURCES !== '1' && buildIsFresh()) await import(pathToFileURL(join(root, '.build', 'scripts', 'cli.js')).href);
else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../scripts/cli.ts');
}
