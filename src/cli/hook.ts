/**
 * `agentgit hook pre-commit`: the commit guard for commits made by hand.
 * Checks what is staged with the same rules as `agentgit sync`.
 */
import { checkFile } from '../sync/guard.js';
import { readEffectivePolicy } from '../sync/context.js';
import { Repo } from '../git/repo.js';

export async function runHook(args: string[]): Promise<number> {
  if (args[0] !== 'pre-commit') {
    process.stderr.write('usage: agentgit hook pre-commit\n');
    return 2;
  }
  const repo = await Repo.open(process.cwd());
  if (!repo) return 0;
  try {
    const policy = await readEffectivePolicy(repo);
    const out = await repo.run(['diff', '--cached', '--name-status', '-z', '--no-renames']);
    const parts = out.stdout.toString('utf8').split('\0');
    let bad = 0;
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const status = parts[i]!;
      const path = parts[i + 1]!;
      const before = await repo.objects.read(`HEAD:${path}`);
      const after = status === 'D' ? null : await repo.objects.read(`:${path}`);
      const h = checkFile(policy, { path, before, after, size: after?.length ?? 0 });
      if (h) {
        bad++;
        process.stderr.write(`agentgit: refusing to commit ${path}: ${h.detail.replace(/FILE/g, path)}\n`);
      }
    }
    if (bad > 0) process.stderr.write('agentgit: unstage it (`git restore --staged PATH`) and commit again\n');
    return bad > 0 ? 1 : 0;
  } finally {
    repo.close();
  }
}
