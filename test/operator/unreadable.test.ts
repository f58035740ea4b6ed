/**
 * Issue #13: an unreadable file (chmod 000) was skipped without a word, or
 * taken for deleted, and every round made an empty commit. Now it is held
 * (named, exit 1), never committed as deleted, and a round with nothing to
 * commit makes no commit. Real git; as root (who reads any file) the
 * instance runs as user nobody so that chmod 000 bites.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cleanupTemp, makeBareHub, tempDir, testEnv, type Run } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const ROOT_USER = process.getuid?.() === 0;
const NOBODY = 65534;

/** Run as a user chmod 000 stops (nobody, when the tests run as root). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Run> {
  const [c, a] = ROOT_USER ? ['setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', cmd, ...args]] : [cmd, args];
  return new Promise((resolve) => {
    const child = spawn(c as string, a as string[], { env, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function ownedDir(prefix: string): string {
  const d = tempDir(prefix);
  if (ROOT_USER) spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, d]);
  return d;
}

describe('an unreadable file', () => {
  it.skipIf(ROOT_USER && spawnSync('setpriv', ['--version']).status !== 0)('is held and named (exit 1), never committed as deleted; no empty commit, ever', async () => {
    const hub = makeBareHub();
    if (ROOT_USER) spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dirname(hub)]);
    const home = ownedDir('agentgit-unread-home-');
    const dir = join(ownedDir('agentgit-unread-'), 'state');
    const env = testEnv(home);
    const ag = (args: string[]) => run(process.execPath, [BIN, ...args], env, home);
    const git = (args: string[]) => run('git', ['-C', dir, ...args], env, home);
    const write = (p: string, text: string): void => {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), text);
      if (ROOT_USER) spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
    };
    mkdirSync(dir);
    write('notes.md', '# notes\n');
    write('keep.md', 'keep\n');
    const init = await ag(['init', '-C', dir, '--remote', hub, '--agent', 'kevin', '--instance', 'u']);
    expect(init.code, init.stderr).toBe(0);
    const count = async () => Number((await git(['rev-list', '--count', 'HEAD'])).stdout.trim());
    const before = await count();

    // a tracked file changed then made unreadable, and a new unreadable one
    write('notes.md', '# notes\n- secret plan\n');
    write('new.md', 'new\n');
    chmodSync(join(dir, 'notes.md'), 0);
    chmodSync(join(dir, 'new.md'), 0);
    for (let round = 0; round < 3; round++) {
      const r = await ag(['sync', '-C', dir]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/held notes\.md: cannot read notes\.md \(EACCES\)/);
      expect(r.stderr).toMatch(/held new\.md: cannot read new\.md/);
      expect(r.stderr).toMatch(/chmod u\+r/);
    }
    // nothing was committed: no deletion, no empty commit
    expect(await count()).toBe(before);
    expect((await git(['ls-tree', '--name-only', 'HEAD'])).stdout).toMatch(/^notes\.md$/m);
    expect((await run('git', ['-C', dirname(hub), '--git-dir', hub, 'ls-tree', '--name-only', 'main'], env, home)).stdout).toMatch(/^notes\.md$/m);
    const st = await ag(['status', '-C', dir, '--json']);
    expect((JSON.parse(st.stdout) as { held: { path: string; reason: string }[] }).held.map((h) => [h.path, h.reason]).sort()).toEqual([
      ['new.md', 'unreadable'],
      ['notes.md', 'unreadable'],
    ]);

    // readable again: both sync, and quiet rounds after that commit nothing
    chmodSync(join(dir, 'notes.md'), 0o644);
    chmodSync(join(dir, 'new.md'), 0o644);
    const ok = await ag(['sync', '-C', dir]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/committed 2/);
    const after = await count();
    for (let round = 0; round < 2; round++) expect((await ag(['sync', '-C', dir])).code).toBe(0);
    expect(await count()).toBe(after);
  });
});
