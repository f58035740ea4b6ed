/**
 * The fleet view forgets: a removed instance leaves `status`; `instances`
 * lists active, removed and retired ones; `instances retire` deletes the
 * heartbeat; renaming an instance is explicit and retires the old name.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, Instance, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-11-25.md';

interface Member {
  principal: string;
  state: string;
  self: boolean;
}

async function fleetOf(i: Instance): Promise<Record<string, string>> {
  const r = await i.run(['instances', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return Object.fromEntries((JSON.parse(r.stdout) as Member[]).map((m) => [m.principal, m.state]));
}

async function statusInstances(i: Instance): Promise<string[]> {
  const r = await i.run(['status', '--json']);
  return (JSON.parse(r.stdout) as { instances: { instance: string }[] }).instances.map((x) => x.instance).sort();
}

describe('operator: the fleet view', () => {
  it('trust remove takes an instance out of status; instances lists it as removed, then retired once retire deletes its heartbeat', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '- 09:00 one\n' } });
    const b = await Instance.clone(hub, 'b');
    const c = await Instance.clone(hub, 'c');
    for (const i of [b, c, a]) expect((await i.sync()).code).toBe(0);
    expect(await statusInstances(a)).toEqual(['a', 'b', 'c']);
    expect(await fleetOf(a)).toEqual({ 'kevin/a': 'active', 'kevin/b': 'active', 'kevin/c': 'active' });

    const rm = await a.run(['trust', 'remove', 'kevin/c']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(await statusInstances(a)).toEqual(['a', 'b']);
    expect(await fleetOf(a)).toEqual({ 'kevin/a': 'active', 'kevin/b': 'active', 'kevin/c': 'removed' });
    expect((await b.sync()).code).toBe(0);
    expect(await statusInstances(b)).toEqual(['a', 'b']);

    const rt = await a.run(['instances', 'retire', 'c']);
    expect(rt.code, rt.stderr).toBe(0);
    expect(rt.stdout).toMatch(/retired kevin\/c/);
    expect(git(hub, ['for-each-ref', 'refs/agentgit/instances/c']).trim()).toBe('');
    expect(await fleetOf(a)).toEqual({ 'kevin/a': 'active', 'kevin/b': 'active', 'kevin/c': 'retired' });
    expect((await b.sync()).code).toBe(0); // the retirement is signed in allowed_signers: every instance sees it
    expect((await fleetOf(b))['kevin/c']).toBe('retired');
    const self = await a.run(['instances', 'retire', 'a']);
    expect(self.code).toBe(2);
    expect(self.stderr).toMatch(/refusing to retire this instance itself/);
  });

  it('status --check: a long-silent instance fails the fleet while admitted, and stops counting once removed', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '- 09:00 one\n' } });
    const c = await Instance.clone(hub, 'c');
    for (const i of [c, a]) expect((await i.sync()).code).toBe(0);
    // c's last heartbeat, as if it stopped long ago: signed by c, last success at the epoch
    const hb = { v: 1, agent: 'kevin', instance: 'c', at: 1000, lastSuccessAt: 1000, head: null, checksum: null, dirty: false, conflictsTotal: 0, held: 0, lastDurationMs: null, recoveryMs: null, rebuildFailed: null };
    const oid = c.git(['commit-tree', '-S', '4b825dc642cb6eb9a060e54bf8d69288fbee4904', '-m', `agentgit heartbeat kevin/c\n\n${JSON.stringify(hb)}`]).trim();
    c.git(['push', '-q', 'origin', `+${oid}:refs/agentgit/instances/c`]);
    expect((await a.sync()).code).toBe(0);
    const before = await a.run(['status', '--check']);
    expect(before.code, before.stdout).toBe(2);
    expect(before.stdout + before.stderr).toMatch(/\bc\b/);
    expect((await a.run(['trust', 'remove', 'kevin/c'])).code).toBe(0);
    const after = await a.run(['status', '--check']);
    expect(after.code, after.stdout + after.stderr).toBe(0);
  });

  it('retire of an instance still admitted removes its key too (it is gone for good)', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '- 09:00 one\n' } });
    const b = await Instance.clone(hub, 'b');
    for (const i of [b, a]) expect((await i.sync()).code).toBe(0);
    const rt = await a.run(['instances', 'retire', 'kevin/b']);
    expect(rt.code, rt.stderr).toBe(0);
    expect(git(hub, ['show', 'main:.agentgit/allowed_signers'])).not.toMatch(/^kevin\/b /m);
    expect(git(hub, ['for-each-ref', 'refs/agentgit/instances/b']).trim()).toBe('');
    expect(await statusInstances(a)).toEqual(['a']);
    expect((await fleetOf(a))['kevin/b']).toBe('retired');
  });

  it('init --instance NEW on a set-up repo refuses without --rename; with it the old name is retired and the key carries over', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '- 09:00 one\n' } });
    const b = await Instance.clone(hub, 'b');
    for (const i of [b, a]) expect((await i.sync()).code).toBe(0);
    const no = await b.run(['init', '--instance', 'b2']);
    expect(no.code).toBe(2);
    expect(no.stderr).toMatch(/already set up as instance "b".*--rename/);
    expect(b.git(['config', 'agentgit.instance']).trim()).toBe('b');

    const yes = await b.run(['init', '--instance', 'b2', '--rename']);
    expect(yes.code, yes.stderr + yes.stdout).toBe(0);
    expect(yes.stdout).toMatch(/renamed this instance from b to b2/);
    expect(git(hub, ['show', 'main:.agentgit/allowed_signers'])).toMatch(/^kevin\/b2 namespaces/m);
    expect(git(hub, ['show', 'main:.agentgit/allowed_signers'])).not.toMatch(/^kevin\/b namespaces/m);
    expect(git(hub, ['for-each-ref', 'refs/agentgit/instances/b']).trim()).toBe('');
    b.append(day, '- 10:00 from b2\n');
    expect((await b.sync()).code).toBe(0);
    const s = await a.sync();
    expect(s.code, s.stderr).toBe(0);
    expect(a.read(day)).toContain('- 10:00 from b2');
    expect(await statusInstances(a)).toEqual(['a', 'b2']);
    expect(await fleetOf(a)).toEqual({ 'kevin/a': 'active', 'kevin/b': 'retired', 'kevin/b2': 'active' });
    const v = await a.run(['verify']);
    expect(v.code, v.stdout).toBe(0);
  });
});
