/**
 * README "Migrating from git-sync, obsidian-git or a cron script", played as
 * written: two servers sharing a workspace through plain git (each with local
 * edits, one with a commit never pushed) adopt agentgit and converge with
 * every legacy commit, unpushed commit and uncommitted edit kept.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, expectSameSnapshots, git, Instance, makeBareHub, MARKERS, tempDir } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-11-25.md';

/** A server's workspace as git-sync leaves it: a plain clone of the hub. */
function plainClone(hub: string, name: string): Instance {
  const home = tempDir(`agentgit-${name}-home-`);
  const dir = join(tempDir(`agentgit-${name}-`), 'state');
  mkdirSync(dir, { recursive: true });
  const inst = new Instance(dir, name, home);
  git(dir, ['clone', '-q', hub, '.'], inst.env);
  git(dir, ['config', 'user.name', `git-sync on ${name}`], inst.env);
  git(dir, ['config', 'user.email', `${name}@example.invalid`], inst.env);
  return inst;
}

describe('operator: migrating a git-synced workspace', () => {
  it('README steps: init on both servers, admit, sync: every legacy commit, unpushed commit and edit kept, byte-identical', async () => {
    const hub = makeBareHub();
    const a = plainClone(hub, 'server-a');
    a.write(day, '# 2026-11-25\n\n- 09:00 legacy entry\n');
    a.write('SOUL.md', '# Soul\n\nbe kind\n');
    a.write('mission-control/tasks.json', JSON.stringify({ tasks: [{ id: 't1', title: 'ship' }] }, null, 2) + '\n');
    a.git(['add', '-A']);
    a.git(['commit', '-qm', 'auto: legacy 1']);
    a.git(['push', '-q', 'origin', 'main']);
    const b = plainClone(hub, 'server-b');
    // server-a: one more pushed commit, then an uncommitted edit
    a.append(day, '- 10:00 from a, pushed\n');
    a.git(['commit', '-qam', 'auto: legacy 2']);
    a.git(['push', '-q', 'origin', 'main']);
    a.append(day, '- 11:00 from a, never committed\n');
    // server-b: a commit never pushed, and an uncommitted new file
    b.append(day, '- 10:30 from b, never pushed\n');
    b.git(['commit', '-qam', 'auto: b unpushed']);
    b.write('notes/b.md', 'uncommitted on b\n');
    const legacy = [...a.git(['rev-list', 'HEAD']).trim().split('\n'), b.git(['rev-parse', 'HEAD']).trim()];

    // step 2: the first server founds the state
    const ia = await a.run(['init', '-C', a.dir, '--agent', 'kevin', '--instance', 'server-a']);
    expect(ia.code, ia.stderr).toBe(0);
    // git-sync on server-b fetched once more before it was stopped: its remote-tracking ref already holds agentgit state
    b.git(['fetch', '-q', 'origin']);
    // step 3: the second sees agentgit state on the hub and joins: it prints the admission line
    const ib = await b.run(['init', '-C', b.dir, '--agent', 'kevin', '--instance', 'server-b']);
    expect(ib.code, ib.stderr + ib.stdout).toBe(0);
    expect(ib.stdout).toMatch(/not admitted yet/);
    const line = /agentgit trust add '([^']+)'/.exec(ib.stdout)?.[1];
    expect(line).toMatch(/^kevin\/server-b namespaces="git" ssh-ed25519 /);
    // it did not found a second trust root: the hub's allowed_signers is the first server's only
    expect(b.read('.agentgit/allowed_signers')).not.toMatch(/server-b/);
    // step 4: admit it on the first server
    const t = await a.run(['trust', 'add', '-C', a.dir, line!]);
    expect(t.code, t.stderr).toBe(0);
    // step 5: the second syncs; then both once more
    for (const i of [b, a, b, a]) {
      const r = await i.sync();
      expect(r.code, `${i.name}: ${r.stderr}`).toBe(0);
    }
    // every legacy commit is in both histories and on the hub
    for (const c of legacy) {
      for (const i of [a, b]) expect(i.git(['merge-base', '--is-ancestor', c, 'HEAD'])).toBe('');
      expect(git(hub, ['merge-base', '--is-ancestor', c, 'main'])).toBe('');
    }
    // every entry and edit kept once, no markers, byte-identical
    const text = a.read(day);
    for (const e of ['09:00 legacy entry', '10:00 from a, pushed', '11:00 from a, never committed', '10:30 from b, never pushed']) {
      expect(text.split('\n').filter((l) => l.includes(e))).toHaveLength(1);
    }
    expect(a.read('notes/b.md')).toBe('uncommitted on b\n');
    expect(a.read('SOUL.md')).toBe('# Soul\n\nbe kind\n');
    expect(text).not.toMatch(MARKERS);
    const same = expectSameSnapshots([a, b]);
    expect(same.diff).toEqual([]);
    // the whole history verifies on both
    for (const i of [a, b]) {
      const v = await agentgit(['verify', '-C', i.dir], { env: i.env });
      expect(v.code, v.stdout + v.stderr).toBe(0);
    }
  });
});
