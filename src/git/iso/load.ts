/**
 * The isomorphic-git engine is loaded only when a repository uses it
 * (AGENTGIT_ENGINE=isomorphic-git, or no git binary): nothing in this
 * folder imports isomorphic-git at module top level (type imports only),
 * so a cron round on the git CLI engine never reads its code
 * (test/git/iso/lazy.test.ts).
 */
import type * as Iso from 'isomorphic-git';

export type IsoGitModule = typeof Iso;

let loading: Promise<IsoGitModule> | null = null;

/** isomorphic-git, imported on first use (once per process). */
export function loadIso(): Promise<IsoGitModule> {
  loading ??= import('isomorphic-git');
  return loading;
}
