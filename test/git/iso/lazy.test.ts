/**
 * The isomorphic-git engine costs nothing to a run on the git engine: the
 * built CLI (bin/agentgit → dist/bundle) opening a repository with git
 * never loads the chunks that hold the engine or isomorphic-git, and with
 * AGENTGIT_ENGINE=isomorphic-git it does (so this test can fail). Every
 * module the process loads is recorded by a module hook (node --import).
 * Needs `npm run build` (as every test that runs the CLI).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, cleanupTemp, tempDir, testEnv } from '../../helpers/agents.js';
import { loadedBy } from '../../helpers/loaded.js';

afterAll(() => cleanupTemp());

/** The bundle's chunks that hold the engine (iso/) or isomorphic-git itself (by strings the minifier keeps). */
function isoChunks(): string[] {
  const dir = join(ROOT, 'dist', 'bundle');
  return readdirSync(dir).filter((f) => {
    const text = readFileSync(join(dir, f), 'utf8');
    return text.includes('(isomorphic-git: everything in-process)') || text.includes('# service=git-upload-pack');
  });
}

describe('the isomorphic-git engine is loaded only when chosen', () => {
  it('init and status on the git engine load none of its chunks; AGENTGIT_ENGINE=isomorphic-git loads them', () => {
    const chunks = isoChunks();
    expect(chunks.length).toBe(2); // the engine, and isomorphic-git
    const home = tempDir();
    const env = testEnv(home);
    const dir = join(home, 'repo');
    mkdirSync(dir);
    writeFileSync(join(dir, 'note.md'), 'hello\n');
    const init = loadedBy(['init', '-C', dir, '--agent', 'a', '--instance', 'one'], env);
    expect(init.status, init.stderr).toBe(0);
    const status = loadedBy(['status', '-C', dir], env);
    for (const run of [init, status]) {
      expect(run.urls.some((u) => u.includes('/dist/bundle/launch.cjs'))).toBe(true);
      expect(run.urls.filter((u) => chunks.some((c) => u.endsWith(`/${c}`)))).toEqual([]);
    }
    const other = join(home, 'other');
    mkdirSync(other);
    const withIso = loadedBy(['init', '-C', other, '--agent', 'a', '--instance', 'two'], { ...env, AGENTGIT_ENGINE: 'isomorphic-git' });
    expect(chunks.filter((c) => withIso.urls.some((u) => u.endsWith(`/${c}`)))).toEqual(chunks);
  });
});
