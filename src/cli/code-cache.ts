/**
 * A V8 code cache for the bundle's chunks (what Node 22's
 * `module.enableCompileCache()` does, for Node 20): a cron round starts Node
 * every minute, and compiling the round's 300 KB of JavaScript again each
 * time was a tenth of a no-op round (docs/performance.md, "Issue #14, ninth
 * pass").
 *
 * `installCodeCache` makes every CommonJS chunk of the bundle whose name
 * carries rolldown's content hash (`round-Ab12_-xY.cjs`) compile with its
 * cached data, and writes the caches at exit when one was missing or refused
 * (another Node, other flags). Written after the run, a chunk's cache holds
 * the functions the run compiled, not only its top level. Every other module
 * compiles as Node would.
 *
 * Cached data is code, and V8 trusts it: it checks its own version, its flags
 * and the source's length, not the bytes (Node 20 release builds do not
 * verify the data's checksum; a file with a zeroed tail crashes Node). So:
 * - Each file carries, before V8's data, the SHA-1 of the chunk's source and
 *   of the data (encodeCache/decodeCache). A file that does not match is not
 *   given to V8 ("refused"), and is written again at exit.
 * - Files are written to a new temp file (O_EXCL, random name), fsynced,
 *   then renamed: a kill -9 or a power loss leaves the old file or the new
 *   one, whole; two processes writing at once leave one whole file.
 * - The cache lives under $AGENTGIT_HOME (`code-cache/<node version>-<arch>-
 *   <V8 cache tag>/<profile>`, made 0700), never in a shared temp dir. A
 *   profile directory that is a symbolic link, is not this user's, or is
 *   writable by others is not used at all; files are opened without
 *   following links.
 * - A chunk that holds an `import()` (yargs, a few `node:` modules) compiles as
 *   Node would: under vm.Script an `import()` needs an import callback, and
 *   Node 20's only general one is experimental. The chunks of a round have
 *   none (test/cli/code-cache.test.ts).
 * - Nothing here can fail a command: a cache that cannot be read is not used,
 *   one that cannot be written is not written. `AGENTGIT_CODE_CACHE=0` turns
 *   it off.
 *
 * Imports only Node's own modules: it runs before any chunk loads.
 */
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { cachedDataVersionTag } from 'node:v8';
import vm from 'node:vm';

/** A chunk rolldown named with its content hash (rolldown.config.mjs: `[name]-[hash].cjs`). */
export const HASHED_CHUNK = /^[\w.-]+-[\w-]{8}\.cjs$/;

/** An `import(` a chunk's code may hold (rolldown writes `import(`; spaces or a comment before the parenthesis count too). */
const DYNAMIC_IMPORT = /\bimport\s*(\/\*[^]*?\*\/\s*)*\(/;

/**
 * Which cache a command uses: `sync` (the cron round) has its own, so that what
 * other commands compile does not stand in for it; every other command shares one.
 */
export function cacheProfile(argv: string[]): 'sync' | 'other' {
  return argv[0] === 'sync' ? 'sync' : 'other';
}

/** The directory of a profile's cache files under `base` ($AGENTGIT_HOME/code-cache), for this Node and V8. */
export function cacheDirFor(base: string, profile: string): string {
  return join(base, `${process.version}-${process.arch}-${cachedDataVersionTag()}`, profile);
}

const MAGIC = Buffer.from('agentgit code cache 1\n');
const HEADER = MAGIC.length + 1 + 20 + 20;
// node:crypto loaded when first needed: `--version` runs this module and never hashes
let crypto: typeof import('node:crypto') | undefined;
const lazyCrypto = (): typeof import('node:crypto') => (crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'));
const sha1 = (b: string | Uint8Array): Buffer => lazyCrypto().createHash('sha1').update(b).digest();

/** A cache file: magic, whether the run that wrote it ended well (1) or not (0), SHA-1 of the source, SHA-1 of the data, V8's data. */
export function encodeCache(source: string, data: Buffer, complete: boolean): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([complete ? 1 : 0]), sha1(source), sha1(data), data]);
}

/** V8's data from a cache file, if it is one, whole, made for exactly `source`; null otherwise. */
export function decodeCache(file: Buffer, source: string): { data: Buffer; complete: boolean } | null {
  if (file.length <= HEADER || !file.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  const flag = file[MAGIC.length];
  if (flag !== 0 && flag !== 1) return null;
  const at = MAGIC.length + 1;
  const data = file.subarray(HEADER);
  if (!file.subarray(at, at + 20).equals(sha1(source)) || !file.subarray(at + 20, HEADER).equals(sha1(data))) return null;
  return { data, complete: flag === 1 };
}

type Compile = (this: CjsModule, content: string, filename: string) => unknown;
interface CjsModule {
  exports: unknown;
  require(id: string): unknown;
  _compile: Compile;
}

/** What installCodeCache did in this process (AGENTGIT_TRACE=1 prints it at exit). */
export interface CodeCacheUse {
  /** chunk name → 'hit' (V8 took the cache), 'miss' (none there), 'refused' (not whole, not for this source, or refused by V8) */
  chunks: Map<string, 'hit' | 'miss' | 'refused'>;
  /** chunks whose cache was written at exit */
  written: string[];
  /** why the cache directory was not used, if it was not */
  unused?: string;
}

/**
 * Hooks the CommonJS compile of `bundleDir`'s hashed chunks, with the cache of
 * `profile` under `base` ($AGENTGIT_HOME/code-cache). Returns null when turned off.
 *
 * When to write: a run that found a chunk's cache missing or refused writes
 * at exit the cache of every chunk it compiled, those it found too; so does a
 * run that ended well (exit 0) after one whose cache came from a run that did
 * not (a first round that failed early compiled little). A run that loads a
 * chunk the cache has not seen (the first round with local changes after
 * no-op rounds) is a new kind of run, and the functions it compiled in the
 * other chunks are added to theirs. A run that found everything writes
 * nothing.
 */
export function installCodeCache(bundleDir: string, base: string, profile: string, env: NodeJS.ProcessEnv = process.env): CodeCacheUse | null {
  if (env.AGENTGIT_CODE_CACHE === '0') return null;
  const dir = cacheDirFor(base, profile);
  const use: CodeCacheUse = { chunks: new Map(), written: [] };
  const unsafe = unsafeDir(dir);
  if (unsafe) {
    use.unused = unsafe;
    return use; // a directory that is not this user's alone: neither read nor written
  }
  const compiled: { name: string; source: string; script: vm.Script }[] = [];
  let fromFailedRun = false;
  const proto = (Module as unknown as { prototype: CjsModule }).prototype;
  const compile = proto._compile;
  proto._compile = function (this: CjsModule, content: string, filename: string): unknown {
    const name = basename(filename);
    if (dirname(filename) !== bundleDir || !HASHED_CHUNK.test(name) || DYNAMIC_IMPORT.test(content)) return compile.call(this, content, filename);
    const file = readCacheFile(join(dir, name));
    const found = file && decodeCache(file, content);
    const script = new vm.Script((Module as unknown as { wrap(s: string): string }).wrap(content), { filename, cachedData: found ? found.data : undefined });
    use.chunks.set(name, file === null ? 'miss' : !found || script.cachedDataRejected ? 'refused' : 'hit');
    if (found && !found.complete) fromFailedRun = true;
    compiled.push({ name, source: content, script });
    const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return fn.call(this.exports, this.exports, requireFor(this), this, filename, dirname(filename));
  };
  process.once('exit', (code) => {
    const complete = code === 0;
    if ([...use.chunks.values()].some((state) => state !== 'hit') || (fromFailedRun && complete)) writeCaches(dir, bundleDir, compiled, complete, use);
  });
  return use;
}

/** Why `dir` must not hold code this process runs (null: it may): a link, another owner, writable by others. Absent is fine. */
function unsafeDir(dir: string): string | null {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return null; // made 0700 when first written
  }
  if (!st.isDirectory()) return `${dir} is not a directory`;
  const uid = process.geteuid?.();
  if (uid !== undefined && st.uid !== uid) return `${dir} belongs to another user`;
  if ((st.mode & 0o022) !== 0) return `${dir} is writable by others`;
  return null;
}

/** A file's bytes, never through a symbolic link; null when it cannot be read. */
function readCacheFile(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The `require` a module's code gets: Node's own, through the module (its paths, its cache). */
function requireFor(mod: CjsModule): NodeJS.Require {
  const M = Module as unknown as { _resolveFilename(r: string, m: CjsModule, isMain: boolean, o?: unknown): string; _cache: NodeJS.Dict<unknown> };
  const req = ((id: string) => mod.require(id)) as NodeJS.Require;
  req.resolve = ((request: string, options?: unknown) => M._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
  req.cache = M._cache as NodeJS.Require['cache'];
  req.main = (process as unknown as { mainModule?: NodeJS.Module }).mainModule;
  return req;
}

/** Left alone for this long: the caches of another install or another Node sharing $AGENTGIT_HOME (each would otherwise delete the other's). */
const PRUNE_AFTER_MS = 30 * 24 * 3600_000;
/** A temp file older than this is a writer's that was killed. */
const TEMP_AFTER_MS = 3600_000;

/**
 * At exit: each chunk's cache to `dir` (a new temp file, fsynced, renamed),
 * then what has not been written for a long time removed: caches of chunks
 * this bundle does not have, other Node versions' directories, killed
 * writers' temp files. Errors are dropped: a cache is an optimisation, never
 * a reason to fail.
 */
function writeCaches(dir: string, bundleDir: string, scripts: { name: string; source: string; script: vm.Script }[], complete: boolean, use: CodeCacheUse): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return;
  }
  const unsafe = unsafeDir(dir);
  if (unsafe) {
    use.unused = unsafe;
    return;
  }
  for (const { name, source, script } of scripts) {
    const tmp = join(dir, `.${name}.${lazyCrypto().randomBytes(6).toString('hex')}.tmp`);
    let fd: number | null = null;
    try {
      fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      const bytes = encodeCache(source, script.createCachedData(), complete);
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
      fsyncSync(fd);
      closeSync(fd);
      fd = null;
      renameSync(tmp, join(dir, name));
      use.written.push(name);
    } catch {
      if (fd !== null) closeSync(fd);
      rmSync(tmp, { force: true });
    }
  }
  const now = Date.now();
  const old = (p: string, ms: number): boolean => {
    try {
      return now - lstatSync(p).mtimeMs > ms;
    } catch {
      return false;
    }
  };
  try {
    const chunks = new Set(readdirSync(bundleDir));
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (f.startsWith('.') ? f.endsWith('.tmp') && old(p, TEMP_AFTER_MS) : !chunks.has(f) && old(p, PRUNE_AFTER_MS)) rmSync(p, { force: true });
    }
    const versions = dirname(dirname(dir));
    for (const d of readdirSync(versions)) {
      const p = join(versions, d);
      if (p !== dirname(dir) && old(p, PRUNE_AFTER_MS)) rmSync(p, { recursive: true, force: true });
    }
  } catch {
    // a cache left over is only disk space
  }
}
