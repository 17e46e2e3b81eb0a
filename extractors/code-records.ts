// Code symbols → SourceRecords: the verbatim evidence lines, a content-hash id, provenance, redaction.
import type { Provenance, SourceRecord } from '../datasets/schemas.js';
import { contentId, sha256Hex } from '../lib/hash.js';
import { redactSecrets } from '../validators/secrets.js';
import type { ExtractedSymbol } from './python.js';

export interface RepoRef {
  /** owner/name for GitHub repositories, else the URL or path it was read from. */
  repo: string;
  sha: string;
  /** https://github.com/owner/name when known; used for blob URLs. */
  webUrl: string | null;
}

/** Provenance at one commit (first seen = last verified); what is not given is null. */
export function provenanceAt(repo: string, sha: string, f: Partial<Omit<Provenance, 'repo' | 'commitFirstSeen' | 'commitLastVerified'>> = {}): Provenance {
  return {
    repo,
    commitFirstSeen: sha,
    commitLastVerified: sha,
    path: f.path ?? null,
    startLine: f.startLine ?? null,
    endLine: f.endLine ?? null,
    qualname: f.qualname ?? null,
    url: f.url ?? null,
    prNumber: f.prNumber ?? null,
    issueNumber: f.issueNumber ?? null,
    commentId: f.commentId ?? null,
  };
}

/** The GitHub URL of lines of a file at the ref's commit, or null off GitHub. */
export const blobUrl = (ref: RepoRef, path: string, start: number, end: number): string | null =>
  ref.webUrl ? `${ref.webUrl}/blob/${ref.sha}/${path}#L${start}-L${end}` : null;

/** The line a location pair's context starts with; its answer is grounded in it. */
export const locationLine = (path: string, start: number, end: number) => `# ${path}, lines ${start}-${end}`;

function sliceLines(lines: string[], from: number, to: number): string {
  return lines.slice(from - 1, to).join('\n');
}

/**
 * The evidence text for a symbol, verbatim from the file: decorators, header and docstring; for
 * classes also the header lines of the public methods. No line numbers in it, so a symbol that only
 * moved keeps its text, and the pairs drawn from it keep their ids.
 */
function evidenceText(s: ExtractedSymbol, lines: string[], children: ExtractedSymbol[]): string {
  const parts = [sliceLines(lines, s.startLine, s.headerEndLine)];
  if (s.symbolKind === 'class') {
    for (const m of children) parts.push(sliceLines(lines, m.defLine, m.signatureEndLine));
  }
  return parts.join('\n');
}

/**
 * One record per symbol; with `only`, just symbols [from, to) of the list become records (one share
 * of a large file), while a class still lists every public method the file gives it.
 */
export function codeSourceRecords(path: string, source: string, symbols: ExtractedSymbol[], ref: RepoRef, only?: { from: number; to: number }): SourceRecord[] {
  const lines = source.split(/\r?\n/);
  const methodsOf = new Map<string, ExtractedSymbol[]>();
  for (const s of symbols) {
    if (s.symbolKind === 'method' && s.parent !== null && !s.name.startsWith('_')) {
      const list = methodsOf.get(s.parent) ?? [];
      list.push(s);
      methodsOf.set(s.parent, list);
    }
  }
  return (only ? symbols.slice(only.from, only.to) : symbols).map((s) => {
    const span = s.symbolKind === 'module' ? source : sliceLines(lines, s.startLine, s.endLine);
    const contentHash = sha256Hex(span);
    const children = s.symbolKind === 'class' ? (methodsOf.get(s.qualname) ?? []).filter((m) => m.startLine >= s.startLine && m.endLine <= s.endLine) : [];
    const kinds = new Set<string>();
    // Everything of the symbol that is stored passes through redaction: text, docstring, and the
    // signature parts (a default value can be a token).
    const redact = <T extends string | null>(v: T): T => {
      if (v === null) return v;
      const r = redactSecrets(v);
      for (const k of r.kinds) kinds.add(k);
      return r.text as T;
    };
    const text = redact(evidenceText(s, lines, children));
    const { startLine, endLine, ...raw } = s;
    const code = {
      ...raw,
      docstring: redact(raw.docstring),
      signature: redact(raw.signature),
      returns: redact(raw.returns),
      params: raw.params.map((p) => ({ ...p, annotation: redact(p.annotation), default: redact(p.default) })),
      decorators: raw.decorators.map(redact),
      bases: raw.bases.map(redact),
      ...(raw.copiedFrom ? { copiedFrom: raw.copiedFrom.map(redact) } : {}),
      ...(raw.raises ? { raises: raw.raises.map((r) => ({ ...r, text: redact(r.text), condition: redact(r.condition) })) } : {}),
    };
    return {
      id: contentId('code_symbol', path, s.qualname, s.variant, contentHash),
      kind: 'code_symbol',
      text,
      contentHash,
      provenance: provenanceAt(ref.repo, ref.sha, { path, startLine, endLine, qualname: s.qualname, url: blobUrl(ref, path, startLine, endLine) }),
      code,
      redactions: [...kinds],
    };
  });
}
