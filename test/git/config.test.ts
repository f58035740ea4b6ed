/**
 * The in-process config reader agrees with `git config --list` on the files
 * agentgit writes and on git-config(1)'s syntax corners; what it does not
 * handle, it hands back to git (null), never a wrong value.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGitConfig, readConfigFiles } from '../../src/git/config.js';
import { gitInt } from '../../src/git/repo.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

function gitList(file: string): Map<string, string> {
  const r = spawnSync('git', ['config', '--file', file, '--list', '-z'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const m = new Map<string, string>();
  for (const item of r.stdout.split('\0')) {
    if (!item) continue;
    const nl = item.indexOf('\n');
    m.set(nl < 0 ? item : item.slice(0, nl), nl < 0 ? 'true' : item.slice(nl + 1));
  }
  return m;
}

const CASES: Record<string, string> = {
  plain: '[core]\n\trepositoryformatversion = 0\n\tbare = false\n[remote "origin"]\n\turl = git@host:repo.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n',
  quoting: '[a]\n\tx = "  spaced  "\n\ty = one " two " three\n\tz = a\\tb\\\\c\\"d\n\tw = "semi;colon#hash"\n',
  comments: '# top\n; also\n[a] ; after header\n\tx = 1 # trailing\n\ty = 2;trailing\n\tflag\n',
  continuation: '[a]\n\tx = first \\\n  second\n\ty = end\n',
  caseAndSubsections: '[Core]\n\tIgnoreCase = true\n[Merge "Agentgit-Log"]\n\tDriver = node x %O %A %B %P\n[branch.Main]\n\tremote = origin\n[url "https://ex.com/"]\n\tinsteadOf = gh:\n',
  escapedSubsection: '[sec "with \\"quote\\" and \\\\"]\n\tk = v\n',
  crlf: '[a]\r\n\tx = 1\r\n\ty = "q"\r\n',
  emptyValue: '[a]\n\tx =\n\ty = ""\n',
  repeated: '[a]\n\tx = 1\n[a]\n\tx = 2\n',
};

describe('git config read in-process', () => {
  for (const [name, text] of Object.entries(CASES)) {
    it(`agrees with git config --list: ${name}`, () => {
      const f = join(tempDir(), 'config');
      writeFileSync(f, text);
      const mine = parseGitConfig(text);
      expect(mine).not.toBeNull();
      expect(new Map(mine!)).toEqual(gitList(f));
    });
  }

  it('hands includes, bad syntax and config from the environment to git', () => {
    expect(parseGitConfig('[include]\n\tpath = other\n')).toBeNull();
    expect(parseGitConfig('[includeIf "gitdir:~/x/"]\n\tpath = other\n')).toBeNull();
    expect(parseGitConfig('[a]\n\tx = "unterminated\n')).toBeNull();
    expect(parseGitConfig('x = 1\n')).toBeNull();
    expect(parseGitConfig('[a]\n\tflag # comment\n')).toBeNull(); // git: bad config line
    expect(parseGitConfig('[a]\n\tx = bad\\q\n')).toBeNull();
    expect(readConfigFiles('/nonexistent', { GIT_CONFIG_COUNT: '1' })).toBeNull();
  });

  it("agrees with git on a repo agentgit set up, global config included", async () => {
    const home = tempDir();
    const env = testEnv(home);
    const dir = join(tempDir(), 'repo');
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    git(dir, ['config', 'user.name', 'bot/a'], env);
    git(dir, ['config', 'merge.agentgit-log.driver', 'node "/opt/agent git/bin" merge-driver log %O %A %B %P'], env);
    git(dir, ['config', 'agentgit.instance', 'a b "c"'], env);
    writeFileSync(join(home, '.gitconfig'), '[core]\n\thooksPath = ~/hooks\n[user]\n\tname = global\n');
    const e = { ...env, HOME: home, GIT_CONFIG_GLOBAL: undefined, XDG_CONFIG_HOME: join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1' };
    delete e.GIT_CONFIG_GLOBAL;
    const r = spawnSync('git', ['config', '--list', '-z'], { cwd: dir, env: e, encoding: 'utf8' });
    const theirs = new Map<string, string>();
    for (const item of r.stdout.split('\0')) {
      if (!item) continue;
      const nl = item.indexOf('\n');
      theirs.set(item.slice(0, nl), item.slice(nl + 1));
    }
    const mine = readConfigFiles(join(dir, '.git'), e);
    expect(mine).toEqual(theirs);
    expect(mine!.get('user.name')).toBe('bot/a');
    expect(mine!.get('core.hookspath')).toBe('~/hooks');
  });
});

describe('config integers', () => {
  it('read as git reads them (k, m, g suffixes), else the default', () => {
    const env = testEnv(tempDir());
    const dir = tempDir();
    git(dir, ['init', '-q'], env);
    for (const v of ['6700', '10k', '2M', '1g', '0', '-1']) {
      git(dir, ['config', 'gc.auto', v], env);
      const byGit = Number(git(dir, ['config', '--int', 'gc.auto'], env).trim());
      expect(gitInt(v, 6700), v).toBe(byGit);
    }
    expect(gitInt(undefined, 6700)).toBe(6700);
    expect(gitInt('lots', 50)).toBe(50);
  });
});
