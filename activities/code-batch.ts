// One batch of Python files → source records, validated candidate pairs, and skips.
// Runs inside a worker thread (activities/code-worker.ts) or inline; pure apart from the clock and
// the one file extraction it remembers for the next part of the same large file.
import { createHash } from 'node:crypto';
import type { QAPair, SkipRecord, SourceRecord, SymbolKind } from '../datasets/schemas.js';
import { codeSourceRecords, type RepoRef } from '../extractors/code-records.js';
import { extractPythonSymbols, type ExtractedSymbol, type PythonExtraction } from '../extractors/python.js';
import { codeUsageExamples, isInsidePackage, type UsageExample } from '../extractors/usage.js';
import { ruleQuestionsForSymbol } from '../generators/code-rules.js';
import { usageExamplePair } from '../generators/usage-rules.js';
import { validateCandidate, type LengthLimits } from '../validators/checks.js';
import { redactSecrets } from '../validators/secrets.js';
import { isTestPath } from '../validators/value.js';
import { BANDS, dedupKeys, NUM_PERM } from '../validators/dedup.js';

export interface CodeBatchFile {
  path: string;
  data: Uint8Array;
  /**
   * One share of a file too large for one task: only its share of the symbols becomes records and
   * pairs, so a task's output stays bounded however many symbols the file holds (see batchFiles).
   */
  part?: FilePart;
}

/** Share `index` of `count`: symbols [⌊index·n/count⌋, ⌊(index+1)·n/count⌋) of the file's n, in file order. */
export interface FilePart {
  index: number;
  count: number;
}

export const partRange = (n: number, part: FilePart | undefined): [number, number] =>
  part ? [Math.floor((part.index * n) / part.count), Math.floor(((part.index + 1) * n) / part.count)] : [0, n];

/** Whether this task reports the file itself (its count, bytes, skips): the whole file, or its first share. */
export const reportsFile = (f: CodeBatchFile) => !f.part || f.part.index === 0;

export interface CodeBatchInput {
  files: CodeBatchFile[];
  ref: RepoRef;
  limits: LengthLimits;
  /** A file with a longer line is data or minified code: skipped as too_large (default MAX_LINE_CHARS). */
  maxLineChars?: number;
  /**
   * The repository's top-level packages (extractors/usage.ts topLevelPackages): calls of their public
   * names outside their own code, tests above all, become usage examples. None: no usage examples.
   */
  packages?: string[];
}

/**
 * A file's usage examples: tests and other code that imports the packages (examples, scripts); the
 * packages' own code calls its names as implementation, not as usage, and is not mined.
 */
function usageExamplesOf(f: CodeBatchFile, text: string, input: CodeBatchInput, tree?: PythonExtraction['tree']): UsageExample[] {
  const packages = input.packages ?? [];
  if (!packages.length || !reportsFile(f)) return [];
  const test = isTestPath(f.path);
  if (!test && isInsidePackage(f.path, packages)) return [];
  return codeUsageExamples(f.path, text, packages, input.ref, test ? 'test' : 'code', tree);
}

/**
 * Past this, a line is data (a serialized table, a base64 blob), not code: tree-sitter's parse tree
 * of a 10 MB one-line list literal took 850 MB of native memory.
 */
export const MAX_LINE_CHARS = 100_000;

/** The longest line's number and length (lines split on \n, as git and sed count them). */
export function longestLine(text: string): { line: number; chars: number } {
  let best = { line: 1, chars: 0 };
  for (let start = 0, line = 1; start <= text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end - start > best.chars) best = { line, chars: end - start };
    start = end + 1;
  }
  return best;
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

/** `push(...items)` passes every item as an argument: past ~100,000 of them the stack overflows. */
function append<T>(to: T[], items: T[]): void {
  for (const x of items) to.push(x);
}

export interface ExtractOnlyOutput {
  files: number;
  bytes: number;
  skips: SkipRecord[];
  /** Per file: [kind, qualname, startLine, endLine, docstring, parameter names] of every symbol. */
  symbols: { path: string; list: [SymbolKind, string, number, number, string | null, string][] }[];
}

/** A unit its extraction threw on, as the skip that says why (secrets redacted from the message). */
export const extractError = (path: string, e: unknown): SkipRecord => ({
  path,
  reason: 'extract_error',
  detail: redactSecrets(String((e as Error)?.message ?? e)).text,
});

/**
 * Decodes and extracts one file. A file that cannot be read as text, or that the extractor fails
 * on, comes back as the skip that says why; syntax errors come as skips beside what still parsed.
 */
type FileExtraction = { text: string; symbols: ExtractedSymbol[]; skips: SkipRecord[]; tree?: PythonExtraction['tree'] } | { skip: SkipRecord };

// The shares of a large file reach one thread one after another (see batchRunner): it is parsed
// once there, not once per share.
let lastLarge: { key: string; x: FileExtraction } | null = null;

function extractFile(f: CodeBatchFile, maxLineChars = MAX_LINE_CHARS): FileExtraction {
  if (!f.part) return extractWholeFile(f, maxLineChars);
  const key = `${f.path}\0${createHash('sha1').update(f.data).digest('hex')}`;
  if (lastLarge?.key !== key) {
    lastLarge = null; // the old one can be collected while the new one is parsed
    // Without its tree: a large file's parse tree is not kept past its parse.
    const x = extractWholeFile(f, maxLineChars);
    if ('tree' in x) delete x.tree;
    lastLarge = { key, x };
  }
  return lastLarge.x;
}

/** Parses a share's file ahead of its pairs unless that is done; true when it parsed now. */
export function extractLargeFileAhead(f: CodeBatchFile, maxLineChars?: number): boolean {
  const before = lastLarge;
  extractFile(f, maxLineChars);
  return lastLarge !== before;
}

function extractWholeFile(f: CodeBatchFile, maxLineChars: number): FileExtraction {
  const decoded = decodeSource(f.data);
  if (!('text' in decoded)) return { skip: { path: f.path, reason: decoded.reason, detail: decoded.detail } };
  const longest = longestLine(decoded.text);
  if (longest.chars > maxLineChars)
    return { skip: { path: f.path, reason: 'too_large', detail: `line ${longest.line} has ${longest.chars} characters (> maxLineChars ${maxLineChars}): data or minified code, not parsed` } };
  try {
    const { symbols, errors, tree } = extractPythonSymbols(decoded.text, f.path);
    const skips = errors.map((e) => ({
      path: f.path,
      reason: 'syntax_error' as const,
      detail: `line ${e.line}, column ${e.column}: ${e.message}; ${symbols.length} symbols still extracted`,
    }));
    return { text: decoded.text, symbols, skips, tree };
  } catch (e) {
    return { skip: extractError(f.path, e) };
  }
}

/** Extraction alone (decode + tree-sitter + symbols), for benchmarks and parity checks. */
export function extractCodeBatch(input: CodeBatchInput): ExtractOnlyOutput {
  const out: ExtractOnlyOutput = { files: 0, bytes: 0, skips: [], symbols: [] };
  for (const f of input.files) {
    const whole = reportsFile(f);
    if (whole) {
      out.files++;
      out.bytes += f.data.byteLength;
    }
    const x = extractFile(f, input.maxLineChars);
    if ('skip' in x) {
      if (whole) out.skips.push(x.skip);
      continue;
    }
    const [from, to] = partRange(x.symbols.length, f.part);
    if (whole) append(out.skips, x.skips);
    out.symbols.push({ path: f.path, list: x.symbols.slice(from, to).map((s) => [s.symbolKind, s.qualname, s.startLine, s.endLine, s.docstring, s.params.map((p) => p.name).join(',')]) });
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
  const bands: number[][] = [];
  for (const f of input.files) {
    const whole = reportsFile(f);
    if (whole) {
      out.files++;
      out.bytes += f.data.byteLength;
    }
    let t = performance.now();
    const x = extractFile(f, input.maxLineChars);
    if ('skip' in x) {
      if (whole) out.skips.push(x.skip);
      continue;
    }
    const { text, skips } = x;
    const [from, to] = partRange(x.symbols.length, f.part);
    const symbols = x.symbols.slice(from, to);
    // A file's results (or a share's) are kept whole or not at all: one that breaks a rule is recorded and skipped.
    try {
      const records = codeSourceRecords(f.path, text, x.symbols, input.ref, { from, to });
      let now = performance.now();
      out.seconds.extract += (now - t) / 1000;
      t = now;
      const candidates = records.flatMap(ruleQuestionsForSymbol);
      // Usage examples count as generation: their parse is a second look at the file for pairs.
      for (const u of usageExamplesOf(f, text, input, x.tree)) {
        records.push(u.record);
        candidates.push(usageExamplePair(u));
      }
      const firstRecord = out.records.length;
      const recordIndex = new Map(records.map((r, i) => [r.id, i]));
      now = performance.now();
      out.seconds.generate += (now - t) / 1000;
      t = now;
      const pairs: CheckedPair[] = [];
      const sigs: Uint32Array[] = [];
      const bandRows: number[][] = [];
      for (const c of candidates) {
        const ri = recordIndex.get(c.sourceId) ?? -1;
        const checked = validateCandidate(c, input.limits, ri >= 0 ? records[ri]!.code : null);
        const keys = dedupKeys(checked);
        sigs.push(keys.signature as Uint32Array);
        bandRows.push(keys.bands as number[]);
        const shared = ri >= 0 && records[ri]!.text === checked.context;
        pairs.push({ ...checked, context: shared ? '' : checked.context, contextRecord: shared ? firstRecord + ri : -1, qaKey: keys.qaKey });
      }
      if (whole) append(out.skips, skips);
      for (const s of symbols) out.symbols[s.symbolKind]++;
      append(out.records, records);
      append(out.pairs, pairs);
      append(signatures, sigs);
      append(bands, bandRows);
    } catch (e) {
      out.skips.push(extractError(f.path, e));
    }
    out.seconds.validate += (performance.now() - t) / 1000;
  }
  out.signatures = new Uint32Array(signatures.length * NUM_PERM);
  out.bands = new Int32Array(signatures.length * BANDS);
  signatures.forEach((sig, i) => {
    out.signatures.set(sig, i * NUM_PERM);
    out.bands.set(bands[i]!, i * BANDS);
  });
  return out;
}

/** Several outputs as one, in order (the retry of a failed task runs its files one by one). */
export function mergeCodeOutputs(outs: CodeBatchOutput[]): CodeBatchOutput {
  const out: CodeBatchOutput = {
    records: [],
    pairs: [],
    signatures: new Uint32Array(outs.reduce((a, o) => a + o.signatures.length, 0)),
    bands: new Int32Array(outs.reduce((a, o) => a + o.bands.length, 0)),
    skips: [],
    files: 0,
    bytes: 0,
    symbols: { module: 0, class: 0, function: 0, method: 0 },
    seconds: { extract: 0, generate: 0, validate: 0 },
  };
  let sig = 0;
  let band = 0;
  for (const o of outs) {
    const offset = out.records.length;
    append(out.records, o.records);
    for (const p of o.pairs) out.pairs.push(p.contextRecord >= 0 ? { ...p, contextRecord: p.contextRecord + offset } : p);
    out.signatures.set(o.signatures, sig);
    out.bands.set(o.bands, band);
    sig += o.signatures.length;
    band += o.bands.length;
    append(out.skips, o.skips);
    out.files += o.files;
    out.bytes += o.bytes;
    for (const k of Object.keys(out.symbols) as SymbolKind[]) out.symbols[k] += o.symbols[k];
    for (const k of Object.keys(out.seconds) as (keyof CodeBatchOutput['seconds'])[]) out.seconds[k] += o.seconds[k];
  }
  return out;
}
