import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'data/**', '.scratch/**', '.build/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two test files at a time. Vitest's default is one fewer than the cores, so a 2-core CI machine ran
    // every file one after another; the e2e files spend much of their time waiting on child processes,
    // the Temporal server and timers, so a second file at once uses the idle core.
    maxWorkers: 2,
    // Rules only unless a test asks for model-written pairs (the local models take seconds per record).
    // LanceDB's scanner warns on every hybrid search about a future change to selected columns (as bin/qaforge.mjs silences it).
    env: { QAFORGE_LLM_SAMPLE: '0', LANCEDB_LOG: 'warn,lance::dataset::scanner=error' },
  },
});
