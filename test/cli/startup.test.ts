/**
 * Start-up of a cron `agentgit sync` (docs/performance.md, "Start-up of a cron
 * round"): every module file Node opens costs a resolve, a read, a compile and
 * a link, so the bundle (rolldown.config.mjs) gives a round a few chunks:
 * launch.cjs (the entry: the code cache), `core` (main.js and its imports),
 * one `round` chunk for a no-op round, one `change` chunk more for a round
 * with local changes. `--version` loads none of them: bin/agentgit answers it,
 * writing to fd 1 without making process.stdout. The files come from a module
 * hook, not from timings. Needs `npm run build` (as every test that runs the
 * CLI).
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Instance, ROOT, cleanupTemp, makeBareHub } from '../helpers/agents.js';
import { loadedBy } from '../helpers/loaded.js';

afterAll(() => cleanupTemp());

/** The bundle chunks a run loaded, by name (`round-Ab12_-xY.cjs` → `round`). */
function chunks(urls: string[]): string[] {
  return urls
    .filter((u) => u.includes('/dist/bundle/'))
    .map((u) => basename(new URL(u).pathname).replace(/-[\w-]{8}\.cjs$/, '').replace(/\.cjs$/, ''))
    .sort();
}

const MAIN = ['core', 'launch', 'rolldown-runtime'];

describe('a cron round loads few bundle files', () => {
  it('--version loads no bundle file; a no-op round loads main.js and its imports and the round chunk; a round with a change adds the change chunk', async () => {
    const a = await Instance.init(makeBareHub(), 'a', { files: { 'notes.md': 'hello\n' } });
    expect((await a.sync()).code).toBe(0);

    const version = loadedBy(['--version'], a.env);
    expect(version.status, version.stderr).toBe(0);
    expect(chunks(version.urls)).toEqual([]); // bin/agentgit answers it alone
    expect(version.stdout).toBe(`agentgit ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    expect(version.urls.filter((u) => u.startsWith('node:'))).not.toContain('node:crypto');

    const noop = loadedBy(['sync', '-C', a.dir, '--quiet'], a.env);
    expect(noop.status, noop.stderr).toBe(0);
    expect(chunks(noop.urls)).toEqual([...MAIN, 'round'].sort());
    expect(noop.urls).toContain('node:crypto'); // (so the check of --version above can fail)

    a.append('notes.md', 'one more line\n');
    const small = loadedBy(['sync', '-C', a.dir, '--quiet'], a.env);
    expect(small.status, small.stderr).toBe(0);
    expect(a.git(['log', '-1', '--name-only', '--format='])).toContain('notes.md'); // the change was committed
    expect(chunks(small.urls)).toEqual([...MAIN, 'change', 'round'].sort());
  });
});
