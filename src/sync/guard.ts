/**
 * The commit guard: decides which changed files may be committed. Pure.
 * Used by the sync round and by the pre-commit hook (hooks/pre-commit).
 *
 * - A file whose content looks like a private key or token (sync/secrets.ts),
 *   whose path matches a secret glob, or whose name holds a token, is held:
 *   never staged, named in the report. What slips past it (a commit by hand,
 *   cherry-pick, am, adopted history) is stopped before the push (sync/scan.ts).
 * - A log that lost committed entries (truncated, entries deleted) is held
 *   unless the policy allows rewriting it; its new entries are still
 *   committed (restoreLost), so they reach the hub. A log that is not valid
 *   UTF-8 (cut inside a character) is checked byte for byte; a check that
 *   fails holds the file.
 * - A JSON file that parsed when committed and no longer parses (cut off
 *   mid-write) is held: its last valid version stays synced.
 * - A file over the size limit is held.
 */
import { lostEntries, restoreLost } from '../merge/log.js';
import { decodeText, looksBinary } from '../merge/util.js';
import { POLICY_PATH, type Policy } from '../policy/policy.js';
import { findSecret, findSecretIn } from './secrets.js';

export { findSecret, SECRET_PATTERNS } from './secrets.js';

export type HoldReason = 'secret-path' | 'secret-content' | 'log-rewrite' | 'log-deleted' | 'too-large' | 'unsafe-path' | 'policy-deleted' | 'unreadable' | 'json-broken';

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
  const inName = f.after !== null ? findSecretIn(f.path) : null; // deleting it is the fix: let that through
  if (inName) return { path: f.path, reason: 'secret-path', detail: `the file name looks like a ${inName}; rename the file, agentgit will then sync it` };
  if (f.path === POLICY_PATH && f.before !== null && Buffer.from(f.before).toString('utf8').trim() !== '' && (f.after === null || Buffer.from(f.after).toString('utf8').trim() === '')) {
    // deleting the shared policy would drop every machine's secret globs and rules: never published
    return {
      path: f.path,
      reason: 'policy-deleted',
      detail: `the shared layer policy was ${f.after === null ? 'deleted' : 'emptied'}; restore it with \`git checkout -- ${POLICY_PATH}\` (to change the policy, edit it instead: see docs/security.md)`,
      commitInstead: f.before,
    };
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
  if (c.kind === 'json' && f.before !== null && f.after !== null && parsesJson(f.before) && !parsesJson(f.after)) {
    // cut off mid-write (a crashed agent): the last valid version stays synced,
    // so a broken text never reaches the other instances (a side that does not
    // parse never replaces one that does: docs/merging.md)
    return {
      path: f.path,
      reason: 'json-broken',
      detail: 'it no longer parses as JSON (cut off mid-write?); its last valid version stays synced; fix the file (or restore it with `git checkout -- FILE`), agentgit will then sync it',
      commitInstead: f.before,
    };
  }
  if ((c.kind !== 'log' && !policy.guardsEntries(f.path)) || f.before === null || policy.allowsLogRewrite(f.path)) return null;
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

/** Whether a text is one JSON document (a BOM allowed); false for null or on any doubt. */
export function parsesAsJson(text: string | null): boolean {
  if (text === null) return false;
  try {
    JSON.parse(text.replace(/^\uFEFF/, ''));
    return true;
  } catch {
    return false;
  }
}

const parsesJson = (bytes: Uint8Array): boolean => parsesAsJson(decodeText(bytes));

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
  // Only appended to: every committed byte is still there, so nothing was
  // lost, whatever the entry split says. (A value cut by a kill -9 and then
  // completed splits differently once closed: the split would call its
  // committed lines lost, and "restoring" them would write them twice.)
  // Also the cheap common case: no parse.
  if (na.startsWith(nb)) return null;
  const d = lostEntries(path, nb, na);
  if (d.failed !== undefined) throw new Error(d.failed);
  if (d.lost.length === 0) return null;
  const fixed = restoreLost(path, nb, na);
  return {
    path,
    reason: 'log-rewrite',
    // the count only: a removed entry may be exactly the key someone deleted on purpose
    detail: `${d.lost.length} committed entr${d.lost.length === 1 ? 'y was' : 'ies were'} removed; new entries are still synced; restore the file with \`git checkout -- FILE\` or allow rewrites under logs.allowRewrite`,
    commitInstead: encode(fixed),
  };
}
