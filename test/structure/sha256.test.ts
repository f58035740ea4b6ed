/**
 * A SHA-256 repository (extensions.objectFormat = sha256) adopted by
 * `agentgit init`, synced through a SHA-256 bare hub: the in-process fast
 * paths (SHA-1 hashing, 20-byte tree ids) stay off and git does the work
 * (src/git/backend.ts), so two instances converge and verify each other.
 * A reftable repository, where git has reftable, likewise.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, expectSameSnapshots, git, Instance, makeBareHub, MARKERS, tempDir } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

/** Whether this git can make a reftable repository (2.45 or newer). */
const reftable = spawnSync('git', ['init', '-q', '--ref-format=reftable', tempDir('agentgit-rt-')]).status === 0;

function sha256Hub(): string {
  const d = join(tempDir('agentgit-hub-'), 'hub.git');
  mkdirSync(d);
  git(d, ['init', '-q', '--bare', '-b', 'main', '--object-format=sha256']);
  return d;
}

/** An operator's existing repo made with `git init ...initArgs`, as instance `name` (not yet set up). */
function existingRepo(name: string, initArgs: string[]): Instance {
  const dir = join(tempDir(`agentgit-${name}-`), 'state');
  mkdirSync(dir, { recursive: true });
  const inst = new Instance(dir, name, tempDir(`agentgit-${name}-home-`));
  git(dir, ['init', '-q', '-b', 'main', ...initArgs], inst.env);
  return inst;
}

/** `agentgit init` of an existing repo onto `hub`; the instance then admits clones. */
async function adopt(inst: Instance, hub: string): Promise<void> {
  const init = await agentgit(['init', '-C', inst.dir, '--remote', hub, '--agent', 'kevin', '--instance', inst.name], { env: inst.env });
  expect(init.code, init.stderr + init.stdout).toBe(0);
  Instance.founders.set(hub, inst);
}

const day = 'memory/2026-11-25.md';
const tasks = 'mission-control/tasks.json';

describe('SHA-256 repositories', () => {
  it('init adopts a SHA-256 repo; two instances sync through a SHA-256 hub, converge and verify', async () => {
    const hub = sha256Hub();
    // the operator's existing repo, SHA-256, with history agentgit adopts
    const a = existingRepo('a', ['--object-format=sha256']);
    a.write('MEMORY.md', '# Memory\n\nfacts\n');
    a.git(['add', 'MEMORY.md']);
    a.git(['-c', 'user.name=op', '-c', 'user.email=op@example.org', 'commit', '-q', '-m', 'before agentgit']);
    a.write(day, '# 2026-11-25\n\n');
    a.write(tasks, JSON.stringify({ tasks: [], lastChecks: {} }, null, 2) + '\n');
    await adopt(a, hub);
    expect(a.git(['rev-parse', '--show-object-format']).trim()).toBe('sha256');
    const head = a.git(['rev-parse', 'HEAD']).trim();
    expect(head).toMatch(/^[0-9a-f]{64}$/);
    expect(git(hub, ['rev-parse', 'main']).trim()).toBe(head);

    const b = await Instance.clone(hub, 'b');
    expect(b.git(['rev-parse', '--show-object-format']).trim()).toBe('sha256');
    for (let round = 0; round < 3; round++) {
      a.append(day, `- 0${round}:00 a round ${round}\n`);
      b.append(day, `- 0${round}:30 b round ${round}\n`);
      b.updateJson<{ tasks: string[] }>(tasks, (t) => ({ ...t, tasks: [...t.tasks, `b${round}`] }));
      a.write(`notes/a${round}.md`, `note ${round}\n`);
      const ra = await a.sync();
      expect(ra.code, ra.stderr).toBe(0);
      const rb = await b.sync();
      expect(rb.code, rb.stderr).toBe(0);
    }
    for (const i of [a, b]) {
      const r = await i.sync();
      expect(r.code, r.stderr).toBe(0);
    }
    expect(expectSameSnapshots([a, b]).diff).toEqual([]);
    const entries = a.read(day).split('\n').filter((l) => l.startsWith('- '));
    expect(entries.sort()).toEqual(['- 00:00 a round 0', '- 00:30 b round 0', '- 01:00 a round 1', '- 01:30 b round 1', '- 02:00 a round 2', '- 02:30 b round 2']);
    expect(a.readJson<{ tasks: string[] }>(tasks).tasks).toEqual(['b0', 'b1', 'b2']);
    for (const [path, content] of a.snapshot()) expect(MARKERS.test(content), path).toBe(false);
    // every commit made by agentgit is a real SHA-256 object git accepts
    expect(a.git(['rev-parse', 'HEAD']).trim()).toBe(b.git(['rev-parse', 'HEAD']).trim());
    expect(a.git(['fsck', '--no-progress', '--no-dangling'])).toBe('');
    expect(git(hub, ['fsck', '--no-progress', '--no-dangling'])).toBe('');
    for (const i of [a, b]) {
      const v = await i.run(['verify']);
      expect(v.code, v.stderr + v.stdout).toBe(0);
    }
    expect(b.git(['verify-commit', 'HEAD']).trim()).toBe('');
    // doctor says why: everything goes through git here
    const d = await a.run(['doctor']);
    expect(d.stdout).toMatch(/^ok {3}git engine: git CLI; object format sha256, refs in files; fast paths off \(object format sha256/m);
  }, 120_000);

  // reftable needs git 2.45 or newer: where git has it, the same adoption and sync through git
  it.skipIf(!reftable)('init adopts a reftable repo; it syncs with a files clone, through git', async () => {
    const hub = makeBareHub();
    const a = existingRepo('r', ['--ref-format=reftable']);
    a.write(day, '# 2026-11-25\n\n');
    await adopt(a, hub);
    const b = await Instance.clone(hub, 'f');
    a.append(day, '- 01:00 r\n');
    b.append(day, '- 01:30 f\n');
    for (const i of [a, b, a]) expect((await i.sync()).code).toBe(0);
    expect(expectSameSnapshots([a, b]).diff).toEqual([]);
    expect(a.read(day)).toContain('- 01:30 f');
    const d = await a.run(['doctor']);
    expect(d.stdout).toMatch(/fast paths off \(ref storage reftable/);
  }, 120_000);
});
