/**
 * Refs in files (loose refs and packed-refs), read and moved by
 * compare-and-swap with git's own lock-file protocol, so that git and this
 * process can move the same ref of the same repository (a file hub shared
 * by a mixed fleet) and never both win:
 *
 *   1. create `<ref>.lock` with O_CREAT|O_EXCL (another writer holds it:
 *      RefLockBusyError, a temporary failure);
 *   2. read the ref's current value (loose file, else packed-refs) and
 *      compare it with the expected one (RefMovedError when it differs);
 *   3. write `<new id>\n` into the lock, fsync, rename it over the ref.
 *
 * A kill -9 between 1 and 3 leaves a stale `.lock`, exactly as git would;
 * the round's recovery removes stale locks as it does for git's.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GitError } from '../exec.js';

/** Another writer holds the ref's lock (git's words in stderr: a temporary failure). */
export class RefLockBusyError extends GitError {
  constructor(readonly lockPath: string) {
    const message = `${lockPath} exists: another git or agentgit is moving this ref; try again (remove the file only if no git is running)`;
    super(message, ['update-ref'], 128, `fatal: Unable to create '${lockPath}': File exists.\n`, false);
    this.name = 'RefLockBusyError';
  }
}

/** The ref is not where the compare-and-swap expected it. */
export class RefMovedError extends GitError {
  constructor(
    readonly ref: string,
    readonly expected: string | null,
    readonly actual: string | null,
  ) {
    const message = `${ref} moved (expected ${expected ?? 'none'}, found ${actual ?? 'none'})`;
    super(message, ['update-ref'], 128, `fatal: cannot lock ref '${ref}': is at ${actual ?? 'nothing'} but expected ${expected ?? 'nothing'}\n`, false);
    this.name = 'RefMovedError';
  }
}

const OID_RE = /^[0-9a-f]{40}$/;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return null;
    throw e;
  }
}

/** Every ref of packed-refs: name -> id. */
export function packedRefs(gitDir: string): Map<string, string> {
  const m = new Map<string, string>();
  const text = readText(join(gitDir, 'packed-refs'));
  if (!text) return m;
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#') || line.startsWith('^')) continue;
    const sp = line.indexOf(' ');
    const oid = line.slice(0, sp);
    if (sp === 40 && OID_RE.test(oid)) m.set(line.slice(sp + 1).trim(), oid);
  }
  return m;
}

/** A ref's id (symbolic refs followed, up to 5 levels), or null when it does not exist. */
export function readRef(gitDir: string, name: string): string | null {
  let ref = name;
  for (let depth = 0; depth < 5; depth++) {
    const loose = readText(join(gitDir, ref));
    if (loose !== null) {
      const t = loose.trim();
      if (t.startsWith('ref: ')) {
        ref = t.slice(5).trim();
        continue;
      }
      if (OID_RE.test(t)) return t;
      throw new Error(`${join(gitDir, ref)}: not a ref (neither an object id nor "ref: ..."); repair it with git or restore it from a backup`);
    }
    return packedRefs(gitDir).get(ref) ?? null;
  }
  throw new Error(`${join(gitDir, name)}: symbolic refs nested too deep`);
}

/** Every ref under `prefix` (e.g. `refs/heads/`): name -> id, loose refs over packed ones. */
export function listRefs(gitDir: string, prefix = 'refs/'): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of packedRefs(gitDir)) if (k.startsWith(prefix)) out.set(k, v);
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSafe(join(gitDir, rel));
    } catch {
      return;
    }
    for (const n of names) {
      if (n.endsWith('.lock')) continue;
      const r = `${rel}/${n}`;
      const t = readText(join(gitDir, r));
      if (t === null) walk(r);
      else if (OID_RE.test(t.trim()) && r.startsWith(prefix)) out.set(r, t.trim());
    }
  };
  walk('refs');
  return out;
}

function readdirSafe(dir: string): string[] {
  if (!statSync(dir).isDirectory()) return [];
  return readdirSync(dir);
}

/**
 * Move `name` from `expected` (null: must not exist) to `next`, atomically
 * against git and other agentgit processes. Throws RefLockBusyError or
 * RefMovedError and leaves the ref as it was. `fsync: false`: as git's own
 * ref writes (core.fsync leaves refs out by default), the lock held for
 * the fewest instants.
 */
export function casRef(gitDir: string, name: string, expected: string | null, next: string, opts: { fsync?: boolean } = {}): void {
  if (!OID_RE.test(next)) throw new Error(`${name}: refusing to write "${next}" (not a SHA-1 object id)`);
  checkRefName(name);
  const path = join(gitDir, name);
  const lock = `${path}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  let fd = takeLock(lock);
  let done = false;
  try {
    const actual = readRef(gitDir, name);
    if (actual !== expected) throw new RefMovedError(name, expected, actual);
    writeSync(fd, `${next}\n`);
    if (opts.fsync !== false) fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(lock, path);
    done = true;
  } finally {
    if (fd >= 0) closeSync(fd);
    if (!done) {
      try {
        unlinkSync(lock);
      } catch {
        /* already gone */
      }
    }
  }
}

function checkRefName(name: string): void {
  if (!/^refs\/[^\0]+$/.test(name) || name.split('/').some((p) => p === '' || p === '.' || p === '..' || p.endsWith('.lock'))) throw new Error(`${name}: not a valid ref name`);
}

/** Create `lock` with O_CREAT|O_EXCL (git's lock protocol); RefLockBusyError when another writer holds it. */
function takeLock(lock: string): number {
  try {
    return openSync(lock, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new RefLockBusyError(lock);
    throw e;
  }
}

function dropLock(fd: number, lock: string): void {
  if (fd >= 0) closeSync(fd);
  try {
    unlinkSync(lock);
  } catch {
    /* already gone */
  }
}

/**
 * Delete `name` (loose and packed) when it is at `expected` (any value when
 * undefined), as git's files backend does: `<ref>.lock` taken first and the
 * value compared under it; packed-refs read only under `packed-refs.lock`,
 * rewritten without the ref (fsync, rename) before the loose file goes, so
 * a kill -9 anywhere never brings back an older packed value. False when
 * the ref does not exist. Throws RefLockBusyError or RefMovedError and
 * leaves the ref as it was.
 */
export function deleteRefLocked(gitDir: string, name: string, expected?: string): boolean {
  checkRefName(name);
  const path = join(gitDir, name);
  const lock = `${path}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  const fd = takeLock(lock);
  try {
    const actual = readRef(gitDir, name);
    if (actual === null) return false;
    if (expected !== undefined && actual !== expected) throw new RefMovedError(name, expected, actual);
    if (packedRefs(gitDir).has(name)) {
      const packed = join(gitDir, 'packed-refs');
      const plock = `${packed}.lock`;
      const pfd = takeLock(plock);
      let pdone = false;
      try {
        const lines = (readText(packed) ?? '').split('\n');
        const keep: string[] = [];
        for (let i = 0; i < lines.length; i++) {
          if (lines[i]!.endsWith(` ${name}`) && lines[i]!.length === 41 + name.length) {
            if (lines[i + 1]?.startsWith('^')) i++;
            continue;
          }
          keep.push(lines[i]!);
        }
        writeSync(pfd, keep.join('\n'));
        fsyncSync(pfd);
        closeSync(pfd);
        renameSync(plock, packed);
        pdone = true;
      } finally {
        if (!pdone) dropLock(pfd, plock);
      }
    }
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return true;
  } finally {
    dropLock(fd, lock);
  }
}
