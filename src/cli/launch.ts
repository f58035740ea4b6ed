/**
 * The bundle's entry (bin/agentgit → dist/bundle/launch.cjs): the code cache
 * first (cli/code-cache.ts), then the command line (cli/main.ts) from the
 * chunks it covers. With AGENTGIT_TRACE=1 it says at exit which chunks came
 * from the cache (`[trace code-cache] hit core-….cjs, …`).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentgitHome } from '../identity/home.js';
import { cacheProfile, installCodeCache } from './code-cache.js';

export async function launch(argv: string[]): Promise<void> {
  const use = installCodeCache(dirname(fileURLToPath(import.meta.url)), join(agentgitHome(), 'code-cache'), cacheProfile(argv));
  if (use && process.env.AGENTGIT_TRACE === '1') {
    process.once('exit', () => {
      const says = [...use.chunks].map(([name, state]) => `${state} ${name}`);
      if (use.written.length) says.push(`wrote ${use.written.join(' ')}`);
      if (use.unused) says.push(`not used: ${use.unused}`);
      process.stderr.write(`[trace code-cache] ${says.join(', ')}\n`);
    });
  }
  const { main } = await import('./main.js');
  await main(argv);
}
