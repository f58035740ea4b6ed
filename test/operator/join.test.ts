/**
 * Joining the fleet: a clone of an empty hub founds the state; `init` of a
 * fresh template against a hub that holds state keeps the fleet's documents.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, expectSameSnapshots, git, Instance, makeBareHub, tempDir } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-11-25.md';

function fresh(name: string): Instance {
  const dir = join(tempDir(`agentgit-${name}-`), 'state');
  mkdirSync(dir, { recursive: true });
  return new Instance(dir, name, tempDir(`agentgit-${name}-home-`));
}

describe('operator: joining', () => {
  it('clone of an empty hub founds the state: exit 0, pushed, and the next clone is admitted by it', async () => {
    const hub = makeBareHub();
    const a = fresh('a');
    const dir = join(tempDir('agentgit-a2-'), 'state');
    const c = await agentgit(['clone', hub, dir, '--agent', 'kevin', '--instance', 'a'], { env: a.env });
    expect(c.code, c.stderr + c.stdout).toBe(0);
    expect(c.stdout).toMatch(/the hub was empty, so this instance founds the state/);
    expect(c.stdout).not.toMatch(/trust add/);
    expect(git(hub, ['show', 'main:.agentgit/allowed_signers'])).toMatch(/^kevin\/a namespaces="git" ssh-ed25519 /);
    const founder = new Instance(dir, 'a', join(a.env.HOME!));
    founder.write(day, '- 09:00 first\n');
    const s = await founder.sync();
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).not.toMatch(/not admitted/);
    // a second clone is admitted by the founder and both converge
    const b = await Instance.clone(hub, 'b', { agent: 'kevin', admitBy: founder });
    b.append(day, '- 10:00 from b\n');
    for (const i of [b, founder, b]) expect((await i.sync()).code).toBe(0);
    expect(founder.read(day)).toBe('- 09:00 first\n- 10:00 from b\n');
    expect(expectSameSnapshots([founder, b]).diff).toEqual([]);
  });

  it('init of a fresh template on a hub with state: the hub wins for differing files, the newcomer\'s versions go to the conflict record, and init says so', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'SOUL.md': '# Soul\n\nthe fleet\'s own soul\n', [day]: '- 09:00 fleet entry\n' } });
    const b = fresh('b');
    b.write('SOUL.md', '# Soul\n\ntemplate soul\n');
    b.write(day, '- 09:30 newcomer entry\n');
    b.write('notes/new.md', 'only on the newcomer\n');
    const r = await b.run(['init', '-C', b.dir, '--remote', hub, '--agent', 'kevin', '--instance', 'b']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/joined the hub's state/);
    expect(r.stdout).toMatch(/SOUL\.md.*\.agentgit\/conflicts\.jsonl/);
    const line = /agentgit trust add '([^']+)'/.exec(r.stdout)?.[1];
    expect(line).toMatch(/^kevin\/b namespaces="git" ssh-ed25519 AAAA/);
    expect(b.read('SOUL.md')).toBe('# Soul\n\nthe fleet\'s own soul\n');
    const rec = b.read('.agentgit/conflicts.jsonl').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { path: string; rule: string; loser: { value: string } });
    expect(rec.find((x) => x.path === 'SOUL.md')).toMatchObject({ rule: 'join', loser: { value: '# Soul\n\ntemplate soul\n' } });
    const cf = await b.run(['conflicts']);
    expect(cf.stdout).toMatch(/SOUL\.md[\s\S]*kept[\s\S]*the fleet's own soul[\s\S]*lost[\s\S]*template soul/);
    await a.admit(line!);
    for (const i of [b, a, b, a]) {
      const s = await i.sync();
      expect(s.code, `${i.name}: ${s.stderr}`).toBe(0);
    }
    // the fleet's document is intact everywhere; the newcomer's log entry and new file are kept
    expect(a.read('SOUL.md')).toBe('# Soul\n\nthe fleet\'s own soul\n');
    expect(a.read(day)).toContain('- 09:00 fleet entry\n');
    expect(a.read(day)).toContain('- 09:30 newcomer entry\n');
    expect(a.read('notes/new.md')).toBe('only on the newcomer\n');
    expect(a.read('.agentgit/conflicts.jsonl')).toContain('template soul');
    expect(expectSameSnapshots([a, b]).diff).toEqual([]);
  });
});
