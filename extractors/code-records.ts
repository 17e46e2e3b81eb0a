// Code symbols → SourceRecords: the verbatim evidence lines, a content-hash id, provenance, redaction.
import { createHash } from 'node:crypto';
import type { SourceRecord } from '../datasets/schemas.js';
import { contentId } from '../lib/hash.js';
import { redactSecrets } from '../validators/secrets.js';
import type { ExtractedSymbol } from './python.js';

export interface RepoRef {
  /** owner/name for GitHub repositories, else the URL or path it was read from. */
  repo: string;
  sha: string;
  /** https://github.com/owner/name when known; used for blob URLs. */
  webUrl: string | null;
}

/** The header line every code context starts with; location answers are grounded in it. */
export const locationLine = (path: string, start: number, end: number) => `# ${path}, lines ${start}-${end}`;

function sliceLines(lines: string[], from: number, to: number): string {
  return lines.slice(from - 1, to).join('\n');
}

/**
 * The evidence text for a symbol: its location line, then its decorators, header and docstring
 * verbatim; for classes also the header lines of the public methods.
 */
function evidenceText(s: ExtractedSymbol, lines: string[], path: string, children: ExtractedSymbol[]): string {
  const parts = [locationLine(path, s.startLine, s.endLine), sliceLines(lines, s.startLine, s.headerEndLine)];
  if (s.symbolKind === 'class') {
    for (const m of children) parts.push(sliceLines(lines, m.defLine, m.signatureEndLine));
  }
  return parts.join('\n');
}

export function codeSourceRecords(path: string, source: string, symbols: ExtractedSymbol[], ref: RepoRef): SourceRecord[] {
  const lines = source.split(/\r?\n/);
  const methodsOf = new Map<string, ExtractedSymbol[]>();
  for (const s of symbols) {
    if (s.symbolKind === 'method' && s.parent !== null && !s.name.startsWith('_')) {
      const list = methodsOf.get(s.parent) ?? [];
      list.push(s);
      methodsOf.set(s.parent, list);
    }
  }
  return symbols.map((s) => {
    const span = s.symbolKind === 'module' ? source : sliceLines(lines, s.startLine, s.endLine);
    const contentHash = createHash('sha256').update(span).digest('hex');
    const children = s.symbolKind === 'class' ? (methodsOf.get(s.qualname) ?? []).filter((m) => m.startLine >= s.startLine && m.endLine <= s.endLine) : [];
    const text = redactSecrets(evidenceText(s, lines, path, children));
    const doc = s.docstring === null ? null : redactSecrets(s.docstring);
    const kinds = [...new Set([...text.kinds, ...(doc?.kinds ?? [])])];
    const { startLine, endLine, ...code } = s;
    return {
      id: contentId('code_symbol', path, s.qualname, s.variant, contentHash),
      kind: 'code_symbol',
      text: text.text,
      contentHash,
      provenance: {
        repo: ref.repo,
        commitFirstSeen: ref.sha,
        commitLastVerified: ref.sha,
        path,
        startLine,
        endLine,
        qualname: s.qualname,
        url: ref.webUrl ? `${ref.webUrl}/blob/${ref.sha}/${path}#L${startLine}-L${endLine}` : null,
        prNumber: null,
        issueNumber: null,
        commentId: null,
      },
      code: { ...code, docstring: doc?.text ?? null },
      redactions: kinds,
    };
  });
}
