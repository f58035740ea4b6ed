/**
 * Issue #11 (hostile input), part D: the synced policy cannot run code on,
 * or weaken, another machine without that machine's operator accepting it.
 * Real git, a real bare hub, two instances.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

afterAll(cleanupTemp);

const POLICY = '.agentgit/config.json';
const HISTORY = 'memory/HISTORY.md';

function hubShow(hub: string, path: string): string | null {
  try {
    return git(hub, ['show', `main:${path}`]);
  } catch {
    return null;
  }
}

/** A marker outside the state directory: the rebuild command touches it where it runs. */
const marker = (i: Instance): string => join(i.dir, '..', 'rebuild-ran');

describe('policy changes need each machine\'s consent', () => {
  it('a risky policy from A does not run or weaken anything on B until B accepts it', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [HISTORY]: '# History\n\n- one\n- two\n- three\n', 'notes.md': 'n\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    expect(b.read(HISTORY)).toContain('- three');

    // A's operator writes a policy that runs a command and relaxes every guard,
    // and accepts it on A (an edit on A is pending on A too until then)
    const risky = {
      version: 1,
      layers: [{ pattern: '**', kind: 'text' }],
      defaults: false,
      logs: { allowRewrite: ['**'] },
      maxFileBytes: 1e12,
      trust: { openEnrollment: true },
      rebuild: { command: ['sh', '-c', 'touch ../rebuild-ran'], paths: ['**'] },
    };
    a.write(POLICY, JSON.stringify(risky, null, 2) + '\n');
    const onA = await a.run(['status']);
    expect(onA.stdout).toMatch(/policy: \d+ changes from an uncommitted edit on this machine NOT applied/);
    const acceptA = await a.run(['policy', 'accept']);
    expect(acceptA.code, acceptA.stderr).toBe(0);
    expect((await a.sync()).code).toBe(0);
    const policyCommit = a.git(['log', '-1', '--format=%H', '--', POLICY]).trim();

    // a new clone finds it pending, and says so
    const cHome = tempDir('agentgit-c-home-');
    const cDir = join(tempDir('agentgit-c-'), 'state');
    const cl = await agentgit(['clone', hub, cDir, '--instance', 'c'], { env: testEnv(cHome) });
    expect(cl.code, cl.stderr).toBe(0);
    expect(cl.stdout).toMatch(/policy: \d+ changes from commit [0-9a-f]{10} by .* NOT applied until accepted here: rebuild\.command/);
    expect(cl.stdout).toContain('agentgit policy accept -C');

    // B gets it
    const got = await b.sync();
    expect(got.code).toBe(0);
    expect(got.stderr).not.toMatch(/has not accepted/); // the round that merges it still ran the old policy
    expect(b.readJson<{ rebuild: { command?: unknown } }>(POLICY).rebuild.command).toEqual(['sh', '-c', 'touch ../rebuild-ran']);

    // B's agent writes what the risky policy would publish; A brings a change that triggers a rebuild
    b.write('sessions/x.json', '{"session": "private"}\n');
    b.write('index.sqlite', 'derived');
    b.write(HISTORY, '# History\n\n- one\n');
    a.write('notes.md', 'n2\n');
    expect((await a.sync()).code).toBe(0);
    const held = await b.sync();
    expect(held.code).toBe(1); // the truncated log is held
    expect(held.stderr).toMatch(/config\.json asks for \d+ changes this machine has not accepted \(rebuild\.command, /);
    expect(held.stderr).toContain(`held ${HISTORY}`);
    expect(existsSync(marker(b))).toBe(false); // the rebuild command did not run on B
    expect(b.read('notes.md')).toBe('n2\n'); // ... though the round merged A's change
    expect(hubShow(hub, 'sessions/x.json')).toBeNull();
    expect(hubShow(hub, 'index.sqlite')).toBeNull();
    expect(hubShow(hub, HISTORY)).toContain('- three');

    // status says what is pending, who committed it, and how to accept
    const st = await b.run(['status']);
    expect(st.stdout).toContain(`commit ${policyCommit.slice(0, 10)}`);
    expect(st.stdout).toMatch(/rebuild\.command: runs \["sh","-c","touch \.\.\/rebuild-ran"\]/);
    const js = JSON.parse((await b.run(['status', '--json'])).stdout) as { policy: { pending: { commit: string; changes: { key: string }[]; acceptCommand: string; id: string } } };
    const pending = js.policy.pending;
    expect(pending.commit).toBe(policyCommit);
    expect(pending.changes.map((c) => c.key)).toEqual(expect.arrayContaining(['rebuild.command', 'defaults', 'logs.allowRewrite', 'maxFileBytes', 'trust.openEnrollment', 'layers[0]']));
    expect(pending.acceptCommand).toContain(`--id ${pending.id}`);
    const rb = await b.run(['rebuild']);
    expect(rb.code).toBe(1);
    expect(rb.stderr).toMatch(/names a rebuild command this machine has not accepted/);
    expect(existsSync(marker(b))).toBe(false);
    const diff = await b.run(['policy', 'diff']);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain(`commit ${policyCommit}`);

    // a stale id is refused (the file changed since it was reviewed): nothing accepted
    const stale = await b.run(['policy', 'accept', '--id', '0'.repeat(40)]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/changed since you reviewed it/);

    // B's operator accepts: the change applies on B
    const acc = await b.run(['policy', 'accept', '--id', pending.id]);
    expect(acc.code, acc.stderr).toBe(0);
    expect((await b.run(['status'])).stdout).toContain('policy: accepted (nothing pending)');
    expect((await b.sync()).code).toBe(0);
    expect(hubShow(hub, 'sessions/x.json')).toBe('{"session": "private"}\n');
    expect(hubShow(hub, 'index.sqlite')).toBe('derived');
    expect(hubShow(hub, HISTORY)).toBe('# History\n\n- one\n');
    a.write('notes.md', 'n3\n');
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    expect(existsSync(marker(b))).toBe(true); // the accepted rebuild command runs on B now
  });

  it('deleting .agentgit/ is held on A; pushed by plain git, B keeps protecting the secret globs', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'notes.md': 'n\n' } });
    a.updateJson<{ secrets: string[] }>(POLICY, (p) => ({ ...p, secrets: ['private/'] }));
    expect((await a.sync()).code).toBe(0);
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    // a tightening after B joined applies on B at once, no consent needed
    a.updateJson<{ secrets: string[] }>(POLICY, (p) => ({ ...p, secrets: ['private/', 'vault/'] }));
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    expect((await b.run(['status'])).stdout).toContain('policy: accepted (nothing pending)');

    // A's agent deletes .agentgit/: the sync holds the policy file and says so
    rmSync(a.path('.agentgit'), { recursive: true, force: true });
    const r = await a.sync();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`held ${POLICY}`);
    expect(r.stderr).toContain(`git checkout -- ${POLICY}`);
    expect(hubShow(hub, POLICY)).toContain('private/');

    // a person deletes the policy with plain git (no hooks) and pushes
    a.git(['checkout', '--', '.agentgit']);
    a.git(['rm', '-q', POLICY]);
    a.git(['-c', 'core.hooksPath=/dev/null', 'commit', '-q', '--no-verify', '-m', 'remove policy']);
    a.git(['push', '-q', 'origin', 'HEAD:main']);
    expect(hubShow(hub, POLICY)).toBeNull();

    // B merges it, but keeps protecting private/ and says a change is pending
    const s = await b.sync();
    expect(existsSync(b.path(POLICY))).toBe(false);
    b.write('private/token.txt', 'do not publish\n');
    b.write('vault/key.txt', 'do not publish either\n');
    b.write('notes2.md', 'ok\n');
    const s2 = await b.sync();
    expect([s.code, s2.code]).toEqual([0, 1]); // held: private/token.txt matches a secret glob
    expect(s2.stderr).toContain('held private/token.txt');
    expect(s2.stderr).toContain('held vault/key.txt');
    expect(hubShow(hub, 'private/token.txt')).toBeNull();
    expect(hubShow(hub, 'vault/key.txt')).toBeNull();
    expect(hubShow(hub, 'notes2.md')).toBe('ok\n');
    const st = await b.run(['status']);
    expect(st.stdout).toMatch(/policy: 1 change .*secrets: no longer protects "private\/", "vault\/"/);
    const show = JSON.parse((await b.run(['policy', 'show', '--json'])).stdout) as { effective: { secrets: string[] }; file: { secrets: string[] }; pending: { changes: { key: string }[] } };
    expect(show.effective.secrets).toEqual(['private/', 'vault/']);
    expect(show.file.secrets).toEqual([]);
    expect(show.pending.changes.map((c) => c.key)).toEqual(['secrets']);
  });

  it('a control character in a policy string: one clear line, exit 1, nothing lost', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'notes.md': 'n\n' } });
    a.updateJson<object>(POLICY, (p) => ({ ...p, rebuild: { command: ['sh', '-c', 'echo hi\ntouch ../evil'] } }));
    a.write('notes.md', 'kept\n');
    const r = await a.sync();
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\.agentgit\/config\.json: "rebuild\.command\[2\]" holds a control character \(U\+000A\)/);
    expect(a.read('notes.md')).toBe('kept\n');
    const pol = await a.run(['policy', 'show']);
    expect(pol.code).toBe(1);
    expect(pol.stderr).toContain('"rebuild.command[2]"');
    expect(existsSync(join(a.dir, '..', 'evil'))).toBe(false);
  });
});
