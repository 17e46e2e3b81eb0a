// Every key of the `state` table, in one place: who writes it is named beside it. A key is a string
// the store keeps with the run that set it; values are JSON or plain strings.
import type { SourceName } from '../lib/config.js';

/** A source's cursor for a repository (last commit sha, GitHub `since`): moved only after what it covers is staged. */
export const cursorKey = (source: SourceName, repo: string) => `${cursorPrefix(source)}${repo}`;
export const cursorPrefix = (source: SourceName) => `cursor:${source}:`;

/** A GitHub listing's `since` cursor (issues, comments, …) for a repository. */
export const listingCursorKey = (slug: string, listing: string) => `github:${slug}:cursor:${listing}`;
/** The ETag of a GitHub listing's first page (activities/github.ts), for a conditional request next time. */
export const githubEtagKey = (slug: string, listing: string, since: string) => `github:${slug}:etag:${listing}:${since}`;
/** How far the GitHub items of a repository were built into records (activities/github-source.ts). */
export const githubBuiltSeqKey = (slug: string) => `github:${slug}:built_seq`;

/** A record a model step (self-instruct or paraphrase) has done with a model, so a re-run skips it. */
export const modelDoneKey = (task: string, model: string, id: string) => `${task === 'paraphrase' ? 'paraphrase' : 'selfinstruct'}:${model}:${id}`;

/** The last quality-gate result before a promotion, and the last eval gate after one (activities/temporal.ts). */
export const GATES_LAST_KEY = 'gates:last';
export const GATES_EVAL_LAST_KEY = 'gates:eval:last';
/** The fine-tune trigger's outcome for a corpus version. */
export const fineTuneKey = (version: number) => `finetune:v${version}`;
/** The corpus version of a fineTuneKey, or null when the key is not one. */
export const fineTuneVersionOf = (key: string): number | null => {
  const m = /^finetune:v(\d+)$/.exec(key);
  return m ? Number(m[1]) : null;
};

/** The feedback workflow's last retrain mark. */
export const RETRAIN_KEY = 'feedback:retrain:last';
/** The query service's calibrated abstention threshold (evals/abstention.ts). */
export const ABSTAIN_KEY = 'serve:abstain';
/** The embedder and text the corpus's vectors were made with (datasets/store.ts). */
export const CORPUS_VECTORS_KEY = 'corpus:vectors';

/** Keys that say where a source's next ingest starts: the cursors above and the GitHub rebuild mark (a rollback restores them). */
export const isCursorKey = (key: string) => /(^cursor:|:cursor:|:built_seq$)/.test(key);
