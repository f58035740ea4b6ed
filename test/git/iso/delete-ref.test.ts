/**
 * IsoGit.deleteRef with git's lock protocol: `<ref>.lock` taken (O_EXCL)
 * before the value is compared, packed-refs read only under
 * `packed-refs.lock`; a lock held by git fails the delete and leaves the
 * ref where it was. git reads the result.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IsoGitEngine, type IsoGit } from '../../../src/git/iso/iso-git.js';
import { cleanupTemp, git, plainRepo, tempDir, testEnv } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());
const env = testEnv(tempDir());
const engine = new IsoGitEngine(env);
const REF = 'refs/agentgit/hub/x';

async function repo(): Promise<{ dir: string; iso: IsoGit; a: string; b: string }> {
  const dir = join(tempDir(), 'w');
  const commit = plainRepo(dir, env);
  const a = commit('f', 'a\n');
  const b = commit('f', 'b\n');
  git(dir, ['update-ref', REF, a], env);
  const gitDir = join(dir, '.git');
  return { dir, iso: engine.open(dir, gitDir, await engine.detect(gitDir, dir)) as IsoGit, a, b };
}

const at = (dir: string): string => git(dir, ['for-each-ref', '--format=%(objectname)', REF], env).trim();

describe('IsoGit.deleteRef', () => {
  it('fails while git holds <ref>.lock, and the ref stays', async () => {
    const { dir, iso, a, b } = await repo();
    writeFileSync(join(dir, '.git', `${REF}.lock`), `${b}\n`);
    await expect(iso.deleteRef(REF, a)).rejects.toThrow(/x\.lock exists/);
    expect(at(dir)).toBe(a);
    expect(existsSync(join(dir, '.git', `${REF}.lock`))).toBe(true);
  });

  it('fails when the ref is not at the expected id, and the ref stays', async () => {
    const { dir, iso, a, b } = await repo();
    await expect(iso.deleteRef(REF, b)).rejects.toThrow(/expected/);
    expect(at(dir)).toBe(a);
  });

  it('deletes a packed ref under packed-refs.lock; a held packed-refs.lock fails it', async () => {
    const { dir, iso, a } = await repo();
    git(dir, ['pack-refs', '--all'], env);
    expect(existsSync(join(dir, '.git', REF))).toBe(false);
    writeFileSync(join(dir, '.git', 'packed-refs.lock'), '');
    await expect(iso.deleteRef(REF, a)).rejects.toThrow(/packed-refs\.lock exists/);
    expect(at(dir)).toBe(a);
    rmSync(join(dir, '.git', 'packed-refs.lock'));
    expect(await iso.deleteRef(REF, a)).toBe(true);
    expect(at(dir)).toBe('');
    expect(git(dir, ['show-ref', '--heads'], env)).toContain('refs/heads/main');
    expect(await iso.deleteRef(REF)).toBe(false);
  });
});
