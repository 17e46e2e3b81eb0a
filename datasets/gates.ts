// Quality gates on the staged batch — the pairs staged or rejected since the last promotion — and
// the fine-tune trigger that follows a promotion. A failing gate leaves the batch staged and says why.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { FineTuneConfig, GateConfig } from '../lib/config.js';
import type { Stores } from './store.js';

const execFileAsync = promisify(execFile);

export interface GateResult {
  passed: boolean;
  /** Why it failed, one line each; empty when it passed. */
  reasons: string[];
  batch: { since: string | null; validated: number; rejected: number; duplicates: number };
}

/** The batch: validated pairs waiting, and pairs rejected since the last promotion. */
export async function checkGates(stores: Stores, gates: GateConfig): Promise<GateResult> {
  let since: string | null = null;
  for await (const rows of stores.scan('versions', ['promoted_at'])) for (const r of rows) if (!since || (r.promoted_at as string) > since) since = r.promoted_at as string;
  const validated = await stores.count('staging', "status = 'validated'");
  const after = since ? ` AND updated_at > '${since}'` : '';
  const rejected = await stores.count('rejected', `reasons <> ''${after}`);
  const duplicates = await stores.count('rejected', `reasons LIKE '%duplicate%'${after}`);
  const total = validated + rejected;
  const reasons: string[] = [];
  if (validated < gates.minValidated) reasons.push(`${validated} validated pairs waiting, fewer than minValidated ${gates.minValidated}`);
  if (total && rejected / total > gates.maxRejectRate)
    reasons.push(`reject rate ${(rejected / total).toFixed(3)} of the batch is above maxRejectRate ${gates.maxRejectRate}`);
  if (total && duplicates / total > gates.maxDuplicateRate)
    reasons.push(`duplicate rate ${(duplicates / total).toFixed(3)} of the batch is above maxDuplicateRate ${gates.maxDuplicateRate}`);
  return { passed: reasons.length === 0, reasons, batch: { since, validated, rejected, duplicates } };
}

export interface FineTuneManifest {
  repo: string | null;
  corpus_version: number;
  active_pairs: number;
  promoted: number;
  snapshot: string;
  files: string[];
  promoted_at: string;
}

/**
 * Runs the configured trigger once. Throws on failure (a non-2xx answer, a failing command), so the
 * activity that calls it is retried.
 */
export async function triggerFineTune(cfg: FineTuneConfig, manifest: FineTuneManifest, manifestPath: string): Promise<{ kind: 'webhook' | 'command' | 'none'; detail: string }> {
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  if (cfg.webhook) {
    const r = await fetch(cfg.webhook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(manifest), signal: AbortSignal.timeout(30_000) });
    if (!r.ok) throw new Error(`fine-tune webhook answered ${r.status} ${r.statusText}`);
    return { kind: 'webhook', detail: `POST ${new URL(cfg.webhook).origin}: ${r.status}` };
  }
  if (cfg.command) {
    const { stdout } = await execFileAsync('/bin/sh', ['-c', cfg.command], { env: { ...process.env, QAFORGE_MANIFEST: manifestPath }, timeout: 600_000 });
    return { kind: 'command', detail: stdout.trim().slice(0, 500) };
  }
  return { kind: 'none', detail: 'no fine-tune trigger configured' };
}
