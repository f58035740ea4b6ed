/**
 * A lost signing key: named, never replaced silently, reported by doctor;
 * restored with `identity import`, or replaced on purpose with `init --new-key`
 * (after which verify does not call the admission a log rewrite).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, Instance, makeBareHub, tempDir } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-11-25.md';

function keysDir(i: Instance): string {
  return join(i.env.AGENTGIT_HOME!, 'keys');
}

describe('operator: a lost signing key', () => {
  it('sync, init and doctor name the missing key file and point to identity import; no key is made; import restores it', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '- 09:00 one\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    const backup = join(tempDir(), 'b.key');
    expect((await b.run(['identity', 'export', backup])).code).toBe(0);
    const keyFile = b.git(['config', 'user.signingkey']).trim();
    rmSync(keysDir(b), { recursive: true, force: true }); // a machine restored without its agentgit home

    b.append(day, '- 10:00 from b\n');
    const s = await b.sync();
    expect(s.code).toBe(1);
    expect(s.stderr).toContain(`${keyFile} does not exist`);
    expect(s.stderr).toContain('agentgit identity import FILE');
    expect(s.stderr).not.toMatch(/not admitted/);
    const i = await b.run(['init']);
    expect(i.code).toBe(1);
    expect(i.stderr).toContain(`${keyFile} does not exist`);
    expect(existsSync(keysDir(b)) ? readdirSync(keysDir(b)) : []).toEqual([]); // no key made behind the operator's back
    const d = await b.run(['doctor']);
    expect(d.code).toBe(1);
    expect(d.stdout).toMatch(new RegExp(`FAIL signing key present: ${keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not exist`));
    expect(d.stdout).toContain('agentgit identity import FILE');
    const sh = await b.run(['identity', 'show']);
    expect(sh.code).toBe(1);
    expect(sh.stderr).toContain(`${keyFile} does not exist`);

    const imp = await b.run(['identity', 'import', backup]);
    expect(imp.code, imp.stderr).toBe(0);
    const s2 = await b.sync();
    expect(s2.code, s2.stderr).toBe(0);
    expect(git(hub, ['show', `main:${day}`])).toContain('- 10:00 from b');
    expect((await a.sync()).code).toBe(0);
    const d2 = await b.run(['doctor']);
    expect(d2.stdout).toMatch(/ok {3}signing key admitted/);
  });

  it('init --new-key makes a new key on purpose; doctor says it is not admitted; after admission verify reports no log rewrite', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '- 09:00 one\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    rmSync(keysDir(b), { recursive: true, force: true });
    const i = await b.run(['init', '--new-key']);
    expect(i.code, i.stderr + i.stdout).toBe(0);
    const line = /agentgit trust add '([^']+)'/.exec(i.stdout)?.[1];
    expect(line).toMatch(/^kevin\/b namespaces="git" ssh-ed25519 /);
    const d = await b.run(['doctor']);
    expect(d.code).toBe(1);
    expect(d.stdout).toMatch(/FAIL signing key admitted: .* is not in \.agentgit\/allowed_signers/);
    await a.admit(line!);
    b.append(day, '- 11:00 from b with its new key\n');
    for (const x of [b, a]) {
      const r = await x.sync();
      expect(r.code, `${x.name}: ${r.stderr}`).toBe(0);
    }
    expect(a.read(day)).toContain('- 11:00 from b with its new key');
    const v = await a.run(['verify']);
    expect(v.stdout).not.toMatch(/rewrite/);
    expect(v.code, v.stdout).toBe(0);
  });
});
