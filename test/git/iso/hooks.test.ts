/**
 * A file hub's hooks on the isomorphic-git engine (issue #16): git's
 * receive-pack runs a path hub's pre-receive and update hooks; so does this
 * engine's file transport (iso/file-transport.ts runHubHooks). Found by the
 * reliability suite's hub-rejects scenario, where the push went through.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOK_OUTPUT_MAX, runHubHooks } from '../../../src/git/iso/file-transport.js';
import { IsoGitEngine, type IsoGit } from '../../../src/git/iso/iso-git.js';
import { GitError } from '../../../src/git/exec.js';
import { exitCodeOf } from '../../../src/errors.js';
import { cleanupTemp, git, Instance, makeBareHub, plainRepo, tempDir, testEnv } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());

describe.each(['isomorphic-git', 'git'] as const)('a file hub with hooks (%s)', (engine) => {
  beforeAll(() => void (process.env.AGENTGIT_ENGINE = engine));
  afterAll(() => void delete process.env.AGENTGIT_ENGINE);

  it.each(['pre-receive', 'update'])('a refusing %s hook: exit 1 with its message, the hub unmoved, local work kept; without it the next run pushes', async (hook) => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    const before = git(hub, ['rev-parse', 'main']).trim();
    const file = join(hub, 'hooks', hook);
    writeFileSync(file, '#!/bin/sh\necho "quota exceeded for this repo" >&2\nexit 1\n');
    chmodSync(file, 0o755);
    a.write('y.md', 'y\n');
    const r = await a.sync();
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/quota exceeded for this repo/);
    expect(git(hub, ['rev-parse', 'main']).trim()).toBe(before);
    expect(a.git(['status', '--porcelain'])).toBe('');
    rmSync(file);
    const r2 = await a.sync();
    expect(r2.code, r2.stderr).toBe(0);
    expect(git(hub, ['show', 'main:y.md'])).toBe('y\n');
  });
});

describe('the hook runner (file-transport.ts runHubHooks)', () => {
  const env = testEnv(tempDir());
  function hubWithHook(name: string, script: string): string {
    const hub = makeBareHub();
    const file = join(hub, 'hooks', name);
    writeFileSync(file, `#!/bin/sh\n${script}\n`);
    chmodSync(file, 0o755);
    return hub;
  }
  /** Dead or a zombie (a killed orphan that nobody reaped yet). */
  async function gone(pid: number): Promise<void> {
    for (;;) {
      let state: string;
      try {
        state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]!;
      } catch {
        return;
      }
      if (state === 'Z') return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const OLD = '1'.repeat(40);
  const NEW = '2'.repeat(40);

  it('a background child that keeps the output pipes open is not waited for: its group is killed, the hook exit code decides', async () => {
    const hub = hubWithHook('pre-receive', 'echo checking\nsleep 600 &\necho $! > bg.pid\nexit 0');
    const lines: string[] = [];
    expect(await runHubHooks(hub, 'refs/heads/main', OLD, NEW, (l) => lines.push(l), null, env)).toBe(true);
    expect(lines).toEqual(['checking']);
    await gone(Number(readFileSync(join(hub, 'bg.pid'), 'utf8')));
  }, 30_000);

  it('at the deadline the hook and its children are killed, and the push fails as timed out (temporary, not the hook\'s refusal)', async () => {
    const hub = hubWithHook('update', 'sleep 600 &\necho $! > bg.pid\necho $$ > hook.pid\nwait');
    const lines: string[] = [];
    const pending = runHubHooks(hub, 'refs/heads/main', OLD, NEW, (l) => lines.push(l), Date.now() + 500, env);
    const e = await pending.then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(GitError);
    expect((e as GitError).timedOut).toBe(true);
    expect((e as GitError).message).toMatch(/the hub's update hook did not finish by the round's deadline; nothing was moved there/);
    expect(exitCodeOf(e)).toBe(75);
    await gone(Number(readFileSync(join(hub, 'bg.pid'), 'utf8')));
    await gone(Number(readFileSync(join(hub, 'hook.pid'), 'utf8')));
  }, 30_000);

  it('UTF-8 split across reads stays whole; output is capped at 64 KiB', async () => {
    const split = hubWithHook('pre-receive', "printf '\\303'; sleep 0.3; printf '\\251t\\303\\251 refused\\n' >&1; exit 1");
    const lines: string[] = [];
    expect(await runHubHooks(split, 'refs/heads/main', OLD, NEW, (l) => lines.push(l), null, env)).toBe(false);
    expect(lines).toEqual(['été refused']);
    const loud = hubWithHook('pre-receive', "head -c 300000 /dev/zero | tr '\\0' 'a'; echo; exit 1");
    const many: string[] = [];
    expect(await runHubHooks(loud, 'refs/heads/main', OLD, NEW, (l) => many.push(l), null, env)).toBe(false);
    expect(many[0]!.length).toBe(HOOK_OUTPUT_MAX);
    expect(many[1]).toMatch(/the hook's output is cut here: more than 64 KiB/);
  }, 30_000);
});

describe('a delete pushed to a file hub runs its hooks as git does (pre-receive, update, post-receive)', () => {
  const env = testEnv(tempDir());
  const REF = 'refs/agentgit/hub/x';
  function setup(refuse: boolean): { hub: string; dir: string; log: string } {
    const hub = makeBareHub();
    const dir = join(tempDir(), 'w');
    const commit = plainRepo(dir, env);
    const c = commit('f', 'a\n');
    git(dir, ['push', '-q', hub, `${c}:${REF}`, 'HEAD:refs/heads/main'], env);
    const log = join(hub, 'hooks.log');
    for (const h of ['pre-receive', 'update', 'post-receive']) {
      const file = join(hub, 'hooks', h);
      const exit = refuse && h === 'update' ? 'echo "no deletes here" >&2; exit 1' : 'exit 0';
      writeFileSync(file, `#!/bin/sh\nin=$(cat)\necho "${h} $* [$in]" >> "${log}"\n${exit}\n`);
      chmodSync(file, 0o755);
    }
    return { hub, dir, log };
  }
  async function isoPush(dir: string, hub: string): Promise<Awaited<ReturnType<IsoGit['push']>>> {
    const engine = new IsoGitEngine(env);
    const gitDir = join(dir, '.git');
    const iso = engine.open(dir, gitDir, await engine.detect(gitDir, dir)) as IsoGit;
    return iso.push({ remote: hub, refspecs: [`:${REF}`] });
  }

  it('accepted: the same hook calls as git push --delete, the ref gone', async () => {
    const byGit = setup(false);
    spawnSync('git', ['push', '-q', byGit.hub, `:${REF}`], { cwd: byGit.dir, env });
    const byIso = setup(false);
    const r = await isoPush(byIso.dir, byIso.hub);
    expect(r.ok).toBe(true);
    expect(git(byIso.hub, ['for-each-ref', REF], env)).toBe('');
    const norm = (s: string): string => s.replace(/[0-9a-f]{40}(?<!0{40})/g, 'OID');
    expect(norm(readFileSync(byIso.log, 'utf8'))).toBe(norm(readFileSync(byGit.log, 'utf8')));
    expect(readFileSync(byIso.log, 'utf8')).toMatch(/^pre-receive {2}\[[0-9a-f]{40} 0{40} refs\/agentgit\/hub\/x\]\nupdate refs\/agentgit\/hub\/x [0-9a-f]{40} 0{40} \[\]\npost-receive {2}\[/);
  });

  it('refused by the update hook: the ref stays, the hook words reach the operator, no post-receive', async () => {
    const { hub, dir, log } = setup(true);
    const before = git(hub, ['rev-parse', REF], env).trim();
    const r = await isoPush(dir, hub);
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/remote: no deletes here/);
    expect(git(hub, ['rev-parse', REF], env).trim()).toBe(before);
    expect(readFileSync(log, 'utf8')).not.toMatch(/post-receive/);
  });
});
