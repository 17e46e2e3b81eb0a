#!/usr/bin/env node
// qaforge entry point: loads the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../scripts/cli.ts');
