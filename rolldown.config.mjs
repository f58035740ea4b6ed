/**
 * `npm run build`, second step: the CLI as a few ESM chunks in dist/bundle/
 * (bin/agentgit runs it when present). Measured on the no-op round, which runs
 * every minute on every instance: about 20-30% less time and CPU than loading
 * the ~35 modules of dist/ one by one (docs/performance.md). Commands and
 * modules loaded with import() stay separate chunks, loaded only when used.
 * yargs stays external: it finds its locale files next to its own code.
 */
import { rmSync } from 'node:fs';

rmSync(new URL('./dist/bundle', import.meta.url), { recursive: true, force: true });

export default {
  input: 'dist/cli/main.js',
  platform: 'node',
  external: [/^yargs(\/|$)/],
  output: { dir: 'dist/bundle', format: 'esm', entryFileNames: 'main.js', chunkFileNames: '[name]-[hash].js' },
};
