/**
 * The commit guard: decides which changed files may be committed. Pure.
 * Used by the sync round and by the pre-commit hook (hooks/pre-commit).
 *
 * - A file whose content looks like a private key or token, or whose path
 *   matches a secret glob, is held: never staged, named in the report.
 * - A log that lost committed entries (truncated, entries deleted) is held
 *   unless the policy allows rewriting it; its new entries are still
 *   committed (restoreLost), so they reach the hub. A log that is not valid
 *   UTF-8 (cut inside a character) is checked byte for byte; a check that
 *   fails holds the file.
 * - A file over the size limit is held.
 */
import { lostEntries, restoreLost } from '../merge/log.js';
import { decodeText, looksBinary } from '../merge/util.js';
import type { Policy } from '../policy/policy.js';

/** Content patterns of private keys and tokens. Each has a name for the message. */
export const SECRET_PATTERNS: { name: string; re: RegExp }[] = [
  { name: 'private key (PEM/OpenSSH)', re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/ },
  { name: 'GitHub token', re: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{22,}/ },
  { name: 'GitLab token', re: /\bglpat-[A-Za-z0-9_-]{20,}/ },
  { name: 'Slack token', re: /\bxox[abposr]-[A-Za-z0-9-]{10,}/ },
  { name: 'AWS access key', re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { name: 'Google API key', re: /\bAIza[0-9A-Za-z_-]{35}\b/ },
  { name: 'Anthropic API key', re: /\bsk-ant-[A-Za-z0-9_-]{20,}/ },
  { name: 'OpenAI API key', re: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}/ },
  { name: 'Stripe secret key', re: /\b[rs]k_live_[A-Za-z0-9]{20,}/ },
  { name: 'npm token', re: /\bnpm_[A-Za-z0-9]{36}\b/ },
];

/** Name of the secret found in the bytes, or null. Scans text and binary alike. */
export function findSecret(bytes: Uint8Array): string | null {
  // latin1 keeps every byte as one char, so patterns match inside binary too
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  for (const p of SECRET_PATTERNS) if (p.re.test(s)) return p.name;
  return null;
}

export type HoldReason = 'secret-path' | 'secret-content' | 'log-rewrite' | 'log-deleted' | 'too-large';

export interface Held {
  path: string;
  reason: HoldReason;
  detail: string;
  /** For log-rewrite: the content to commit instead (committed + new entries). */
  commitInstead?: Uint8Array;
}

export interface GuardInput {
  path: string;
  /** Committed content (HEAD), null when the file is new. */
  before: Uint8Array | null;
  /** Work-tree content, null when the file was deleted. */
  after: Uint8Array | null;
  size: number;
}

/** null: commit the file as it is. */
export function checkFile(policy: Policy, f: GuardInput): Held | null {
  const c = policy.classify(f.path);
  if (c.secret) {
    return { path: f.path, reason: 'secret-path', detail: 'path matches a secret glob; it stays on this machine' };
  }
  if (f.after !== null && f.size > policy.config.maxFileBytes) {
    return {
      path: f.path,
      reason: 'too-large',
      detail: `${f.size} bytes is over maxFileBytes (${policy.config.maxFileBytes}); move it out of the state directory or mark it local in .agentgit/config.json`,
    };
  }
  if (f.after !== null) {
    const secret = findSecret(f.after);
    if (secret) return { path: f.path, reason: 'secret-content', detail: `content looks like a ${secret}; remove it from the file, agentgit will then sync it` };
  }
  if (c.kind !== 'log' || f.before === null || policy.allowsLogRewrite(f.path)) return null;
  if (f.after === null) {
    return { path: f.path, reason: 'log-deleted', detail: 'a log with committed entries was deleted; restore it with `git checkout -- FILE`, or allow it under logs.allowRewrite', commitInstead: f.before };
  }
  try {
    return logLoss(f.path, f.before, f.after);
  } catch (e) {
    // a check that fails never counts as "nothing lost": hold the file, commit nothing of it
    return {
      path: f.path,
      reason: 'log-rewrite',
      detail: `could not check it for lost entries (${(e as Error).message}); the committed version stays; fix or restore the file with \`git checkout -- FILE\`, or allow rewrites under logs.allowRewrite`,
      commitInstead: f.before,
    };
  }
}

/**
 * The loss check of a log. Text that is not valid UTF-8 (a write cut inside
 * a character by kill -9, a stray byte) is compared byte for byte, each byte
 * one Latin-1 character, so a cut-short last entry is seen as cut short.
 * Throws when the check itself fails (the caller holds the file).
 */
function logLoss(path: string, beforeBytes: Uint8Array, afterBytes: Uint8Array): Held | null {
  if (looksBinary(beforeBytes)) return null; // never a text log: no entries to lose
  let before = decodeText(beforeBytes);
  let after = decodeText(afterBytes);
  let encode = (s: string): Uint8Array => Buffer.from(s, 'utf8');
  if (before === null || after === null) {
    const l1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
    before = l1(beforeBytes);
    after = l1(afterBytes);
    encode = (s) => Buffer.from(s, 'latin1');
  }
  const nb = before.replace(/\r\n/g, '\n');
  const na = after.replace(/\r\n/g, '\n');
  const d = lostEntries(path, nb, na);
  if (d.failed !== undefined) throw new Error(d.failed);
  if (d.lost.length === 0) return null;
  const fixed = restoreLost(path, nb, na);
  return {
    path,
    reason: 'log-rewrite',
    detail: `${d.lost.length} committed entr${d.lost.length === 1 ? 'y was' : 'ies were'} removed (first: ${JSON.stringify(d.lost[0]!.trim().slice(0, 60))}); new entries are still synced; restore the file with \`git checkout -- FILE\` or allow rewrites under logs.allowRewrite`,
    commitInstead: encode(fixed),
  };
}
