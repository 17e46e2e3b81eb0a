#!/usr/bin/env node
// qaforge entry point: loads the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

// LanceDB's scanner warns on every hybrid search that it still adds _score/_distance to the selected
// columns (a future change; the Node client cannot opt in yet): keep its other warnings.
process.env.LANCEDB_LOG ??= 'warn,lance::dataset::scanner=error';
register();
await import('../scripts/cli.ts');
