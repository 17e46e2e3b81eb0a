// Worker-thread entry for piscina: runs a code batch off the main thread.
import { setImmediate as turnOfEventLoop } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread } from 'node:worker_threads';
import { workerFault } from '../lib/failpoint.js';
import { extractCodeBatch, extractLargeFileAhead, processCodeBatch, type CodeBatchInput } from './code-batch.js';

// tree-sitter frees a syntax tree's native memory in a finalizer that runs only after V8 collected
// its JS wrapper *and* the event loop turned; V8 does not see that memory. Without both steps RSS
// grew past 1.3 GB on diffusers (45 MB of Python); with them it stays near the JS heap.
// Worker threads cannot take --expose-gc, so the gc function is fetched at run time.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;

export default async function run(input: CodeBatchInput & { extractOnly?: boolean }) {
  for (const f of input.files) workerFault(f.path, !isMainThread);
  // A share of a large file: its parse tree (hundreds of MB of native memory for a few MB of code)
  // is given back before the share's pairs are made, not kept beside them.
  const share = input.files.length === 1 && input.files[0]!.part ? input.files[0]! : null;
  if (share && extractLargeFileAhead(share, input.maxLineChars)) {
    gc();
    await turnOfEventLoop();
  }
  const out = input.extractOnly ? extractCodeBatch(input) : processCodeBatch(input);
  gc({ type: 'minor' });
  await turnOfEventLoop();
  return out;
}
