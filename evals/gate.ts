// The eval gate after a promotion: the new corpus version is scored with the retrieval eval; when its
// recall@10 falls more than gates.maxEvalDrop below the last accepted version's, the corpus is rolled
// back to that version (the batch goes back to staging, with the reason) and nothing downstream runs.
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { openEmbedder } from '../lib/models/index.js';
import type { Stores } from '../datasets/store.js';
import { lastAcceptedVersion, rollbackTo, setVersionEval } from '../datasets/versions.js';
import { meansOf } from './metrics.js';
import { evalRetrieval } from './retrieval.js';
import { loadEvalSet, type EvalSet } from './set.js';
import { projectFile } from '../lib/paths.js';

/** What a version's eval summary holds (stored with the version; the dashboard reads it). */
export interface VersionEvalSummary {
  set_id: string;
  set_hash: string;
  mode: string;
  embedder: string;
  k: number;
  questions: number;
  recall_at_1: number;
  recall_at_5: number;
  recall_at_10: number;
  mrr_at_10: number;
  ndcg_at_10: number;
}

export interface EvalGateResult {
  passed: boolean;
  /** Why the gate did not score this version (no set for the repository): it passes. */
  skipped: string | null;
  version: number;
  set: string | null;
  after: VersionEvalSummary | null;
  /** The last accepted version and its figures, when they were scored on the same set, mode and embedder. */
  before: (VersionEvalSummary & { version: number }) | null;
  /** Why it failed; null when it passed. */
  reason: string | null;
  rollback: { version: number; restoredFrom: number; reverted: number } | null;
}

const SETS_DIR = projectFile('evals/sets/');

/** The repository the corpus is about, as its pairs name it (owner/name when it was known). */
async function corpusRepo(stores: Stores): Promise<string | null> {
  for await (const rows of stores.scan('corpus', ['repo'], "status = 'active'")) if (rows.length) return rows[0]!.repo as string;
  return null;
}

/** The configured set, else the one set under evals/sets/ whose questions are all about the corpus's repository. */
export async function evalSetFor(cfg: Config, stores: Stores): Promise<EvalSet | string> {
  if (cfg.gates.evalSet) return loadEvalSet(cfg.gates.evalSet);
  const repo = await corpusRepo(stores);
  if (!repo) return 'the corpus is empty';
  const files = existsSync(SETS_DIR) ? readdirSync(SETS_DIR).filter((f) => f.endsWith('.jsonl')).sort() : [];
  for (const f of files) {
    const set = loadEvalSet(resolve(SETS_DIR, f));
    if (set.items.every((x) => x.repo === repo)) return set;
  }
  return `no eval set for ${repo} (set gates.evalSet)`;
}

export async function runEvalGate(cfg: Config, stores: Stores, log: Logger, version: number, runId?: string): Promise<EvalGateResult> {
  const found = await evalSetFor(cfg, stores);
  if (typeof found === 'string') {
    log.info({ version }, `eval gate skipped: ${found}`);
    return { passed: true, skipped: found, version, set: null, after: null, before: null, reason: null, rollback: null };
  }
  const mode = cfg.gates.evalMode;
  const embedder = mode === 'fts' ? null : await openEmbedder(cfg);
  let after: VersionEvalSummary;
  try {
    const [r] = await evalRetrieval(stores, found, { modes: [mode], k: 10, embedder });
    after = {
      set_id: r!.setId,
      set_hash: r!.setHash,
      mode: r!.mode,
      embedder: r!.embedder,
      k: r!.k,
      questions: r!.questions,
      ...meansOf(r!.overall),
    };
  } finally {
    await embedder?.close();
  }
  const accepted = await lastAcceptedVersion(stores, { before: version });
  const prior = accepted?.evalSummary as Partial<VersionEvalSummary> | null | undefined;
  // Figures are comparable only on the same set, mode and embedder.
  const comparable = prior && prior.set_hash === after.set_hash && prior.mode === after.mode && prior.embedder === after.embedder;
  const before = comparable ? { ...(prior as VersionEvalSummary), version: accepted!.version } : null;
  const base = { skipped: null, version, set: found.id, after, before };
  const passed = !before || after.recall_at_10 >= before.recall_at_10 - cfg.gates.maxEvalDrop;
  // The before/after figures stay with the version, whatever the verdict.
  await setVersionEval(stores, version, {
    ...after,
    gate: passed ? 'passed' : 'failed',
    baseline: before ? { version: before.version, recall_at_10: before.recall_at_10, ndcg_at_10: before.ndcg_at_10 } : null,
  });
  if (passed) {
    log.info({ version, recall_at_10: after.recall_at_10, before: before?.recall_at_10 ?? null }, 'eval gate passed');
    return { ...base, passed: true, reason: null, rollback: null };
  }
  const reason =
    `eval gate: ${mode} recall@10 on ${found.id} fell from ${before.recall_at_10.toFixed(3)} (version ${before.version}) ` +
    `to ${after.recall_at_10.toFixed(3)} (version ${version}), more than maxEvalDrop ${cfg.gates.maxEvalDrop}`;
  const rb = await rollbackTo(stores, before.version, reason, { runId });
  log.warn({ version, rolledBackTo: before.version, newVersion: rb.version }, `${reason}: rolled back; the batch stays staged`);
  return { ...base, passed: false, reason, rollback: { version: rb.version, restoredFrom: rb.restoredFrom, reverted: rb.reverted } };
}
