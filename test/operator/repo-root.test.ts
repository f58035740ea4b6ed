/**
 * Finding the repo: every command works from any directory inside the state
 * (git's rule: the nearest directory above holding .git), and a mistyped -C
 * is reported as missing, never created or nested.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, git, Instance, makeBareHub, tempDir } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-11-25.md';

describe('operator: finding the repo root', () => {
  it('sync, status and init from a subdirectory act on the repo root and never nest a repo', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '- 09:00 one\n' } });
    a.append(day, '- 10:00 two\n');
    const sub = a.path('memory');
    const s = await agentgit(['sync'], { cwd: sub, env: a.env });
    expect(s.code, s.stderr).toBe(0);
    expect(git(hub, ['show', `main:${day}`])).toBe('- 09:00 one\n- 10:00 two\n');
    const st = await agentgit(['status', '--json'], { cwd: sub, env: a.env });
    expect(st.code, st.stderr).toBe(0);
    expect((JSON.parse(st.stdout) as { root: string }).root).toBe(a.git(['rev-parse', '--show-toplevel']).trim());
    const i = await agentgit(['init', '-C', '.'], { cwd: sub, env: a.env });
    expect(i.code, i.stderr).toBe(0);
    expect(existsSync(join(sub, '.git'))).toBe(false);
    expect(existsSync(join(sub, '.agentgit'))).toBe(false);
    expect(git(hub, ['ls-tree', '-r', '--name-only', 'main']).split('\n')).not.toContain('memory/.agentgit/config.json');
  });

  it('a mistyped -C says the directory does not exist; init -C typo creates nothing and pushes nothing', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '- 09:00 one\n' } });
    const typo = join(a.dir, '..', 'sate');
    for (const cmd of ['status', 'doctor', 'log']) {
      const r = await agentgit([cmd, '-C', typo], { env: a.env });
      expect(r.code, cmd).toBe(2);
      expect(r.stderr).toContain(`${typo} does not exist`);
    }
    const s = await agentgit(['sync', '-C', typo], { env: a.env });
    expect(s.code).toBe(1);
    expect(s.stderr).toContain(`${typo} does not exist`);
    const hub2 = makeBareHub();
    const i = await agentgit(['init', '-C', typo, '--remote', hub2], { env: a.env });
    expect(i.code).toBe(2);
    expect(i.stderr).toContain(`${typo} does not exist`);
    expect(i.stderr).toContain(`mkdir -p ${typo}`);
    expect(existsSync(typo)).toBe(false);
    expect(git(hub2, ['for-each-ref']).trim()).toBe('');
  });

  it('outside any repo, and in a Git repo not set up for agentgit: one line naming the directory and the command to run', async () => {
    const d = tempDir();
    const env = new Instance(d, 'x', tempDir()).env;
    const r = await agentgit(['status', '-C', d], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not in an agentgit repo \(no \.git there or in any directory above\): run `agentgit init -C /);
    const plain = join(tempDir(), 'plain');
    mkdirSync(join(plain, 'sub'), { recursive: true });
    git(plain, ['init', '-q', '-b', 'main'], env);
    const p = await agentgit(['status'], { cwd: join(plain, 'sub'), env });
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/plain is a Git repo but not set up for agentgit: run `agentgit init -C .*plain`/);
  });
});
