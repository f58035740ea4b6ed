/**
 * Issue #13, long work: an init of many files stores its blobs in a pack
 * (git/objects.ts batchObjects, git/pack.ts) and commits exactly the bytes the guard
 * checked; clone shows "checking commits" and "writing files" progress on a
 * terminal, never with --json or without one, and writes the same work tree.
 * Real git, real bare hub, a real pseudo-terminal (`script`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentgit, BIN, cleanupTemp, git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const N = 600;

/** A workspace of N files: logs, JSON state, docs, and one secret. */
function files(): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < N; i++) {
    if (i % 3 === 0) out[`memory/t${i % 7}/2026-01-${String((i % 28) + 1).padStart(2, '0')}-${i}.md`] = `## 10:00\nentry ${i}\n`;
    else if (i % 3 === 1) out[`state/s${i % 5}/item-${i}.json`] = JSON.stringify({ id: i, status: 'open', n: i }, null, 2) + '\n';
    else out[`docs/d${i % 11}/doc-${i}.md`] = `# doc ${i}\n\ntext ${i}\n`;
  }
  out['state/dup-a.json'] = '{"same": true}\n'; // two files, one blob
  out['state/dup-b.json'] = '{"same": true}\n';
  return out;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const hasScript = spawnSync('script', ['--version']).status === 0;

describe('init and clone of many files', () => {
  it('init of many files: blobs in a pack, every committed byte as on disk, fsck clean, secrets held back, clocks beside the data', async () => {
    const hub = makeBareHub();
    const fs = files();
    const a = await Instance.init(hub, 'a', { files: { ...fs, '.env': 'TOKEN=x\n' } });
    const env = a.env;
    const count = git(a.dir, ['count-objects', '-v'], env);
    expect(Number(/in-pack: (\d+)/.exec(count)?.[1])).toBeGreaterThanOrEqual(N);
    git(a.dir, ['fsck', '--strict', '--no-dangling'], env);
    const tracked = git(a.dir, ['ls-tree', '-r', '--name-only', 'HEAD'], env).split('\n').filter(Boolean);
    for (const p of Object.keys(fs)) {
      expect(tracked, p).toContain(p);
      expect(git(a.dir, ['cat-file', 'blob', `HEAD:${p}`], env), p).toBe(readFileSync(join(a.dir, p), 'utf8'));
    }
    expect(tracked).not.toContain('.env');
    // JSON and docs have their clock files, logs none (as for a commit of few files)
    expect(tracked).toContain('.agentgit/clocks/state/s1/item-1.json.clock');
    expect(tracked).toContain('.agentgit/clocks/docs/d2/doc-2.md.clock');
    expect(tracked).not.toContain('.agentgit/clocks/memory/t0/2026-01-01-0.md.clock');
    expect(git(a.dir, ['status', '--porcelain'], env)).toBe('');
    // a second instance gets every file from the hub
    const b = await Instance.clone(hub, 'b');
    for (const p of Object.keys(fs)) expect(readFileSync(join(b.dir, p), 'utf8'), p).toBe(fs[p]);
  });

  it.skipIf(!hasScript)('clone shows progress on a terminal (checking commits, writing files), never with --json; the work tree is the same', async () => {
    const hub = makeBareHub();
    const fs = files();
    const a = await Instance.init(hub, 'a', { files: fs });
    a.append('memory/t0/2026-01-01-0.md', '## 11:00\nmore\n');
    expect((await a.sync()).code).toBe(0);
    const onTty = (args: string[], env: NodeJS.ProcessEnv): { out: string; code: number | null } => {
      const r = spawnSync('script', ['-qec', [process.execPath, BIN, ...args].map(quote).join(' '), '/dev/null'], { env, encoding: 'utf8' });
      return { out: r.stdout, code: r.status };
    };
    const dir = join(tempDir('agentgit-clone-tty-'), 'state');
    const tty = onTty(['clone', hub, dir, '--instance', 'tty'], testEnv(tempDir()));
    expect(tty.code, tty.out).toBe(0);
    expect(tty.out).toMatch(/agentgit: checking commits: 100% \((\d+)\/\1 commits\)/);
    expect(tty.out).toMatch(/\ragentgit: writing files: \d+% \(\d+\/\d+ files\)/);
    expect(tty.out).toMatch(/agentgit: writing files: 100% \((\d+)\/\1 files\)/);
    for (const p of Object.keys(fs)) expect(readFileSync(join(dir, p), 'utf8'), p).toBe(readFileSync(join(a.dir, p), 'utf8'));
    expect(git(dir, ['status', '--porcelain'])).toBe('');
    const jdir = join(tempDir('agentgit-clone-json-'), 'state');
    const json = onTty(['clone', hub, jdir, '--instance', 'json', '--json'], testEnv(tempDir()));
    expect(json.out).not.toMatch(/checking commits|writing files/);
    const pdir = join(tempDir('agentgit-clone-pipe-'), 'state');
    const piped = await agentgit(['clone', hub, pdir, '--instance', 'pipe'], { env: testEnv(tempDir()) });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr + piped.stdout).not.toMatch(/checking commits|writing files/);
    expect(readFileSync(join(pdir, 'memory/t0/2026-01-01-0.md'), 'utf8')).toBe(readFileSync(join(a.dir, 'memory/t0/2026-01-01-0.md'), 'utf8'));
  });
});
