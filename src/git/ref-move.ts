/**
 * `git update-ref -m REASON REF NEW [OLD]` done in-process, with git's
 * files backend's protocol and reflog, where git would do nothing more
 * (test/git/ref-move.test.ts moves the same refs both ways and compares
 * the ref files and reflog lines byte for byte):
 *
 *   1. `<ref>.lock` created with O_CREAT|O_EXCL (for the branch HEAD is
 *      on, named as HEAD or by its name: the branch's lock, then
 *      HEAD.lock, as git takes both);
 *   2. the current value (loose file, else packed-refs) compared with OLD;
 *   3. the new value written into the lock; one reflog line appended to
 *      the ref's log, and to HEAD's when HEAD is on it: where the log
 *      exists, or where core.logAllRefUpdates makes git create it
 *      (`true`, git's default in a repository with a work tree: HEAD,
 *      refs/heads/, refs/remotes/, refs/notes/; `always`: every ref);
 *   4. the lock renamed over the ref, HEAD.lock removed.
 *
 * The reflog line is git's: `OLD NEW NAME <EMAIL> SECONDS ZONE\tREASON`,
 * the reason's whitespace runs folded into one space and its ends
 * trimmed, the identity the committer's (user.name and user.email; the
 * caller passes it only when git would use exactly those).
 *
 * Left to git (`false`, nothing changed): another writer holding a lock (git
 * waits core.filesRefLockTimeout for it), a hook on ref updates
 * (reference-transaction), core.hooksPath, shared-repository permissions,
 * core.fsync* settings, committer.* settings, GIT_NAMESPACE, a detached or
 * odd HEAD, a symbolic ref, a ref already at the new value, an empty
 * reason, a ref name git would refuse, or any file call that fails before
 * the ref moved.
 */
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readConfigFiles } from './config.js';
import { packedRefs, RefMovedError, readRef } from './iso/refs.js';
import { gitDate, ZERO_OID, type Ident } from './objects.js';

export interface RefMove {
  gitDir: string;
  /** `HEAD` (moved through the branch it is on) or a full ref name. */
  ref: string;
  next: string;
  /** The value the ref must have (null: must not exist); undefined: not checked. */
  expected: string | null | undefined;
  reason: string;
  ident: Ident;
  /** When (ms): the reflog's time. */
  when: number;
}

/** git's copy_reflog_msg: whitespace runs become one space, the ends trimmed. */
export function reflogReason(msg: string): string {
  // git's isspace: space, tab, newline, carriage return (not \v or \f)
  return msg.replace(/[ \t\n\r]+/g, ' ').replace(/^ | $/g, '');
}

/** Whether git creates a missing reflog for `ref` (should_autocreate_reflog). */
function autocreates(ref: string, logAll: string | undefined): boolean {
  const v = (logAll ?? 'true').toLowerCase();
  if (v === 'always') return true;
  if (!['true', 'yes', 'on', '1'].includes(v)) return false;
  return ref === 'HEAD' || ref.startsWith('refs/heads/') || ref.startsWith('refs/remotes/') || ref.startsWith('refs/notes/');
}

const REF_NAME = /^refs\/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** A ref name this writes (a subset of what git allows: nothing git would refuse or read otherwise). */
function plainRefName(ref: string): boolean {
  return REF_NAME.test(ref) && !ref.includes('..') && !/\.lock(\/|$)/.test(ref) && !/\.(\/|$)/.test(ref);
}

/**
 * Move the ref as `git update-ref -m` would. True when done; false when
 * git must (nothing changed); throws RefMovedError when the ref is not at
 * `expected` (git's update-ref fails the same way).
 */
export function moveRefInProcess(m: RefMove, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.GIT_COMMITTER_NAME || env.GIT_COMMITTER_EMAIL || env.GIT_COMMITTER_DATE || env.GIT_NAMESPACE) return false;
  if (reflogReason(m.reason) === '') return false; // git refuses an update with an empty message
  const config = readConfigFiles(m.gitDir, env);
  if (!config || config.get('core.hookspath') !== undefined || config.get('core.sharedrepository') !== undefined) return false;
  for (const k of config.keys()) if (/^core\.fsync/.test(k)) return false; // git would fsync what it writes
  if (config.get('committer.name') !== undefined || config.get('committer.email') !== undefined) return false;
  if (existsSync(join(m.gitDir, 'hooks', 'reference-transaction'))) return false;
  if (!/^[0-9a-f]{40}$/.test(m.next)) return false;
  let head: string;
  try {
    if (!lstatSync(join(m.gitDir, 'HEAD')).isFile()) return false; // a symlink HEAD (core.preferSymlinkRefs): git
    head = readFileSync(join(m.gitDir, 'HEAD'), 'utf8');
  } catch {
    return false;
  }
  const onBranch = /^ref: (refs\/heads\/\S+)\n$/.exec(head)?.[1] ?? null;
  if (m.ref === 'HEAD' && !onBranch) return false; // detached, or anything unexpected: git
  const target = m.ref === 'HEAD' ? onBranch! : m.ref;
  // moving the branch HEAD is on moves HEAD too: git locks it and logs the move in HEAD's reflog as well
  const withHead = target === onBranch;
  if (!plainRefName(target)) return false;
  try {
    // a ref named like a directory of refs (git refuses it), or a symlink ref (git moves its target): git
    if (!lstatSync(join(m.gitDir, target)).isFile()) return false;
  } catch {
    /* no loose file: the usual case for a new ref, fine */
  }
  const locks: string[] = [];
  const take = (lock: string): number | null => {
    try {
      mkdirSync(dirname(lock), { recursive: true });
      const fd = openSync(lock, 'wx', 0o666);
      locks.push(lock);
      return fd;
    } catch {
      return null; // held by another writer (git waits for it a while), or cannot be made: git
    }
  };
  const release = (): void => {
    for (const l of locks) {
      try {
        unlinkSync(l);
      } catch {
        /* gone */
      }
    }
  };
  const refFile = join(m.gitDir, target);
  const fd = take(`${refFile}.lock`);
  if (fd === null) return false;
  let fdOpen = true;
  let logged = false;
  try {
    if (withHead) {
      // git holds HEAD.lock while it moves the branch HEAD is on (it writes nothing into it)
      const headFd = take(join(m.gitDir, 'HEAD.lock'));
      if (headFd === null) return false;
      closeSync(headFd);
    }
    let cur: string | null;
    try {
      const loose = existsSync(refFile) ? readFileSync(refFile, 'latin1') : null;
      if (loose !== null && !/^[0-9a-f]{40}\n?$/.test(loose)) return false; // a symbolic ref (git moves its target) or an odd file: git
      cur = loose !== null ? loose.slice(0, 40) : readRef(m.gitDir, target);
    } catch {
      return false; // an odd ref file: git says what is wrong with it
    }
    if (m.expected !== undefined && cur !== m.expected) throw new RefMovedError(target, m.expected, cur);
    if (cur === m.next) return false; // git writes no line for the ref then (only HEAD's): git does it
    if (cur === null) {
      // a new ref whose name is a directory of packed refs, or under a packed ref: git refuses it
      for (const k of packedRefs(m.gitDir).keys()) if (k.startsWith(`${target}/`) || target.startsWith(`${k}/`)) return false;
    }
    writeSync(fd, `${m.next}\n`);
    closeSync(fd);
    fdOpen = false;
    const line = `${cur ?? ZERO_OID} ${m.next} ${m.ident.name} <${m.ident.email}> ${gitDate(m.when)}\t${reflogReason(m.reason)}\n`;
    const logAll = config.get('core.logallrefupdates') ?? (config.get('core.bare') === 'true' ? 'false' : 'true');
    for (const name of withHead ? [target, 'HEAD'] : [target]) {
      const log = join(m.gitDir, 'logs', name);
      if (!existsSync(log) && !autocreates(name, logAll)) continue;
      mkdirSync(dirname(log), { recursive: true });
      const lfd = openSync(log, 'a', 0o666);
      logged = true;
      try {
        writeSync(lfd, line);
      } finally {
        closeSync(lfd);
      }
    }
    renameSync(`${refFile}.lock`, refFile);
    locks.splice(locks.indexOf(`${refFile}.lock`), 1);
    return true;
  } catch (e) {
    // a reflog line written stays (git's order: the logs, then the ref), so git is not asked to write it again
    if (e instanceof RefMovedError || logged) throw e;
    return false; // nothing written: git tries, and says what is wrong
  } finally {
    if (fdOpen) closeSync(fd);
    release();
  }
}
