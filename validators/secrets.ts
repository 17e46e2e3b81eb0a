// Secret-like strings: found, named by kind, and redacted wherever qaforge stores text.

interface SecretPattern {
  kind: string;
  re: RegExp;
}

// Patterns after gitleaks / GitHub secret scanning; each needs the token's fixed prefix or shape,
// so ordinary code and prose do not match.
const PATTERNS: SecretPattern[] = [
  { kind: 'github_token', re: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b/g },
  { kind: 'github_token', re: /\bgithub_pat_[A-Za-z0-9_]{82}\b/g },
  { kind: 'huggingface_token', re: /\bhf_[A-Za-z0-9]{34,40}\b/g },
  { kind: 'openai_key', re: /\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}\b/g },
  { kind: 'openai_key', re: /\bsk-[A-Za-z0-9]{48}\b/g },
  { kind: 'anthropic_key', re: /\bsk-ant-[A-Za-z0-9_-]{32,}\b/g },
  { kind: 'aws_access_key', re: /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g },
  { kind: 'google_api_key', re: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  { kind: 'slack_token', re: /\bxox[abposr]-[0-9A-Za-z-]{10,}\b/g },
  { kind: 'stripe_key', re: /\b(?:sk|rk)_live_[0-9A-Za-z]{24,}\b/g },
  { kind: 'private_key', re: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z]+ )?PRIVATE KEY-----|$)/g },
  { kind: 'jwt', re: /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b/g },
  // Credentials in URLs: scheme://user:password@host
  { kind: 'url_credentials', re: /\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@]{3,}@[^\s/]+/g },
];

// Addresses meant to be public are not secrets.
const PUBLIC_EMAIL =
  /@(?:example\.(?:com|org|net)|users\.noreply\.github\.com|noreply\.github\.com|localhost|test\.com|email\.com|domain\.com)$|^(?:noreply|no-reply|info|support|contact|security|hello)@|^git@/i;
const EMAIL = /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g;
const EMAIL_HINT = /[A-Za-z0-9._%+-]@[A-Za-z0-9-]+\./;

export const REDACTION_PREFIX = '[REDACTED:';
const marker = (kind: string) => `${REDACTION_PREFIX}${kind}]`;

// One pass over the text decides whether any pattern can match; most text has none.
const ANY = new RegExp(PATTERNS.map((p) => `(?:${p.re.source})`).join('|'));

/** Replaces every secret-like string with `[REDACTED:<kind>]`; returns the kinds found. */
export function redactSecrets(text: string): { text: string; kinds: string[] } {
  const kinds = new Set<string>();
  let out = text;
  for (const { kind, re } of ANY.test(text) ? PATTERNS : []) {
    re.lastIndex = 0;
    if (!re.test(out)) continue;
    kinds.add(kind);
    out = out.replace(re, marker(kind));
  }
  // An address needs a character, @, a label and a dot: diffs are full of `@@` and decorators are not.
  if (out.includes('@') && EMAIL_HINT.test(out)) {
    out = out.replace(EMAIL, (m) => {
      if (PUBLIC_EMAIL.test(m)) return m;
      kinds.add('private_email');
      return marker('private_email');
    });
  }
  return { text: out, kinds: [...kinds] };
}

/** The redaction kinds present in already-redacted text. */
export function redactionKinds(text: string): string[] {
  const kinds = new Set<string>();
  for (const m of text.matchAll(/\[REDACTED:([a-z_]+)\]/g)) kinds.add(m[1]!);
  return [...kinds];
}
