import { describe, expect, it } from 'vitest';
import type { QAPair } from '../datasets/schemas.js';
import { FAKE_TOKEN } from '../test/fixtures.js';
import { checkAnswerGrounded, checkLength, DEFAULT_LIMITS, validateCandidate } from './checks.js';
import { DuplicateIndex, qaKey, qaSignature } from './dedup.js';
import { redactSecrets } from './secrets.js';

const base: QAPair = {
  id: 'a'.repeat(32),
  question: 'What does `f` in `m.py` do?',
  answer: 'Adds two   numbers together.',
  context: '# m.py, lines 1-3\ndef f(a, b):\n    """Adds two\n    numbers together."""',
  evidence: ['Adds two numbers together.'],
  category: 'purpose',
  sourceId: 'b'.repeat(32),
  sourceKind: 'code_symbol',
  symbolKind: 'function',
  variant: null,
  provenance: {
    repo: 'a/b',
    commitFirstSeen: 'c'.repeat(40),
    commitLastVerified: 'c'.repeat(40),
    path: 'm.py',
    startLine: 1,
    endLine: 3,
    qualname: 'f',
    url: null,
    prNumber: null,
    issueNumber: null,
    commentId: null,
  },
  generator: { name: 't', version: '1', promptVersion: null, model: null },
  splitGroup: 'm.py',
  verdicts: [],
  nearDupCluster: null,
};

describe('deterministic checks', () => {
  it('accepts a grounded pair across line breaks and rejects one whose evidence is not in the context', () => {
    expect(checkAnswerGrounded(base).pass).toBe(true);
    const v = checkAnswerGrounded({ ...base, answer: 'Multiplies numbers.', evidence: ['Multiplies numbers.'] });
    expect(v).toMatchObject({ pass: false, reason: 'ungrounded' });
    expect(v.detail).toContain('not in context');
    expect(checkAnswerGrounded({ ...base, evidence: [] })).toMatchObject({ pass: false, reason: 'ungrounded', detail: 'no evidence quoted' });
  });

  it('bounds lengths', () => {
    expect(checkLength({ ...base, question: 'Why?' }, DEFAULT_LIMITS)).toMatchObject({ reason: 'too_short' });
    expect(checkLength({ ...base, answer: 'x'.repeat(5000) }, DEFAULT_LIMITS)).toMatchObject({ reason: 'too_long' });
  });

  it('rejects a pair holding a secret with reason `secret` and redacts it everywhere', () => {
    const withToken = { ...base, answer: `Uses ${FAKE_TOKEN}.`, context: `${base.context}\n# token ${FAKE_TOKEN}`, evidence: [FAKE_TOKEN] };
    const checked = validateCandidate(withToken);
    expect(checked.verdicts.find((v) => v.check === 'secret')).toMatchObject({ pass: false, reason: 'secret', detail: 'github_token' });
    expect(JSON.stringify(checked)).not.toContain(FAKE_TOKEN);
    expect(checked.answer).toBe('Uses [REDACTED:github_token].');
  });

  it('finds common secret shapes and leaves public addresses alone', () => {
    const r = redactSecrets('key AKIAABCDEFGHIJKLMNOP mail jane.doe@corp.io and noreply@example.com hf_abcdefghijklmnopqrstuvwxyz01234567');
    expect(r.kinds.sort()).toEqual(['aws_access_key', 'huggingface_token', 'private_email']);
    expect(r.text).toBe('key [REDACTED:aws_access_key] mail [REDACTED:private_email] and noreply@example.com [REDACTED:huggingface_token]');
    expect(redactSecrets('def forward(self, hidden_states): return hidden_states').kinds).toEqual([]);
  });
});

describe('DuplicateIndex', () => {
  it('drops an exact copy of question + answer, clusters a near-duplicate, keeps distinct pairs apart', () => {
    const d = new DuplicateIndex(0.7);
    const long = 'Run the encoder over the input ids and return the hidden states of the last layer together with the pooled output and the attention weights of every layer.';
    const q1 = ['What does `BertModel.forward` do?', long] as const;
    const q2 = ['What does `RobertaModel.forward` do?', long] as const;
    const q3 = ['Where is `Shape` defined?', 'In `pkg/shapes.py`, lines 9-21.'] as const;
    expect(d.check('1', qaKey(...q1), qaSignature(...q1))).toEqual({ kind: 'unique', nearDupCluster: null });
    expect(d.check('2', qaKey(...q2), qaSignature(...q2))).toEqual({ kind: 'unique', nearDupCluster: '1' });
    expect(d.check('3', qaKey(...q3), qaSignature(...q3))).toEqual({ kind: 'unique', nearDupCluster: null });
    expect(d.check('4', qaKey(' what does `BertModel.forward` do?', long), qaSignature(...q1))).toEqual({ kind: 'duplicate', of: '1' });
    expect(d.nearDuplicates).toBe(1);
  });
});
