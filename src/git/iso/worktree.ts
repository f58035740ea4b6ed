/**
 * The work tree and the index with isomorphic-git (loaded lazily): status
 * as git's porcelain v1 codes, index writes, checkout of a commit into the
 * work tree. Proven against git in test/git/iso/worktree.test.ts.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { StatusItem } from '../backend.js';
import { isoFs } from './index-file.js';
import { loadIso } from './load.js';

/**
 * isomorphic-git's status row [head, workdir, stage] (0 absent, 1 same as
 * HEAD, 2 differs from HEAD, 3 stage differs from both) as `git status
 * --porcelain=v1 -uall` lines: one path can give two lines (`D ` and `??`
 * when a file removed from the index is still on disk).
 */
export function porcelain(path: string, head: number, workdir: number, stage: number): StatusItem[] {
  const key = `${head}${workdir}${stage}`;
  const codes: Record<string, string[]> = {
    '020': ['??'],
    '022': ['A '],
    '023': ['AM'],
    '003': ['AD'],
    '121': [' M'],
    '122': ['M '],
    '123': ['MM'],
    '101': [' D'],
    '100': ['D '],
    '110': ['D ', '??'],
    '120': ['D ', '??'],
    '113': ['MM'],
    '103': ['MD'],
  };
  return (codes[key] ?? []).map((xy) => ({ path, xy }));
}

export async function isoStatus(dir: string, gitDir: string, cache: object, paths?: string[]): Promise<StatusItem[]> {
  const git = await loadIso();
  const rows = await git.statusMatrix({ fs: isoFs(gitDir), dir, gitdir: gitDir, cache, ...(paths ? { filepaths: paths } : {}) });
  const out: StatusItem[] = [];
  const nested = nestedRepoOf(dir);
  const seen = new Set<string>();
  for (const [path, head, workdir, stage] of rows) {
    if (paths && !paths.includes(path)) continue;
    if (path.split('/').includes('.git')) continue; // another repository's own files: never content
    // an untracked file inside a directory holding its own .git: git shows the
    // directory once (`?? dir/`) and never descends (another repository)
    const repo = head === 0 && stage === 0 ? nested(path) : null;
    if (repo !== null) {
      if (!seen.has(repo)) out.push({ path: `${repo}/`, xy: '??' });
      seen.add(repo);
      continue;
    }
    out.push(...porcelain(path, head, workdir, stage));
  }
  return out;
}

/**
 * The shallowest directory above `path` (below the work tree's root) that holds
 * a `.git` (a nested repository, or a submodule's gitfile), or null.
 */
function nestedRepoOf(root: string): (path: string) => string | null {
  const known = new Map<string, boolean>();
  return (path) => {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      let has = known.get(d);
      if (has === undefined) known.set(d, (has = fs.existsSync(join(root, d, '.git'))));
      if (has) return d;
    }
    return null;
  };
}
