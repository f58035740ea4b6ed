/**
 * The merge core as a git merge driver, through real `git merge`,
 * `git pull --rebase` and a criss-cross history.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { agentgit, cleanupTemp, git, makeBareHub, MARKERS, tempDir, testEnv } from '../helpers/agents.js';
import { conflictLine } from '../../src/sync/integrate.js';

afterAll(() => cleanupTemp());

async function repo(): Promise<{ dir: string; env: NodeJS.ProcessEnv; write: (p: string, s: string) => void; read: (p: string) => string; g: (...a: string[]) => string }> {
  const dir = join(tempDir(), 'r');
  mkdirSync(dir);
  const env = testEnv(tempDir());
  const r = await agentgit(['init', '-C', dir, '--instance', 'x'], { env });
  expect(r.code, r.stderr).toBe(0);
  return {
    dir,
    env,
    write: (p, s) => {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), s);
    },
    read: (p) => readFileSync(join(dir, p), 'utf8'),
    g: (...a) => git(dir, a, env),
  };
}

const day = 'memory/2026-11-25.md';

describe('agentgit merge-driver through plain git', () => {
  it('git merge unions log entries and merges JSON by key, no markers', async () => {
    const r = await repo();
    r.write(day, '# log\n- 09:00 base\n');
    r.write('state.json', '{\n  "a": 1,\n  "b": 1\n}\n');
    r.g('add', '-A');
    r.g('commit', '-qm', 'base');
    r.g('switch', '-qc', 'other');
    r.write(day, '# log\n- 09:00 base\n- 10:00 other\n');
    r.write('state.json', '{\n  "a": 2,\n  "b": 1\n}\n');
    r.g('commit', '-qam', 'other');
    r.g('switch', '-q', 'main');
    r.write(day, '# log\n- 09:00 base\n- 09:30 main\n');
    r.write('state.json', '{\n  "a": 1,\n  "b": 3\n}\n');
    r.g('commit', '-qam', 'main');
    r.g('merge', '-q', '--no-edit', 'other');
    expect(r.read(day)).toBe('# log\n- 09:00 base\n- 09:30 main\n- 10:00 other\n');
    expect(JSON.parse(r.read('state.json'))).toEqual({ a: 2, b: 3 });
    expect(r.g('status', '--porcelain')).toBe('');
  });

  it('git pull --rebase (sides swapped) gives the same log', async () => {
    const hub = join(tempDir(), 'hub.git');
    mkdirSync(hub);
    const env = testEnv(tempDir());
    git(hub, ['init', '-q', '--bare', '-b', 'main'], env);
    const a = await repo();
    a.write(day, '# log\n- 09:00 base\n');
    a.g('add', '-A');
    a.g('commit', '-qm', 'base');
    a.g('remote', 'add', 'origin', hub);
    a.g('push', '-q', 'origin', 'main');
    const bdir = join(tempDir(), 'b');
    git(tempDir(), ['clone', '-q', hub, bdir], env);
    const b = { g: (...x: string[]) => git(bdir, x, env), write: (p: string, s: string) => writeFileSync(join(bdir, p), s), read: (p: string) => readFileSync(join(bdir, p), 'utf8') };
    // b gets the drivers too (a clone by hand: agentgit init adopts it)
    expect((await agentgit(['init', '-C', bdir, '--instance', 'y'], { env })).code).toBe(0);
    b.write(day, '# log\n- 09:00 base\n- 11:00 b\n');
    b.g('commit', '-qam', 'b');
    b.g('push', '-q', 'origin', 'main');
    a.write(day, '# log\n- 09:00 base\n- 10:00 a\n');
    a.g('commit', '-qam', 'a');
    a.g('pull', '-q', '--rebase', 'origin', 'main');
    expect(a.read(day)).toBe('# log\n- 09:00 base\n- 10:00 a\n- 11:00 b\n');
    expect(MARKERS.test(a.read(day))).toBe(false);
  });

  it('a criss-cross history merges cleanly', async () => {
    const r = await repo();
    r.write(day, '# log\n- 09:00 base\n');
    r.write('MEMORY.md', 'one\ntwo\nthree\n');
    r.g('add', '-A');
    r.g('commit', '-qm', 'base');
    r.g('branch', 'x');
    r.write(day, '# log\n- 09:00 base\n- 09:10 main1\n');
    r.g('commit', '-qam', 'm1');
    r.g('switch', '-q', 'x');
    r.write(day, '# log\n- 09:00 base\n- 09:20 x1\n');
    r.write('MEMORY.md', 'one\nTWO\nthree\n');
    r.g('commit', '-qam', 'x1');
    r.g('merge', '-q', '--no-edit', 'main');
    r.g('switch', '-q', 'main');
    r.g('merge', '-q', '--no-edit', 'x~1');
    // now both have merged each other: criss-cross
    r.write(day, r.read(day) + '- 09:30 main2\n');
    r.g('commit', '-qam', 'm2');
    r.g('switch', '-q', 'x');
    r.write(day, r.read(day) + '- 09:40 x2\n');
    r.g('commit', '-qam', 'x2');
    expect(r.g('merge-base', '--all', 'main', 'x').trim().split('\n')).toHaveLength(2); // criss-cross
    r.g('merge', '-q', '--no-edit', 'main');
    const text = r.read(day);
    for (const e of ['- 09:00 base', '- 09:10 main1', '- 09:20 x1', '- 09:30 main2', '- 09:40 x2']) {
      expect(text.split('\n').filter((l) => l === e), e).toHaveLength(1);
    }
    expect(MARKERS.test(text)).toBe(false);
    expect(r.read('MEMORY.md')).toBe('one\nTWO\nthree\n');
  });

  it('both sides added the same file (no base)', async () => {
    const r = await repo();
    r.write('x.md', 'x\n');
    r.g('add', '-A');
    r.g('commit', '-qm', 'base');
    r.g('switch', '-qc', 'other');
    r.write(day, '- 10:00 other\n');
    r.g('add', '-A');
    r.g('commit', '-qm', 'other');
    r.g('switch', '-q', 'main');
    r.write(day, '- 09:00 main\n');
    r.g('add', '-A');
    r.g('commit', '-qm', 'main');
    r.g('merge', '-q', '--no-edit', 'other');
    expect(r.read(day)).toBe('- 09:00 main\n- 10:00 other\n');
  });

  describe('the conflict record under plain git merge', () => {
    const REC = '.agentgit/conflicts.jsonl';
    /** git merge, with its stderr (where the driver speaks). */
    const merge = (dir: string, env: NodeJS.ProcessEnv, branch: string): string => {
      const m = spawnSync('git', ['merge', '--no-edit', branch], { cwd: dir, env, encoding: 'utf8' });
      expect(m.status, m.stderr).toBe(0);
      return m.stderr;
    };
    /** MEMORY.md line 2 changed on both sides: one text race, "curious" loses on value. */
    async function raced(alsoRecordOnOther: boolean) {
      const r = await repo();
      r.write('MEMORY.md', 'I am Kevin.\nI am calm.\n');
      r.g('add', '-A');
      r.g('commit', '-qm', 'base');
      r.g('switch', '-qc', 'other');
      r.write('MEMORY.md', 'I am Kevin.\nI am bold.\n');
      if (alsoRecordOnOther) r.write(REC, '{"earlier":"record line"}\n');
      r.g('add', '-A');
      r.g('commit', '-qm', 'other');
      r.g('switch', '-q', 'main');
      r.write('MEMORY.md', 'I am Kevin.\nI am curious.\n');
      r.g('commit', '-qam', 'main');
      const stderr = merge(r.dir, r.env, 'other');
      return { r, stderr };
    }
    const line = conflictLine({ path: 'MEMORY.md', key: 'hunk@2', winner: { value: 'I am curious.\n' }, loser: { value: 'I am bold.\n' }, rule: 'value' });

    it('a race lost under git merge is appended to the record, in the format sync writes', async () => {
      const { r, stderr } = await raced(false);
      expect(r.read('MEMORY.md')).toBe('I am Kevin.\nI am curious.\n');
      expect(r.read(REC)).toBe(line + '\n');
      expect(stderr).toContain('concurrent writes');
      expect(stderr).toContain(REC);
      // merging the same race again adds no second line
      r.g('reset', '-q', '--hard', 'HEAD~1');
      merge(r.dir, r.env, 'other');
      expect(r.read(REC)).toBe(line + '\n');
    });

    it('when the merge updates the record itself, the lines wait in .git/agentgit and the next sync folds them in', async () => {
      const { r, stderr } = await raced(true);
      expect(stderr).toContain('next `agentgit sync`');
      expect(r.read(REC)).toBe('{"earlier":"record line"}\n'); // git wrote the merged record
      const pending = join(r.dir, '.git', 'agentgit', 'conflicts-pending.jsonl');
      expect(readFileSync(pending, 'utf8')).toBe(line + '\n');
      const hub = makeBareHub();
      r.g('remote', 'add', 'origin', hub);
      const s = await agentgit(['sync', '-C', r.dir], { env: r.env });
      expect(s.code, s.stderr + s.stdout).toBe(0);
      expect(existsSync(pending)).toBe(false);
      expect(r.g('show', `HEAD:${REC}`)).toBe('{"earlier":"record line"}\n' + line + '\n');
    });

    it('a virtual-ancestor merge (marker size 9, criss-cross) records nothing', async () => {
      const r = await repo();
      r.write('o', 'x\ncalm\n');
      r.write('a', 'x\ncurious\n');
      r.write('b', 'x\nbold\n');
      const d = await agentgit(['merge-driver', 'text', 'o', 'a', 'b', '9', 'MEMORY.md'], { cwd: r.dir, env: r.env });
      expect(d.code, d.stderr).toBe(0);
      const pending = join(r.dir, '.git', 'agentgit', 'conflicts-pending.jsonl');
      expect(existsSync(join(r.dir, REC)) || existsSync(pending)).toBe(false);
      // the same call as a real merge (outside `git merge`, like a rebase: the pending file) does record
      const e = await agentgit(['merge-driver', 'text', 'o', 'b', 'a', '7', 'MEMORY.md'], { cwd: r.dir, env: r.env });
      expect(e.code, e.stderr).toBe(0);
      expect(readFileSync(pending, 'utf8')).toContain('"key":"hunk@2"');
    });

    it('merge notes reach stderr', async () => {
      const r = await repo();
      r.write('state.json', '{"n": 1}\n');
      r.g('add', '-A');
      r.g('commit', '-qm', 'base');
      r.g('switch', '-qc', 'other');
      r.write('state.json', '{"n": 1, "x": 1, "x": 2}\n');
      r.g('commit', '-qam', 'other');
      r.g('switch', '-q', 'main');
      r.write('state.json', '{"n": 2}\n');
      r.g('commit', '-qam', 'main');
      const stderr = merge(r.dir, r.env, 'other');
      expect(stderr).toMatch(/agentgit: state\.json: .*more than once/);
    });
  });
});
