/**
 * One door to git (issue #16, docs/engines.md "The door"): nothing outside
 * src/git/ builds git argv or spawns git. Code there asks `Repo` by name,
 * and Repo asks its GitBackend (git/backend.ts; GitCli in git/cli.ts).
 * Flagged outside src/git/: `.run([` and `.text([` (an argv handed to a
 * runner), the spawners of git/exec.ts (runGit, gitText, gitEnv,
 * trackChild) and the cat-file session (ObjectReader), and a `spawn` of
 * `git` itself.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Repo } from '../../src/git/repo.js';
import { ROOT } from '../helpers/agents.js';

function sources(dir = join(ROOT, 'src')): Array<{ file: string; text: string }> {
  return readdirSync(dir).flatMap((e) => {
    const abs = join(dir, e);
    if (statSync(abs).isDirectory()) return sources(abs);
    return e.endsWith('.ts') ? [{ file: relative(ROOT, abs), text: readFileSync(abs, 'utf8') }] : [];
  });
}

const SPAWNERS = ['runGit', 'gitText', 'gitEnv', 'trackChild'];

/** What in this source builds git argv or spawns git, one line each (empty: nothing). */
export function gitArgvIn(text: string): string[] {
  const found: string[] = [];
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    const at = `line ${i + 1}`;
    if (/\.(run|text)\(\s*\[/.test(l)) found.push(`${at}: an argv handed to .run/.text`);
    if (/\b(spawn|spawnSync|execFile|execFileSync|exec|execSync)\(\s*['"`]git['"`\s]/.test(l)) found.push(`${at}: spawns git`);
  });
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '');
  for (const m of code.matchAll(/import\s*(?:type\s+)?\{([^}]*)\}\s*from\s*['"]([^'"]*git\/(?:exec|objects)\.js)['"]/g)) {
    const names = m[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!);
    for (const n of names) if (SPAWNERS.includes(n) || n === 'ObjectReader') found.push(`imports ${n} from ${m[2]}`);
  }
  for (const m of code.matchAll(/import\(\s*['"]([^'"]*git\/exec\.js)['"]\s*\)\)?\.(\w+)/g)) if (SPAWNERS.includes(m[2]!)) found.push(`imports ${m[2]} from ${m[1]}`);
  return found;
}

describe('one door to git', () => {
  it('the check finds each way of reaching git (so that it can fail)', () => {
    expect(gitArgvIn("await repo.run(['status', '--porcelain']);")).toHaveLength(1);
    expect(gitArgvIn('const t = await repo.text([\n  "rev-parse"]);')).toHaveLength(1);
    expect(gitArgvIn("import { GitError, runGit } from '../git/exec.js';")).toEqual(['imports runGit from ../git/exec.js']);
    expect(gitArgvIn("import { ObjectReader } from '../git/objects.js';")).toHaveLength(1);
    expect(gitArgvIn("const c = spawn('git', ['fetch']);")).toHaveLength(1);
    expect(gitArgvIn("const { gitText } = await import('../git/exec.js');")).toEqual([]); // destructured: caught by the name check below
    // what is allowed: errors and the round's deadline, object ids, named Repo methods
    expect(gitArgvIn("import { GitError, gitFailure, setChildDeadline } from '../git/exec.js';\nawait repo.fetch(remote, [spec]);")).toEqual([]);
  });

  it('nothing outside src/git/ builds git argv or spawns git', () => {
    const offenders = sources()
      .filter((s) => !s.file.startsWith('src/git/'))
      .flatMap((s) => [...gitArgvIn(s.text).map((w) => `${s.file}: ${w}`), ...(/\b(runGit|gitText)\b/.test(s.text) ? [`${s.file}: names ${/\b(runGit|gitText)\b/.exec(s.text)![1]}`] : [])]);
    expect(offenders).toEqual([]);
  });

  it('Repo has no argv runner: its methods are named by what they do', () => {
    const members = Object.getOwnPropertyNames(Repo.prototype);
    expect(members).not.toContain('run');
    expect(members).not.toContain('text');
  });

  it('git argv is built in git/cli.ts (GitCli), git/objects.ts (the cat-file session) and git/exec.ts only', () => {
    const builders = sources()
      .filter((s) => /\b(runGit|gitText)\(/.test(s.text) || /spawn\(\s*'git'/.test(s.text))
      .map((s) => s.file)
      .sort();
    expect(builders).toEqual(['src/git/cli.ts', 'src/git/exec.ts', 'src/git/objects.ts']);
  });
});
