// Worker-thread entry for piscina: runs processCodeBatch off the main thread.
import { processCodeBatch, type CodeBatchInput } from './code-batch.js';

export default function run(input: CodeBatchInput) {
  return processCodeBatch(input);
}
