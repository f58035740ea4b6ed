/**
 * `npm run build`, second step: the CLI as a few CommonJS chunks in
 * dist/bundle/ (bin/agentgit runs launch.cjs when present). yargs stays
 * external: it finds its locale files next to its own code.
 *
 * CommonJS, not ES modules (2026-12-04): Node 20 starts a CommonJS entry
 * about 6 ms sooner, and compiles CommonJS chunks from a V8 code cache
 * (src/cli/code-cache.ts; Node 20 has no compile cache for ES modules). Each
 * chunk's name carries its content hash, which is the cache's key.
 *
 * A cron `agentgit sync` starts Node every minute on every instance, so its
 * start-up is made of as few files as possible (docs/performance.md, "Start-up
 * of a cron round"): launch.cjs (the entry: the code cache, and where
 * $AGENTGIT_HOME is), `core` (cli/main.js and what it imports statically:
 * errors, git/exec, and what opening the ssh connection ahead needs,
 * sync/ssh-ahead and its imports; with rolldown's runtime, all that
 * `--version` loads), then one `round` chunk with everything a no-op round
 * runs, and one `change` chunk with what a round with local changes adds (the
 * guard, the secret scan, admission, the json and log merge kinds). Default
 * chunking made a no-op round open 28 files, a small round 35; now 4 and 5.
 * Everything else loaded with import() stays in chunks of its own, loaded only
 * when used: other commands, yargs, the isomorphic-git engine and
 * isomorphic-git, integrate and the other merge kinds, checkout, compaction.
 */
import { rmSync } from 'node:fs';
import { sep } from 'node:path';

rmSync(new URL('./dist/bundle', import.meta.url), { recursive: true, force: true });

/**
 * The named chunks after `core`: each takes its roots (paths under dist/) and
 * all they import statically, less what `core` took (or `--version` would load
 * a round) and less what an earlier one took. `core` is cli/main.js and its
 * static imports, less what the entry (cli/launch.js) holds.
 */
const CHUNKS = [
  { name: 'round', roots: ['cli/sync.js', 'sync/hub-files.js', 'sync/watch.js'] },
  { name: 'change', roots: ['sync/guard.js', 'merge/json.js', 'sync/scan.js', 'identity/admission.js'] },
];
const chunkOf = new Map(); // module id → name of its chunk

const dist = (id) => id.split(sep).join('/').replace(/^.*\/dist\//, '');

/** Fills chunkOf from the module graph, before chunking asks the groups' `test`. */
const namedChunks = {
  name: 'named-chunks',
  buildEnd() {
    const ids = [...this.getModuleIds()];
    const taken = new Set();
    const take = (roots) => {
      const seen = [];
      const todo = [...roots];
      while (todo.length) {
        const id = todo.pop();
        if (taken.has(id)) continue;
        taken.add(id);
        seen.push(id);
        todo.push(...(this.getModuleInfo(id)?.importedIds ?? []));
      }
      return seen;
    };
    const entries = ids.filter((id) => this.getModuleInfo(id)?.isEntry);
    take(entries); // launch.js and what it imports (node: modules, identity/home.js) stay in launch.cjs
    const main = ids.filter((id) => dist(id) === 'cli/main.js');
    if (main.length !== 1) throw new Error('rolldown.config.mjs: cli/main.js is missing from the build');
    for (const id of take(main)) chunkOf.set(id, 'core');
    for (const c of CHUNKS) {
      const roots = ids.filter((id) => c.roots.includes(dist(id)));
      if (roots.length !== c.roots.length) throw new Error(`rolldown.config.mjs: chunk ${c.name}: a root is missing from the build (${c.roots.join(', ')})`);
      for (const id of take(roots)) chunkOf.set(id, c.name);
    }
  },
};

export default {
  input: 'dist/cli/launch.js',
  platform: 'node',
  external: [/^yargs(\/|$)/],
  plugins: [namedChunks],
  // the groups below list every module they take: nothing to pull in besides
  preserveEntrySignatures: 'allow-extension',
  // "imported with import() but also statically": expected now that the round's modules share a chunk
  checks: { ineffectiveDynamicImport: false },
  output: {
    dir: 'dist/bundle',
    format: 'cjs',
    // "use strict" in every chunk: tsc's ES modules were strict by being modules, and must stay so as CommonJS
    strict: true,
    entryFileNames: '[name].cjs',
    // the hash in the name is the code cache's key (src/cli/code-cache.ts)
    chunkFileNames: '[name]-[hash].cjs',
    // Not minified: mangling measured 1.3% fewer instructions on a no-op
    // round (docs/performance.md), not worth a crash's stack trace in
    // names nobody can find in src/.
    codeSplitting: {
      includeDependenciesRecursively: false,
      groups: [{ name: 'core' }, ...CHUNKS].map((c) => ({ name: c.name, test: (id) => chunkOf.get(id) === c.name })),
    },
  },
};
