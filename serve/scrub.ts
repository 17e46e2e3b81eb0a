// What the query service may write anywhere (its logs, the query log, feedback): text with API keys,
// bearer tokens, the secret-like strings of validators/secrets.ts, e-mail addresses and IP addresses
// replaced by a marker. Questions are the users' words: every address goes, public or not.
import { redactSecrets } from '../validators/secrets.js';

const RULES: { kind: string; re: RegExp }[] = [
  // qaforge's own keys (serve/keys.ts): qf_ and 43 base64url characters.
  { kind: 'api_key', re: /\bqf_[A-Za-z0-9_-]{20,}/g },
  { kind: 'bearer', re: /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi },
  { kind: 'email', re: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
  // Dotted quads with each part 0-255, and IPv6 with at least two colons and hex groups.
  { kind: 'ip', re: /\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b/g },
  // IPv6 compressed inside or at the end (2001:db8::8a2e:370:7334, fe80::1, fe80::): the most common
  // written form, which the rule after this one (full or leading-:: addresses) does not match.
  { kind: 'ip', re: /(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::[0-9A-Fa-f]{1,4}){1,6}(?![\w:])|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,7}:(?![\w:])/g },
  { kind: 'ip', re: /(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})(?![\w:])|(?<![\w:])::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}(?![\w:])/g },
  // Long opaque tokens after token-ish words (token=…, api_key: …).
  { kind: 'token', re: /\b(?:token|api[_-]?key|secret|password|passwd)\s*[:=]\s*["']?[^\s"']{6,}/gi },
];

/** The text with every key, token, address and IP replaced by `[REDACTED:<kind>]`. */
export function scrub(text: string): string {
  let out = redactSecrets(text).text;
  for (const { kind, re } of RULES) {
    re.lastIndex = 0;
    out = out.replace(re, `[REDACTED:${kind}]`);
  }
  return out;
}

export const scrubOrNull = (text: string | null | undefined): string | null => (text == null ? null : scrub(text));
