// One batch of Python files → source records, validated candidate pairs, and skips.
// Runs inside a worker thread (activities/code-worker.ts) or inline; pure apart from the clock.
import type { QAPair, SkipRecord, SourceRecord, SymbolKind } from '../datasets/schemas.js';
import { codeSourceRecords, type RepoRef } from '../extractors/code-records.js';
import { extractPythonSymbols, type ExtractedSymbol } from '../extractors/python.js';
import { ruleQuestionsForSymbol } from '../generators/code-rules.js';
import { validateCandidate, type LengthLimits } from '../validators/checks.js';
import { normalizeForMatch } from '../validators/checks.js';
import { redactSecrets } from '../validators/secrets.js';
import { BANDS, bandKeys, NUM_PERM, qaKeyNormalized, qaSignatureNormalized } from '../validators/dedup.js';

export interface CodeBatchFile {
  path: string;
  data: Uint8Array;
}

export interface CodeBatchInput {
  files: CodeBatchFile[];
  ref: RepoRef;
  limits: LengthLimits;
}

export interface CheckedPair extends QAPair {
  qaKey: string;
  /**
   * When ≥ 0, `context` was left empty for the trip to the main thread and equals
   * `records[contextRecord].text` of the same output: one copy of each context crosses, not one per pair.
   */
  contextRecord: number;
}

/** Puts back the contexts processCodeBatch left out. */
export function restoreContexts(out: CodeBatchOutput): void {
  for (const p of out.pairs) if (p.contextRecord >= 0) p.context = out.records[p.contextRecord]!.text;
}

export interface CodeBatchOutput {
  records: SourceRecord[];
  pairs: CheckedPair[];
  /** MinHash signatures of the pairs, NUM_PERM values each, in pair order (one transferable array). */
  signatures: Uint32Array;
  /** LSH band keys of the pairs, BANDS values each, in pair order. */
  bands: Int32Array;
  skips: SkipRecord[];
  files: number;
  bytes: number;
  symbols: Record<SymbolKind, number>;
  /** CPU seconds spent in each step inside the worker. */
  seconds: { extract: number; generate: number; validate: number };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a file as UTF-8, or says why it cannot be read as text. */
export function decodeSource(data: Uint8Array): { text: string } | { reason: 'binary' | 'not_utf8'; detail: string } {
  const head = data.subarray(0, 8000);
  if (head.includes(0)) return { reason: 'binary', detail: 'NUL byte in the first 8000 bytes' };
  try {
    let text = utf8.decode(data);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { text };
  } catch (e) {
    return { reason: 'not_utf8', detail: `not valid UTF-8: ${(e as Error).message}` };
  }
}

export interface ExtractOnlyOutput {
  files: number;
  bytes: number;
  skips: SkipRecord[];
  /** Per file: [kind, qualname, startLine, endLine, docstring, parameter names] of every symbol. */
  symbols: { path: string; list: [SymbolKind, string, number, number, string | null, string][] }[];
}

const extractError = (path: string, e: unknown): SkipRecord => ({
  path,
  reason: 'extract_error',
  detail: redactSecrets(String((e as Error).message)).text,
});

/**
 * Decodes and extracts one file. A file that cannot be read as text, or that the extractor fails
 * on, comes back as the skip that says why; syntax errors come as skips beside what still parsed.
 */
function extractFile(f: CodeBatchFile): { text: string; symbols: ExtractedSymbol[]; skips: SkipRecord[] } | { skip: SkipRecord } {
  const decoded = decodeSource(f.data);
  if (!('text' in decoded)) return { skip: { path: f.path, reason: decoded.reason, detail: decoded.detail } };
  try {
    const { symbols, errors } = extractPythonSymbols(decoded.text, f.path);
    const skips = errors.map((e) => ({
      path: f.path,
      reason: 'syntax_error' as const,
      detail: `line ${e.line}, column ${e.column}: ${e.message}; ${symbols.length} symbols still extracted`,
    }));
    return { text: decoded.text, symbols, skips };
  } catch (e) {
    return { skip: extractError(f.path, e) };
  }
}

/** Extraction alone (decode + tree-sitter + symbols), for benchmarks and parity checks. */
export function extractCodeBatch(input: CodeBatchInput): ExtractOnlyOutput {
  const out: ExtractOnlyOutput = { files: 0, bytes: 0, skips: [], symbols: [] };
  for (const f of input.files) {
    out.files++;
    out.bytes += f.data.byteLength;
    const x = extractFile(f);
    if ('skip' in x) {
      out.skips.push(x.skip);
      continue;
    }
    const { symbols } = x;
    out.skips.push(...x.skips);
    out.symbols.push({ path: f.path, list: symbols.map((s) => [s.symbolKind, s.qualname, s.startLine, s.endLine, s.docstring, s.params.map((p) => p.name).join(',')]) });
  }
  return out;
}

export function processCodeBatch(input: CodeBatchInput): CodeBatchOutput {
  const out: CodeBatchOutput = {
    records: [],
    pairs: [],
    signatures: new Uint32Array(0),
    bands: new Int32Array(0),
    skips: [],
    files: 0,
    bytes: 0,
    symbols: { module: 0, class: 0, function: 0, method: 0 },
    seconds: { extract: 0, generate: 0, validate: 0 },
  };
  const signatures: Uint32Array[] = [];
  for (const f of input.files) {
    out.files++;
    out.bytes += f.data.byteLength;
    let t = performance.now();
    const x = extractFile(f);
    if ('skip' in x) {
      out.skips.push(x.skip);
      continue;
    }
    const { text, symbols, skips } = x;
    // A file's results are kept whole or not at all: one that breaks a rule is recorded and skipped.
    try {
      const records = codeSourceRecords(f.path, text, symbols, input.ref);
      const firstRecord = out.records.length;
      const recordIndex = new Map(records.map((r, i) => [r.id, i]));
      let now = performance.now();
      out.seconds.extract += (now - t) / 1000;
      t = now;
      const candidates = records.flatMap(ruleQuestionsForSymbol);
      now = performance.now();
      out.seconds.generate += (now - t) / 1000;
      t = now;
      const pairs: CheckedPair[] = [];
      const sigs: Uint32Array[] = [];
      for (const c of candidates) {
        const checked = validateCandidate(c, input.limits);
        const q = normalizeForMatch(checked.question);
        const a = normalizeForMatch(checked.answer);
        sigs.push(qaSignatureNormalized(`${q} ${a}`));
        const ri = recordIndex.get(checked.sourceId) ?? -1;
        const shared = ri >= 0 && records[ri]!.text === checked.context;
        pairs.push({ ...checked, context: shared ? '' : checked.context, contextRecord: shared ? firstRecord + ri : -1, qaKey: qaKeyNormalized(q, a) });
      }
      out.skips.push(...skips);
      for (const s of symbols) out.symbols[s.symbolKind]++;
      out.records.push(...records);
      out.pairs.push(...pairs);
      signatures.push(...sigs);
    } catch (e) {
      out.skips.push(extractError(f.path, e));
    }
    out.seconds.validate += (performance.now() - t) / 1000;
  }
  out.signatures = new Uint32Array(signatures.length * NUM_PERM);
  out.bands = new Int32Array(signatures.length * BANDS);
  signatures.forEach((sig, i) => {
    out.signatures.set(sig, i * NUM_PERM);
    out.bands.set(bandKeys(sig), i * BANDS);
  });
  return out;
}
