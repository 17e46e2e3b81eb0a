import { describe, expect, it } from 'vitest';
import { Provenance, provenanceLocation } from './schemas.js';

const SHA = 'ab12cd34ef'.padEnd(40, '0');
const at = (v: Partial<Provenance>) => Provenance.parse({ repo: 'acme/shapes', commitFirstSeen: SHA, commitLastVerified: SHA, path: null, startLine: null, endLine: null, qualname: null, url: null, ...v });

describe('provenanceLocation', () => {
  it('names where a pair points: its URL, else path and lines, else the issue, PR or commit', () => {
    expect(provenanceLocation(at({ url: 'https://github.com/acme/shapes/blob/x/a.py#L3-L9', path: 'a.py', startLine: 3, endLine: 9 }))).toBe('https://github.com/acme/shapes/blob/x/a.py#L3-L9');
    expect(provenanceLocation(at({ path: 'pkg/a.py', startLine: 3, endLine: 9 }))).toBe('pkg/a.py:3-9');
    expect(provenanceLocation(at({ path: 'docs/index.md' }))).toBe('docs/index.md');
    expect(provenanceLocation(at({ issueNumber: 398, prNumber: 412 }))).toBe('issue #398');
    expect(provenanceLocation(at({ prNumber: 412 }))).toBe('PR #412');
    // A whole-commit pair of a local repository: no URL, no path (it printed "null:null-null").
    expect(provenanceLocation(at({}))).toBe('commit ab12cd34ef00');
  });
});
