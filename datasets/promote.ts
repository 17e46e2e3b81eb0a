// Promotion: validated staging pairs → corpus by merge-insert on id, then the full-text index is
// rebuilt and the resulting corpus version recorded. Running it again promotes nothing new.
import * as lancedb from '@lancedb/lancedb';
import type { Logger } from '../lib/log.js';
import { columnsOf, sqlString, type Stores } from './store.js';

export interface PromotionResult {
  promoted: number;
  inserted: number;
  updated: number;
  version: number;
  active: number;
  seconds: number;
}

const PAIR_COLUMNS = columnsOf('staging', ['status']);
const CHUNK = 5000;

export async function promoteStaged(stores: Stores, log: Logger, runId = 'promote'): Promise<PromotionResult> {
  const t0 = performance.now();
  const corpus = await stores.table('corpus');
  const staging = await stores.table('staging');
  const now = new Date().toISOString();
  let promoted = 0;
  let inserted = 0;
  let updated = 0;
  let chunk: Record<string, unknown>[] = [];
  const write = async () => {
    if (!chunk.length) return;
    // A retired corpus row stays retired: only active rows are refreshed.
    const r = await corpus
      .mergeInsert('id')
      .whenMatchedUpdateAll({ where: "target.status = 'active'" })
      .whenNotMatchedInsertAll()
      .execute(chunk);
    inserted += r.numInsertedRows;
    updated += r.numUpdatedRows;
    // Exactly the rows merged are marked, and only if still validated: a pair staged or retired
    // meanwhile keeps its status.
    const ids = chunk.map((row) => sqlString(row.id as string)).join(',');
    await staging.update({ where: `status = 'validated' AND id IN (${ids})`, values: { status: 'promoted' } });
    chunk = [];
  };
  for await (const rows of stores.scan('staging', PAIR_COLUMNS, "status = 'validated'")) {
    for (const row of rows) {
      chunk.push({
        ...row,
        status: 'active',
        search_text: `${row.question as string}\n${row.answer as string}`,
        promoted_at: now,
        retired_reason: null,
        retired_at: null,
      });
      promoted++;
      if (chunk.length >= CHUNK) await write();
    }
  }
  await write();
  if (promoted) {
    await corpus.createIndex('search_text', { config: lancedb.Index.fts(), replace: true });
  }
  const version = await corpus.version();
  const active = await corpus.countRows("status = 'active'");
  if (promoted)
    await stores.add('versions', [{ version, promoted_at: now, inserted, updated, active, run_id: runId }]);
  const result = { promoted, inserted, updated, version, active, seconds: (performance.now() - t0) / 1000 };
  log.info(result, promoted ? `promoted ${promoted} pairs: corpus version ${version}` : 'nothing to promote');
  return result;
}
