// Provenance checks: does a pair's (commit, path, lines) still show what the pair quotes? For code
// and docs the quoted evidence must lie in those lines of that file at that commit; for commits,
// every diff line of the context must be in `git show` of the commit and the message in its message.
// PR and issue pairs point at GitHub, which a check here cannot reach: they are counted, not checked.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { splitDocSections } from '../extractors/docs.js';
import type { QAPair } from '../datasets/schemas.js';
import { rowsToArrowTable } from '../datasets/arrow-rows.js';
import { columnsOf, pairFromRow, SCHEMAS, type Stores } from '../datasets/store.js';
import { squash } from '../lib/text.js';

const execFileAsync = promisify(execFile);

export interface VerifyResult {
  checked: number;
  resolved: number;
  notCheckable: number;
  failures: { id: string; kind: string; category: string; reason: string }[];
  byKind: Record<string, { checked: number; resolved: number }>;
}

async function git(repoPath: string, args: string[]): Promise<string | null> {
  try {
    return (await execFileAsync('git', args, { cwd: repoPath, maxBuffer: 256 << 20, encoding: 'utf8' })).stdout;
  } catch {
    return null;
  }
}

/** Why a pair's provenance does not resolve, or null when it does. */
export async function checkProvenance(repoPath: string, p: QAPair): Promise<string | null> {
  const v = p.provenance;
  if (p.sourceKind === 'code_symbol' || p.sourceKind === 'doc_section') {
    if (!v.path || !v.startLine || !v.endLine) return 'no path or lines';
    const file = await git(repoPath, ['show', `${v.commitLastVerified}:${v.path}`]);
    if (file === null) return `${v.path} not found at ${v.commitLastVerified.slice(0, 12)}`;
    const lines = file.split(/\r?\n/);
    if (v.endLine > lines.length) return `lines ${v.startLine}-${v.endLine} past the end (${lines.length} lines)`;
    let span = squash(lines.slice(v.startLine - 1, v.endLine).join('\n'));
    if (p.sourceKind === 'doc_section') {
      // Doc evidence is quoted from the section with MDX components and comments stripped: compare
      // with those lines of the file cleaned the same way.
      const section = splitDocSections(v.path, file).sections.find((x) => x.startLine === v.startLine && x.endLine === v.endLine);
      if (!section) return `no section at ${v.path}:${v.startLine}-${v.endLine}`;
      span = squash(section.text);
    }
    // A location pair's evidence is its `# path, lines a-b` marker: the header below it must be in the span.
    const quoted = p.category === 'location' ? p.context.split('\n').slice(1) : p.evidence;
    for (const e of quoted) {
      const pieces = e.split('\n').map(squash).filter((x) => x.length > 3);
      const missing = pieces.find((x) => !span.includes(x));
      if (missing !== undefined) return `not in ${v.path}:${v.startLine}-${v.endLine}: ${JSON.stringify(missing.slice(0, 80))}`;
    }
    return null;
  }
  if (p.sourceKind === 'commit') {
    // The whole commit, not just the path: a path filter hides a rename's other side.
    const show = await git(repoPath, ['show', '--format=%B', '-M', '--no-color', v.commitFirstSeen]);
    if (show === null) return `commit ${v.commitFirstSeen.slice(0, 12)} not found`;
    const shown = new Set(show.split('\n'));
    const diffLines = p.context.split('\n').filter((l) => /^[+-](?![+-]{2} )/.test(l) && !l.includes('[REDACTED:'));
    const missing = diffLines.find((l) => !shown.has(l));
    if (missing !== undefined) return `diff line not in the commit: ${JSON.stringify(missing.slice(0, 80))}`;
    if (p.category === 'commit_why') {
      const message = squash(show);
      const e = p.evidence.map(squash).find((x) => !message.includes(x));
      if (e !== undefined) return `not in the commit message: ${JSON.stringify(e.slice(0, 80))}`;
    }
    return null;
  }
  return 'not_checkable';
}

/**
 * Checks `n` unretired staging pairs, spread evenly over the table. With `record`, each checked pair's
 * outcome goes to `provenance_checks` (its last check wins), which the dashboard's quality panel reads.
 */
export async function verifyProvenance(stores: Stores, repoPath: string, n: number, opts: { record?: boolean } = {}): Promise<VerifyResult> {
  const total = await stores.count('staging', "status <> 'retired'");
  const every = Math.max(1, Math.floor(total / n));
  const out: VerifyResult = { checked: 0, resolved: 0, notCheckable: 0, failures: [], byKind: {} };
  const checks: Record<string, unknown>[] = [];
  const now = new Date().toISOString();
  let i = 0;
  for await (const rows of stores.scan('staging', columnsOf('staging'), "status <> 'retired'")) {
    for (const row of rows) {
      if (i++ % every !== 0 || out.checked + out.notCheckable >= n) continue;
      const p = pairFromRow(row);
      const why = await checkProvenance(repoPath, p);
      if (why === 'not_checkable') {
        out.notCheckable++;
        continue;
      }
      out.checked++;
      const commit = p.sourceKind === 'commit' ? p.provenance.commitFirstSeen : p.provenance.commitLastVerified;
      checks.push({ id: p.id, source_kind: p.sourceKind, resolved: why === null, reason: why, commit, checked_at: now });
      const k = (out.byKind[p.sourceKind] ??= { checked: 0, resolved: 0 });
      k.checked++;
      if (why === null) {
        out.resolved++;
        k.resolved++;
      } else out.failures.push({ id: p.id, kind: p.sourceKind, category: p.category, reason: why });
    }
  }
  if (opts.record && checks.length)
    await (await stores.table('provenance_checks')).mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rowsToArrowTable(checks, SCHEMAS.provenance_checks));
  return out;
}
