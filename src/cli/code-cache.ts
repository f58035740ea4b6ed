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
 * Safe by construction:
 * - The name is the key: a chunk's content changes its hash and so its name,
 *   and an entry file (a fixed name) is never cached. V8 itself refuses data
 *   made by another V8 version or with other flags, or for a source of another
 *   length, and then compiles the source as usual.
 * - The cache lives in a directory of the user's own (`$AGENTGIT_HOME/code-cache/
 *   <node version>-<arch>/<profile>`, made 0700), never in a shared temp dir: data there
 *   is code. Written to a temp file and renamed, so a kill -9 leaves no torn
 *   file, and two processes writing at once leave one whole file.
 * - Nothing here can fail a command: a cache that cannot be read is not used,
 *   one that cannot be written is not written.
 * - A chunk that holds an `import()` (yargs, a few `node:` modules) is not
 *   cached: V8 loses the script's import callback when it compiles from cached
 *   data. The chunks of a round have none (test/cli/code-cache.test.ts).
 * - `AGENTGIT_CODE_CACHE=0` turns it off.
 *
 * Imports only Node's own modules: it runs before any chunk loads.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { basename, dirname, join } from 'node:path';
import vm from 'node:vm';

/** A chunk rolldown named with its content hash (rolldown.config.mjs: `[name]-[hash].cjs`). */
export const HASHED_CHUNK = /^[\w.]+-[\w-]{8}\.cjs$/;

/**
 * Which cache a command uses: `sync` (the cron round) has its own, so that what
 * other commands compile does not stand in for it; every other command shares one.
 */
export function cacheProfile(argv: string[]): 'sync' | 'other' {
  return argv[0] === 'sync' ? 'sync' : 'other';
}

/** The directory of a profile's cache files under `base` ($AGENTGIT_HOME/code-cache), for this Node. */
export function cacheDirFor(base: string, profile: string): string {
  return join(base, `${process.version}-${process.arch}`, profile);
}

type Compile = (this: CjsModule, content: string, filename: string) => unknown;
interface CjsModule {
  exports: unknown;
  require(id: string): unknown;
  _compile: Compile;
}

/** What installCodeCache did in this process (AGENTGIT_TRACE=1 prints it at exit). */
export interface CodeCacheUse {
  /** chunk name → 'hit' (V8 took the cache), 'miss' (none there), 'rejected' (V8 refused it) */
  chunks: Map<string, 'hit' | 'miss' | 'rejected'>;
  /** chunks whose cache was written at exit */
  written: string[];
}

/**
 * Hooks the CommonJS compile of `bundleDir`'s hashed chunks, with the cache of
 * `profile` under `base` ($AGENTGIT_HOME/code-cache). Returns null when turned off.
 *
 * When to write: a run that found a chunk's cache missing or refused writes
 * at exit the cache of every chunk it compiled, those it found too. A run that
 * loads a chunk the cache has not seen (the first round with local changes
 * after no-op rounds) is a new kind of run, and the functions it compiled in
 * the other chunks are added to theirs. A run that found everything writes
 * nothing.
 */
export function installCodeCache(bundleDir: string, base: string, profile: string, env: NodeJS.ProcessEnv = process.env): CodeCacheUse | null {
  if (env.AGENTGIT_CODE_CACHE === '0') return null;
  const dir = cacheDirFor(base, profile);
  const use: CodeCacheUse = { chunks: new Map(), written: [] };
  const compiled: { name: string; script: vm.Script }[] = [];
  const proto = (Module as unknown as { prototype: CjsModule }).prototype;
  const compile = proto._compile;
  proto._compile = function (this: CjsModule, content: string, filename: string): unknown {
    const name = basename(filename);
    // a chunk with an import() (yargs, some node: modules) compiles as Node would: V8 does not keep
    // the import() callback of a script made from cached data ("A dynamic import callback was not specified")
    if (dirname(filename) !== bundleDir || !HASHED_CHUNK.test(name) || content.includes('import(')) return compile.call(this, content, filename);
    let cachedData: Buffer | undefined;
    try {
      cachedData = readFileSync(join(dir, name));
    } catch {
      cachedData = undefined;
    }
    const script = new vm.Script((Module as unknown as { wrap(s: string): string }).wrap(content), { filename, cachedData });
    use.chunks.set(name, cachedData === undefined ? 'miss' : script.cachedDataRejected ? 'rejected' : 'hit');
    compiled.push({ name, script });
    const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return fn.call(this.exports, this.exports, requireFor(this), this, filename, dirname(filename));
  };
  process.once('exit', () => {
    if ([...use.chunks.values()].some((state) => state !== 'hit')) writeCaches(dir, bundleDir, compiled, use);
  });
  return use;
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * At exit: each chunk's cache to `dir` (temp file, then rename), and what no
 * longer belongs there removed: caches of chunks this bundle does not have,
 * other writers' temp files once their process is gone (a kill -9), and the
 * caches of other Node versions. Errors are dropped: a cache is an
 * optimisation, never a reason to fail.
 */
function writeCaches(dir: string, bundleDir: string, scripts: { name: string; script: vm.Script }[], use: CodeCacheUse): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return;
  }
  for (const { name, script } of scripts) {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    try {
      writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      renameSync(tmp, join(dir, name));
      use.written.push(name);
    } catch {
      rmSync(tmp, { force: true });
    }
  }
  try {
    const chunks = new Set(readdirSync(bundleDir));
    for (const f of readdirSync(dir)) {
      const tmp = /^\..+\.(\d+)\.tmp$/.exec(f);
      if (tmp ? !alive(Number(tmp[1])) : !chunks.has(f)) rmSync(join(dir, f), { force: true });
    }
    const versions = dirname(dirname(dir));
    for (const d of readdirSync(versions)) if (join(versions, d) !== dirname(dir)) rmSync(join(versions, d), { recursive: true, force: true });
  } catch {
    // a cache left over is only disk space
  }
}
