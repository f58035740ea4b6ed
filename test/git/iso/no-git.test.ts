/**
 * agentgit on a machine with no git binary (and no ssh-keygen): the built
 * CLI runs with a PATH that holds only `node`, so the isomorphic-git engine
 * is chosen by itself (no AGENTGIT_ENGINE). Over the https hub (nginx +
 * git-http-backend, credentials from git's credential store named in the
 * environment, the hub's CA from GIT_SSL_CAINFO) and over a file hub: init,
 * clone, trust, sync both ways, status; the two instances end
 * byte-identical with every line once, and the hub is what git's fsck
 * calls clean, every commit on it signed by an admitted key (checked by
 * real git, outside the CLI's PATH).
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, expectSameSnapshots, git, Instance, tempDir } from '../../helpers/agents.js';
import { hubFor } from './hub.js';
import { hubsAvailable, startHttpsHub, type HttpsHub } from '../../helpers/hubs.js';

const avail = hubsAvailable();
let https: HttpsHub | null = null;
/** A PATH with node and nothing else. */
let bare: string;

beforeAll(async () => {
  bare = join(tempDir(), 'bin');
  mkdirSync(bare);
  symlinkSync(process.execPath, join(bare, 'node'));
  if (avail.https) https = await startHttpsHub();
}, 60_000);
afterAll(async () => {
  await https?.stop();
  cleanupTemp();
});

describe.each(['https', 'file'] as const)('no git binary, %s hub', (kind) => {
  it.skipIf(kind === 'https' && !avail.https)('init, clone, trust, sync, status work, and the fleet converges', async () => {
    const { url, hubPath, hubEnv } = await hubFor(kind, https, 'nogit.git');
    const extraEnv = { ...hubEnv, PATH: bare };
    const a = await Instance.init(url, 'a', { extraEnv, files: { 'notes.md': '# notes\n' } });
    const b = await Instance.clone(url, 'b', { extraEnv }); // admitted by a: `agentgit trust add`
    for (let round = 0; round < 2; round++) {
      a.append('notes.md', `- a ${round}\n`);
      b.append('notes.md', `- b ${round}\n`);
      for (const inst of [b, a]) {
        const r = await inst.sync();
        expect(r.code, r.stderr).toBe(0);
      }
    }
    expect((await b.sync()).code).toBe(0);
    expect(expectSameSnapshots([a, b]).diff).toEqual([]);
    expect(a.read('notes.md').split('\n').filter((l) => l.startsWith('- ')).sort()).toEqual(['- a 0', '- a 1', '- b 0', '- b 1']);
    const status = await agentgit(['status', '-C', b.dir], { env: b.env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/two|b \(this\)/);
    const doctor = await agentgit(['doctor', '-C', a.dir], { env: a.env });
    expect(doctor.stdout).toMatch(/git engine: isomorphic-git/);
    // checked by real git, outside the CLI's PATH
    expect(git(hubPath, ['fsck', '--no-progress', '--no-dangling'])).toBe('');
    const signers = join(a.dir, '.agentgit', 'allowed_signers');
    const sigs = git(hubPath, ['-c', `gpg.ssh.allowedSignersFile=${signers}`, 'log', '--format=%G?', 'main']).trim().split('\n');
    expect(sigs.filter((g) => g !== 'G')).toEqual([]);
  });
});
