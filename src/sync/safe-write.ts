/**
 * The files agentgit writes itself (the managed blocks of `.gitignore` and
 * `.gitattributes`, `.agentgit/clocks/*.clock`, the policy it creates,
 * `.git/agentgit/state.json`, the checkout journal) are never read or written
 * through a symbolic link: a link there came from a hostile tree or a
 * mistake, and following it would write (or read, then commit) a file
 * outside the state directory. A link is refused with a message that names
 * it and says what to do (docs/security.md, "Hostile trees").
 */
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export class SymlinkRefused extends Error {
  readonly code = 'ESYMLINK';
}

function refused(file: string): SymlinkRefused {
  return new SymlinkRefused(`${file} is a symbolic link; agentgit writes this file itself and never through a link: replace the link with a regular file (or remove it), then run agentgit again`);
}

/** The first directory of `rel` (a '/'-separated path under `root`) that is a symbolic link, as an absolute path; null when none is. */
export async function symlinkedParent(root: string, rel: string): Promise<string | null> {
  return symlinkedParentSync(root, rel);
}

/** symlinkedParent with synchronous calls (a few lstat of directories: far cheaper than thread-pool round trips). */
export function symlinkedParentSync(root: string, rel: string): string | null {
  const parts = rel.split('/');
  let abs = root;
  for (const p of parts.slice(0, -1)) {
    abs = join(abs, p);
    try {
      if (lstatSync(abs).isSymbolicLink()) return abs;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null; // not there (yet): nothing beneath it exists either
      return abs; // cannot tell (EACCES, EIO…): treat it as a link, never write through it
    }
  }
  return null;
}

// The three below use synchronous calls: each file is small (a managed
// block, state.json, the checkout journal), and a round reads or writes
// several of them; a call costs far less than a round trip through libuv's
// thread pool. They stay async for their callers. Opened non-blocking, and
// only a regular file is read or written: a FIFO put there would otherwise
// block the process (a watcher would not even see SIGTERM).

function notRegular(file: string): Error {
  return new Error(`${file} is not a regular file; agentgit writes this file itself: replace it with a regular file (or remove it), then run agentgit again`);
}

/** The bytes of `file`, null when it does not exist; a symbolic link or anything but a regular file is refused. */
export async function readNoFollow(file: string): Promise<Buffer | null> {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    if (code === 'ELOOP') throw refused(file);
    throw e;
  }
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(file);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The bytes of a small file read each round (synchronous, non-blocking open); throws when it is not a regular file or cannot be read. */
export function readRegularFile(file: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(file);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write `file` in place (created 0644 when new); a symbolic link there is refused, never followed, and so is anything but a regular file. */
export async function writeNoFollow(file: string, data: string | Uint8Array): Promise<void> {
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw refused(file);
    if (code === 'ENXIO') throw notRegular(file); // a FIFO with no reader
    throw e;
  }
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(file);
    ftruncateSync(fd, 0);
    writeFileSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

/** Replace `file` atomically (a new temp file renamed over it); a symbolic link there is refused. */
export async function replaceNoFollow(file: string, data: string | Uint8Array): Promise<void> {
  let st = null;
  try {
    st = lstatSync(file);
  } catch {
    // not there yet
  }
  if (st?.isSymbolicLink()) throw refused(file);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true }); // a leftover of a killed run (or a link someone put there)
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    writeFileSync(fd, data);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * Write `rel` under the work tree `root`: no directory on the way may be a
 * symbolic link (it would carry the write out of the work tree), nor the
 * file itself.
 */
export async function writeWorkTreeFile(root: string, rel: string, data: string | Uint8Array): Promise<void> {
  const link = await symlinkedParent(root, rel);
  if (link) throw refused(link);
  const abs = join(root, rel);
  await mkdir(dirname(abs), { recursive: true });
  const again = await symlinkedParent(root, rel); // a link made meanwhile
  if (again) throw refused(again);
  await writeNoFollow(abs, data);
}

/**
 * `writeWorkTreeFile` for many files at once (the clock files of a commit
 * of thousands of files): the same refusals, but each directory on the way
 * is checked for a link once, not once per file, and the calls are
 * synchronous (a few small syscalls each cost far less on the main thread
 * than through the thread pool: an init of 10,000 files writes 6,000 of
 * these).
 */
export function writeWorkTreeFilesSync(root: string, files: Iterable<[string, Uint8Array]>): void {
  const checked = new Set<string>(); // directories known to be there and no link
  const checkDirs = (rel: string): void => {
    const parts = rel.split('/');
    let sub = '';
    for (const p of parts.slice(0, -1)) {
      sub = sub ? `${sub}/${p}` : p;
      if (checked.has(sub)) continue;
      const abs = join(root, sub);
      let st;
      try {
        st = lstatSync(abs);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return; // not there (yet): nothing beneath it exists either
        throw e; // cannot tell: never write through it
      }
      if (st.isSymbolicLink()) throw refused(abs);
      checked.add(sub);
    }
  };
  const made = new Set<string>();
  for (const [rel, data] of files) {
    const abs = join(root, rel);
    const dir = dirname(abs);
    if (!made.has(dir)) {
      checkDirs(rel);
      mkdirSync(dir, { recursive: true });
      checkDirs(rel); // a link made meanwhile
      made.add(dir);
    }
    let fd;
    try {
      // No O_TRUNC: written over from the start, then cut to length. On ext4 a
      // truncate to zero makes close() push the file to disk (auto_da_alloc):
      // 0.1 to 0.4 ms a file, for files that mostly only grow. A kill -9 leaves
      // either version whole when the new one is not shorter (one write).
      fd = openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw refused(abs);
      throw e;
    }
    try {
      for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at, at);
      ftruncateSync(fd, data.length);
    } finally {
      closeSync(fd);
    }
  }
}
