import { redactUrlsIn } from '../git/url.js';

/**
 * The secret detector: private keys and tokens in bytes, file names and
 * commit messages, and their redaction from what agentgit prints or
 * publishes. One module, pure, no imports: the commit guard, the pre-push
 * scan (sync/scan.ts), the hook and every output use it.
 *
 * What it sees through:
 * - JSON string escapes (`\u002d`, `\n`, `\/`), also doubly escaped;
 * - PEM/OpenSSH armor with extra spaces or tabs, any case, CRLF;
 * - base64-wrapped keys (a base64 run, wrapped or not, that decodes to a
 *   PEM private key header or a token);
 * - tokens of GitHub, GitLab, Slack, AWS, Google, OpenAI, Anthropic,
 *   Stripe and npm, wherever they stand (not only between word boundaries).
 *
 * Never returns or prints a match: only the kind of secret it found.
 */

/** Not preceded / followed by a letter or digit (an underscore may join: `x_ghp_…`). */
const B = '(?<![A-Za-z0-9])';
const E = '(?![A-Za-z0-9])';

const PEM_NAME = 'private key (PEM/OpenSSH)';
/** Armor of a private key: dashes, BEGIN, optional words, PRIVATE KEY, with any spaces or tabs. */
// (bounded dash runs: a long line of dashes must not make the match quadratic)
const PEM_RE = /-{3,5}[ \t]*BEGIN[ \t]+(?:[A-Z0-9]+[ \t]+)*PRIVATE[ \t]+KEY(?:[ \t]+BLOCK)?[ \t]*-{3}/i;

/** Content patterns of private keys and tokens. Each has a name for the message. */
export const SECRET_PATTERNS: { name: string; re: RegExp }[] = [
  { name: PEM_NAME, re: PEM_RE },
  { name: 'GitHub token', re: new RegExp(`${B}(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}${E}|${B}github_pat_[A-Za-z0-9_]{22,}`) },
  { name: 'GitLab token', re: new RegExp(`${B}glpat-[A-Za-z0-9_-]{20,}`) },
  { name: 'Slack token', re: new RegExp(`${B}xox[abposr]-[A-Za-z0-9-]{10,}`) },
  { name: 'AWS access key', re: new RegExp(`${B}(?:AKIA|ASIA)[0-9A-Z]{16}${E}`) },
  { name: 'Google API key', re: new RegExp(`${B}AIza[0-9A-Za-z_-]{35}${E}`) },
  { name: 'Anthropic API key', re: new RegExp(`${B}sk-ant-[A-Za-z0-9_-]{20,}`) },
  { name: 'OpenAI API key', re: new RegExp(`${B}sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}`) },
  { name: 'Stripe secret key', re: new RegExp(`${B}[rs]k_live_[A-Za-z0-9]{20,}`) },
  { name: 'npm token', re: new RegExp(`${B}npm_[A-Za-z0-9]{36}${E}`) },
];

function matchPlain(s: string): string | null {
  for (const p of SECRET_PATTERNS) if (p.re.test(s)) return p.name;
  return null;
}

/** JSON (and JavaScript) string escapes decoded; up to three levels of escaping. */
export function unescapeJsonish(s: string): string {
  let cur = s;
  for (let i = 0; i < 3 && cur.includes('\\'); i++) {
    const next = cur.replace(/\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|\\([nrtbf/\\"'])/g, (_m, u: string | undefined, x: string | undefined, c: string | undefined) => {
      if (u) return String.fromCharCode(parseInt(u, 16));
      if (x) return String.fromCharCode(parseInt(x, 16));
      return ({ n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' } as Record<string, string>)[c!] ?? c!;
    });
    if (next === cur) break;
    cur = next;
  }
  return cur;
}

/**
 * Base64 runs long enough to hold a key header, wrapped by newlines (real
 * or JSON-escaped) or not; standard or URL-safe alphabet.
 */
const B64_RUN = /[A-Za-z0-9+/_-]{24,}(?:(?:\r?\n|\\r\\n|\\n)[ \t]*[A-Za-z0-9+/_-]{4,})*={0,2}/g;

/** 1 for a character of the base64 alphabets of B64_RUN (standard or URL-safe). */
const B64_CHAR = new Uint8Array(128);
for (const [a, z] of ['AZ', 'az', '09']) for (let c = a!.charCodeAt(0); c <= z!.charCodeAt(0); c++) B64_CHAR[c] = 1;
for (const c of '+/_-') B64_CHAR[c.charCodeAt(0)] = 1;

/**
 * The first index at or after `from` where 24 base64 characters in a row
 * begin, or -1: where B64_RUN's next match begins (it matches exactly where
 * such 24 begin). Checks the last character of each 24-wide window first and
 * skips past any other character: prose is passed over a word at a time, 20
 * times cheaper than letting the regex try every position.
 */
function nextRunStart(s: string, from: number): number {
  let i = from;
  while (i + 24 <= s.length) {
    let j = i + 23;
    for (; j >= i; j--) {
      const c = s.charCodeAt(j);
      if (c >= 128 || B64_CHAR[c] !== 1) break;
    }
    if (j < i) return i;
    i = j + 1;
  }
  return -1;
}

function matchBase64(s: string): string | null {
  for (let at = nextRunStart(s, 0); at !== -1; at = nextRunStart(s, B64_RUN.lastIndex)) {
    B64_RUN.lastIndex = at;
    const m = B64_RUN.exec(s);
    if (m === null) break; // never: 24 in a row match
    // a key header is near the start of what it wraps: the first MB of a run is enough
    const run = m[0].slice(0, 1 << 20).replace(/\\r|\\n|\s/g, '');
    if (run.length < 32) continue;
    // the run may start off the 4-character grid (a letter before it): try each offset
    for (let k = 0; k < 4; k++) {
      const decoded = Buffer.from(run.slice(k), 'base64').toString('latin1');
      const found = matchPlain(decoded) ?? (decoded.includes('\\') ? matchPlain(unescapeJsonish(decoded)) : null);
      if (found) return `${found}, base64-encoded`;
    }
  }
  return null;
}

/** Name of the secret found in a string (latin1 of bytes, a path, a message), or null. */
export function findSecretIn(s: string): string | null {
  const plain = matchPlain(s);
  if (plain) return plain;
  if (s.includes('\\')) {
    const un = unescapeJsonish(s);
    if (un !== s) {
      const found = matchPlain(un) ?? matchBase64(un);
      if (found) return `${found}, JSON-escaped`;
    }
  }
  return matchBase64(s);
}

/** Name of the secret found in the bytes, or null. Scans text and binary alike. */
export function findSecret(bytes: Uint8Array): string | null {
  // latin1 keeps every byte as one char, so patterns match inside binary too
  return findSecretIn(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'));
}

/**
 * Blob ids whose exact bytes this process found clean (the commit guard:
 * sync/commit.ts): an oid names its bytes, so the pre-push scan
 * (sync/scan.ts) need not read and scan them again. Bounded: a watcher
 * runs for days.
 */
const cleanBlobs = new Set<string>();

export function rememberCleanBlob(oid: string): void {
  if (cleanBlobs.size >= 100_000) cleanBlobs.clear();
  cleanBlobs.add(oid);
}

export function knownCleanBlob(oid: string): boolean {
  return cleanBlobs.has(oid);
}

/** `name=value` forms that carry a credential whatever its shape. */
const ASSIGNED = /\b((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)[A-Za-z_]*\s*[=:]\s*)("?)[^\s"']+/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{12,}/g;

/**
 * Text with every token, key armor and URL user info replaced by `***`:
 * for anything printed, stored in state.json or published in a heartbeat.
 */
export function redactSecrets(text: string): string {
  let s = text;
  for (const re of REDACT) s = s.replace(re, '***');
  return redactUrlsIn(s);
}

/** The patterns, global, for redaction; a key block from its armor to its END line (or the end). */
const REDACT: RegExp[] = [
  new RegExp(`${PEM_RE.source}[\\s\\S]*?(?:-{3,5}[ \\t]*END[^\\n-]*-{3,5}|$)`, 'gi'),
  ...SECRET_PATTERNS.filter((p) => p.re !== PEM_RE).map((p) => new RegExp(p.re.source, 'g')),
];

/**
 * The same, and credential assignments (`password=…`, `api_key: …`,
 * `Bearer …`) too: for the output of programs agentgit runs (rebuild).
 */
export function redactCredentials(text: string): string {
  return redactSecrets(text).replace(ASSIGNED, '$1$2***').replace(BEARER, '$1 ***');
}

/** A copy of a JSON-like value with every string redacted (redactSecrets): for output and reports. */
export function redactDeep<T>(v: T): T {
  if (typeof v === 'string') return redactSecrets(v) as T;
  if (Array.isArray(v)) return v.map((x: unknown) => redactDeep(x)) as T;
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, redactDeep(x)])) as T;
  }
  return v;
}
