/**
 * IsoGit.commitTree dates a commit from GIT_AUTHOR_DATE / GIT_COMMITTER_DATE
 * as git does (compact's replays keep the originals' dates): git's
 * `SECONDS ±HHMM`, and ISO 8601 with a zone; anything else is refused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envDate, IsoGitEngine, type IsoGit } from '../../../src/git/iso/iso-git.js';
import { cleanupTemp, git, tempDir, testEnv } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());
const env = testEnv(tempDir());
const engine = new IsoGitEngine(env);

describe('commitTree dates', () => {
  it('keeps GIT_AUTHOR_DATE and GIT_COMMITTER_DATE, each on its own line', async () => {
    const dir = join(tempDir(), 'w');
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    writeFileSync(join(dir, 'f'), 'x\n');
    git(dir, ['add', 'f'], env);
    git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '-m', 'c'], env);
    const iso = engine.open(dir, join(dir, '.git'), await engine.detect(join(dir, '.git'), dir)) as IsoGit;
    const tree = git(dir, ['rev-parse', 'HEAD^{tree}'], env).trim();
    const oid = await iso.commitTree(tree, [], 'm\n', { sign: false, env: { GIT_AUTHOR_DATE: '1600000000 +0200', GIT_COMMITTER_DATE: '1600000500 -0130' } });
    const raw = git(dir, ['cat-file', 'commit', oid], env);
    expect(raw).toMatch(/^author .* 1600000000 \+0200$/m);
    expect(raw).toMatch(/^committer .* 1600000500 -0130$/m);
    // git computes the same id from the same inputs
    const viaGit = git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit-tree', tree, '-m', 'm'], { ...env, GIT_AUTHOR_NAME: raw.match(/^author (.*) </m)![1]!, GIT_AUTHOR_EMAIL: raw.match(/^author .* <(.*)>/m)![1]!, GIT_COMMITTER_NAME: raw.match(/^committer (.*) </m)![1]!, GIT_COMMITTER_EMAIL: raw.match(/^committer .* <(.*)>/m)![1]!, GIT_AUTHOR_DATE: '1600000000 +0200', GIT_COMMITTER_DATE: '1600000500 -0130' }).trim();
    expect(oid).toBe(viaGit);
  });

  it('reads git forms and ISO 8601 without looking at the local zone; refuses the rest', () => {
    expect(envDate('D', '@1600000000 +0200')).toBe('1600000000 +0200');
    expect(envDate('D', '1600000000')).toBe('1600000000 +0000');
    expect(envDate('D', '2020-09-13T12:26:40Z')).toBe('1600000000 +0000');
    expect(envDate('D', '2020-09-13T14:26:40+02:00')).toBe('1600000000 +0200');
    expect(envDate('D', undefined)).toBeUndefined();
    expect(() => envDate('GIT_AUTHOR_DATE', 'yesterday')).toThrow(/GIT_AUTHOR_DATE=yesterday: not a date/);
  });
});
