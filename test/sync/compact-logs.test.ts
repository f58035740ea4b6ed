/**
 * Issue #15 part 2: `agentgit compact logs` (docs/compaction.md). Old daily
 * logs (by the date in the file name, counted from an injected --today)
 * move into monthly archives in one signed commit; verify accepts it only
 * as conservation; a lagging instance's append to a compacted daily log
 * arrives, in the archive, exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, rmSync } from 'node:fs';
import { archiveBlock, archivePathFor, conservationProblems, olderThan } from '../../src/sync/compact.js';
import { spawn } from 'node:child_process';
import { BIN, cleanupTemp, expectSameSnapshots, git, Instance, makeBareHub, type Run } from '../helpers/agents.js';
import { killedAt } from './compact-helpers.js';

afterAll(() => cleanupTemp());

async function ok(r: Promise<Run>): Promise<Run> {
  const x = await r;
  expect(x.code, `${x.stderr}${x.stdout}`).toBe(0);
  return x;
}

describe('log compaction decisions (pure)', () => {
  it('names the archive by the file name, counts days by the name, not the clock', () => {
    expect(archivePathFor('memory/2026-08-03.md')).toBe('memory/archive/2026-08.md');
    expect(archivePathFor('logs/x/2026-08-03.jsonl')).toBe('logs/x/archive/2026-08.jsonl');
    expect(archivePathFor('memory/archive/2026-08-03.md')).toBeNull();
    expect(archivePathFor('memory/notes.md')).toBeNull();
    expect(olderThan('2026-03-02', '2026-06-01', 90)).toBe(true);
    expect(olderThan('2026-03-03', '2026-06-01', 90)).toBe(false);
  });

  it('accepts a move only when every byte that leaves a daily log is in its archive, in the same commit', () => {
    const day = '# log\n- 09:00 one\n- 09:05 two\n';
    const archive = archiveBlock('memory/2026-01-05.md', day);
    expect(conservationProblems([{ path: 'memory/2026-01-05.md', before: day, after: null }, { path: 'memory/archive/2026-01.md', before: null, after: archive }])).toEqual([]);
    expect(conservationProblems([{ path: 'memory/2026-01-05.md', before: day, after: null }])).toHaveLength(1);
    const short = archive.replace('- 09:05 two\n', '');
    expect(conservationProblems([{ path: 'memory/2026-01-05.md', before: day, after: null }, { path: 'memory/archive/2026-01.md', before: null, after: short }])).toHaveLength(1);
    // the archive may only grow
    expect(conservationProblems([{ path: 'memory/2026-01-05.md', before: day, after: null }, { path: 'memory/archive/2026-01.md', before: 'old entry\n', after: archive }])).toHaveLength(1);
    // an append is no loss
    expect(conservationProblems([{ path: 'memory/2026-01-05.md', before: day, after: day + '- 10:00 three\n' }])).toEqual([]);
  });
});

describe('compact logs: three instances, one lagging', () => {
  const old = 'memory/2026-01-05.md';
  const old2 = 'memory/2026-01-06.md';
  const recent = 'memory/2026-05-30.md';
  const archive = 'memory/archive/2026-01.md';
  let hub: string;
  let a: Instance;
  let b: Instance;
  let c: Instance;

  beforeAll(async () => {
    hub = makeBareHub();
    a = await Instance.init(hub, 'a', {
      files: { [old]: '# 2026-01-05\n\n- 09:00 a first\n- 09:05 a second\n', [old2]: '- 08:00 a on the sixth\n', [recent]: '- 07:00 a recent\n' },
    });
    b = await Instance.clone(hub, 'b');
    c = await Instance.clone(hub, 'c');
    for (const i of [a, b, c]) await ok(i.sync());
  }, 120_000);

  /** a writes these files and syncs them. */
  async function writeAndSync(files: Record<string, string>): Promise<void> {
    for (const [p, t] of Object.entries(files)) a.write(p, t);
    await ok(a.sync());
  }

  it('moves old daily logs into the archive in one commit; a lagging append arrives exactly once; verify accepts it', async () => {
    b.append(old, '- 10:00 b late\n');
    await ok(b.sync(['--no-push'])); // b's append is committed, the compaction not yet seen
    c.append(old2, '- 11:00 c offline\n'); // c: not even committed
    const before = git(hub, ['rev-list', '--count', 'main']).trim();
    const r = await ok(a.run(['compact', 'logs', '--older-than', '90d', '--today', '2026-06-01']));
    expect(r.stdout).toMatch(/moved 2 daily logs into memory\/archive\/2026-01\.md/);
    expect(Number(git(hub, ['rev-list', '--count', 'main']).trim())).toBe(Number(before) + 1); // one commit
    expect(existsSync(a.path(old))).toBe(false);
    expect(a.read(recent)).toBe('- 07:00 a recent\n');
    expect(a.read(archive)).toContain('# 2026-01-05\n\n- 09:00 a first\n- 09:05 a second\n');
    expect(a.read(archive)).toContain('- 08:00 a on the sixth\n');
    await ok(b.sync());
    await ok(c.sync());
    await ok(a.sync());
    await ok(b.sync());
    expect(expectSameSnapshots([a, b, c]).diff).toEqual([]);
    const all = [...a.snapshot().entries()].filter(([p]) => p.startsWith('memory/')).map(([, t]) => t).join('');
    for (const e of ['- 09:00 a first', '- 09:05 a second', '- 08:00 a on the sixth', '- 10:00 b late', '- 11:00 c offline', '- 07:00 a recent']) {
      expect(all.split('\n').filter((l) => l === e), e).toHaveLength(1);
    }
    expect(existsSync(a.path(old)) || existsSync(a.path(old2))).toBe(false); // the late entries went to the archive
    await ok(a.run(['verify']));
  }, 120_000);

  it('a compaction killed mid-way (kill -9 in its work-tree update) is finished by the next sync', async () => {
    await writeAndSync({ 'memory/2026-02-01.md': '- 09:00 a february\n', 'memory/2026-02-02.md': '- 09:00 a february two\n' });
    await ok(b.sync());
    const k = await new Promise<{ signal: NodeJS.Signals | null; stderr: string }>((res) => {
      const child = spawn(process.execPath, [BIN, 'compact', 'logs', '-C', a.dir, '--today', '2026-06-01'], { env: { ...a.env, AGENTGIT_FAILPOINT: 'checkout' } });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (_code, signal) => res({ signal, stderr }));
    });
    expect(k.signal, k.stderr).toBe('SIGKILL');
    await ok(a.sync());
    await ok(b.sync());
    await ok(c.sync());
    expect(expectSameSnapshots([a, b, c]).diff).toEqual([]);
    expect(existsSync(a.path('memory/2026-02-01.md'))).toBe(false);
    const feb = a.read('memory/archive/2026-02.md');
    expect(feb.split('\n').filter((l) => l === '- 09:00 a february')).toHaveLength(1);
    expect(feb.split('\n').filter((l) => l === '- 09:00 a february two')).toHaveLength(1);
    expect(a.git(['status', '--porcelain'])).toBe('');
    await ok(a.run(['verify']));
  }, 120_000);

  it('an agent that appends to a daily log during the work-tree update of its compaction: every entry exactly once (compacting and receiving instance)', async () => {
    const d1 = 'memory/2026-04-01.md';
    const d2 = 'memory/2026-04-02.md';
    const x1 = '- 09:00 a april one\n';
    const x2 = '- 09:00 a april two\n';
    await writeAndSync({ [d1]: x1, [d2]: x2 });
    await ok(b.sync());
    await ok(c.sync());
    // the compaction's commit exists, its work-tree update is cut short; the agent then writes the old day (the race, made deterministic)
    await killedAt(a, 'checkout', ['compact', 'logs', '--today', '2026-08-01']);
    a.write(d1, `${x1}- 12:00 a during the compaction\n`);
    await ok(a.sync()); // finishes the update from the journal, commits, publishes
    expect(a.read(d1)).toBe('- 12:00 a during the compaction\n'); // only the new entry stays in the daily file
    // b receives the compaction; its work-tree update is cut short the same way and its agent appends meanwhile
    await killedAt(b, 'checkout', ['sync']);
    b.write(d2, `${x2}- 12:30 b during the update\n`);
    await ok(b.sync());
    expect(b.read(d2)).toBe('- 12:30 b during the update\n');
    for (const i of [c, a, b, c]) await ok(i.sync());
    expect(expectSameSnapshots([a, b, c]).diff).toEqual([]);
    const all = [...a.snapshot().entries()].filter(([p]) => p.startsWith('memory/')).map(([, t]) => t).join('');
    for (const e of ['- 09:00 a april one', '- 09:00 a april two', '- 12:00 a during the compaction', '- 12:30 b during the update']) {
      expect(all.split('\n').filter((l) => l === e), e).toHaveLength(1);
    }
    expect(a.git(['status', '--porcelain'])).toBe('');
    await ok(a.run(['verify']));
    // the next compaction moves the new entries too, still once each
    await ok(a.run(['compact', 'logs', '--today', '2026-08-01']));
    for (const i of [b, c, a]) await ok(i.sync());
    expect(expectSameSnapshots([a, b, c]).diff).toEqual([]);
    expect(existsSync(a.path(d1)) || existsSync(a.path(d2))).toBe(false);
    const april = a.read('memory/archive/2026-04.md');
    for (const e of ['- 09:00 a april one', '- 09:00 a april two', '- 12:00 a during the compaction', '- 12:30 b during the update']) {
      expect(april.split('\n').filter((l) => l === e), e).toHaveLength(1);
    }
  }, 120_000);

  it('an agent that writes a compacted daily log back whole (moved entries, then a new one): the round commits the new entry only', async () => {
    const d = 'memory/2026-04-10.md';
    const x = '- 09:00 a april ten\n- 09:30 a april ten again\n';
    await writeAndSync({ [d]: x });
    await ok(a.run(['compact', 'logs', '--today', '2026-08-01']));
    expect(existsSync(a.path(d))).toBe(false);
    // a read-modify-write agent that read the day before the update deleted it writes it back with a new entry
    a.write(d, `${x}- 13:00 a written back\n`);
    await ok(a.sync());
    expect(a.read(d)).toBe('- 13:00 a written back\n');
    expect(a.git(['show', `HEAD:${d}`])).toBe('- 13:00 a written back\n');
    expect(a.git(['status', '--porcelain'])).toBe('');
    for (const i of [b, c, a]) await ok(i.sync());
    expect(expectSameSnapshots([a, b, c]).diff).toEqual([]);
    const all = [...a.snapshot().entries()].filter(([p]) => p.startsWith('memory/')).map(([, t]) => t).join('');
    for (const e of ['- 09:00 a april ten', '- 09:30 a april ten again', '- 13:00 a written back']) {
      expect(all.split('\n').filter((l) => l === e), e).toHaveLength(1);
    }
    // a new file for an old day that does not start with what was moved is committed as it is
    a.write('memory/2026-04-11.md', '- 08:00 a a day never compacted\n');
    await ok(a.sync());
    expect(a.git(['show', 'HEAD:memory/2026-04-11.md'])).toBe('- 08:00 a a day never compacted\n');
  }, 120_000);

  it('the commit guard takes a compaction made by hand only when the archive holds every byte', async () => {
    await writeAndSync({ 'memory/2026-03-01.md': '- 09:00 a march\n', 'memory/2026-03-02.md': '- 09:00 a kept\n' });
    // by hand, right: the day's bytes appended to its archive, the day deleted
    a.append('memory/archive/2026-03.md', '- 09:00 a march\n');
    rmSync(a.path('memory/2026-03-01.md'));
    await ok(a.sync());
    expect(a.git(['ls-files', 'memory/2026-03-01.md'])).toBe('');
    // by hand, wrong: deleted, the archive does not hold it: held, nothing lost
    rmSync(a.path('memory/2026-03-02.md'));
    a.append('memory/archive/2026-03.md', '- 09:00 something else\n');
    const r = await a.sync();
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/held memory\/2026-03-02\.md/);
    expect(a.git(['show', 'HEAD:memory/2026-03-02.md'])).toBe('- 09:00 a kept\n');
    await ok(a.run(['verify']));
    a.git(['checkout', '--', 'memory/2026-03-02.md']);
    await ok(a.sync());
  }, 60_000);

  it('verify refuses a deletion of a daily log that the archive does not hold', async () => {
    a.write('memory/2026-01-07.md', '- 09:00 doomed\n');
    await ok(a.sync());
    git(a.dir, ['rm', '-q', 'memory/2026-01-07.md'], a.env);
    git(a.dir, ['-c', 'commit.gpgsign=true', 'commit', '-q', '--no-verify', '-m', 'drop a log'], a.env);
    const v = await a.run(['verify']);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/rewrite: .* removed 1 entry from memory\/2026-01-07\.md/);
  }, 60_000);
});
