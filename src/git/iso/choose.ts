/**
 * Which engine this process uses, decided without loading either: the
 * isomorphic-git engine with `AGENTGIT_ENGINE=isomorphic-git`, or when no
 * git binary is on PATH (unless `AGENTGIT_ENGINE=git`, which then fails on
 * the first git command with git's own "not found"). No import of
 * isomorphic-git here: git/repo.ts reads this on every run.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/** Whether an executable `git` is on PATH (no process: a look at each PATH entry). */
export function gitOnPath(env: NodeJS.ProcessEnv = process.env): boolean {
  for (const d of (env.PATH ?? '').split(':')) {
    if (!d) continue;
    try {
      accessSync(join(d, 'git'), constants.X_OK);
      return true;
    } catch {
      /* not here */
    }
  }
  return false;
}

export function wantIsoGit(env: NodeJS.ProcessEnv = process.env): boolean {
  const e = (env.AGENTGIT_ENGINE ?? '').toLowerCase();
  if (e === 'isomorphic-git') return true;
  if (e === 'git') return false;
  return !gitOnPath(env);
}
