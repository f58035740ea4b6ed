/**
 * `agentgit policy show|diff|accept [-C DIR] [--json] [--id ID]`: the
 * layer policy this machine runs, what a synced change to
 * `.agentgit/config.json` asks for that this machine has not accepted
 * (a command to run, a guard relaxed), and this machine's consent to it.
 * See docs/security.md, "Policy changes need each machine's consent".
 */
import { POLICY_PATH } from '../policy/policy.js';
import type { PolicyChange } from '../policy/consent.js';
import { blobId, openContext, writeAccepted, type Context } from '../sync/context.js';
import { SyncLock } from '../lock.js';
import { printJson } from './output.js';

export interface PendingPolicy {
  changes: PolicyChange[];
  /** The commit that last changed the policy file, or null when the change is not committed. */
  commit: string | null;
  author: string | null;
  /** True when the work-tree file differs from HEAD's (an edit on this machine). */
  uncommitted: boolean;
  /** Git's blob id of the policy file this consent is for (null: the file is absent or empty). */
  id: string | null;
  acceptCommand: string;
}

/** What is pending on this machine, with who committed it; null when nothing is. */
export async function pendingPolicy(ctx: Context, dir: string): Promise<PendingPolicy | null> {
  const st = ctx.consent;
  if (st.pending.length === 0) return null;
  const { repo } = ctx;
  const uncommitted = blobId(await repo.objects.read(`HEAD:${POLICY_PATH}`).catch(() => null)) !== st.proposedId;
  let commit: string | null = null;
  let author: string | null = null;
  if (!uncommitted) {
    const last = await repo.lastCommitTouching(POLICY_PATH);
    if (last) ({ oid: commit, author } = last);
  }
  const q = (s: string): string => (/^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  return {
    changes: st.pending,
    commit,
    author,
    uncommitted,
    id: st.proposedId,
    acceptCommand: `agentgit policy accept -C ${q(dir)} --id ${st.proposedId ?? 'none'}`,
  };
}

/** One line for `agentgit status` and the sync report. */
export function pendingLine(p: PendingPolicy | null): string {
  if (!p) return 'policy: accepted (nothing pending)';
  const from = p.uncommitted ? 'an uncommitted edit on this machine' : p.commit ? `commit ${p.commit.slice(0, 10)} by ${JSON.stringify(p.author)}` : 'the policy file';
  return `policy: ${p.changes.length} change${p.changes.length === 1 ? '' : 's'} from ${from} NOT applied until accepted here: ${p.changes.map((c) => `${c.key}: ${c.what}`).join('; ')}; review with \`agentgit policy diff\`, then accept with \`${p.acceptCommand}\``;
}

export async function policyCommand(a: { action: 'show' | 'diff' | 'accept'; C: string; json: boolean; id?: string }): Promise<void> {
  const ctx = await openContext(a.C);
  try {
    const pending = await pendingPolicy(ctx, a.C);
    if (a.action === 'show') {
      if (a.json) printJson({ effective: ctx.policy.config, accepted: ctx.consent.accepted, file: ctx.consent.proposed, pending });
      else process.stdout.write(`# the policy this machine runs (${POLICY_PATH}, less what is not accepted here)\n${JSON.stringify(ctx.policy.config, null, 2)}\n${pendingLine(pending)}\n`);
      return;
    }
    if (a.action === 'diff') {
      if (a.json) printJson({ pending });
      else if (!pending) process.stdout.write(`${pendingLine(null)}\n`);
      else {
        const from = pending.uncommitted ? 'an uncommitted edit of the policy file on this machine' : pending.commit ? `commit ${pending.commit} by ${pending.author}` : `the policy file`;
        const lines = [`${POLICY_PATH} asks for ${pending.changes.length} change${pending.changes.length === 1 ? '' : 's'} this machine has not accepted (from ${from}):`];
        for (const c of pending.changes) lines.push(`  ${c.key}: ${c.what}`);
        lines.push('until accepted, this machine keeps its accepted policy for these; accept with:', `  ${pending.acceptCommand}`);
        process.stdout.write(lines.join('\n') + '\n');
      }
      return;
    }
    // accept: what `diff` showed, and only that (--id: the policy file has not changed since)
    const want = a.id === undefined ? undefined : a.id === 'none' ? null : a.id;
    if (want !== undefined && want !== ctx.consent.proposedId) {
      throw new Error(`${POLICY_PATH} changed since you reviewed it (now ${ctx.consent.proposedId ?? 'none'}, you accepted ${a.id}); run \`agentgit policy diff -C ${a.C}\` again`);
    }
    const lock = new SyncLock(ctx.repo.stateFile('sync.lock'));
    await lock.acquire(30_000);
    try {
      await writeAccepted(ctx.repo, ctx.consent.proposed, ctx.consent.proposedId);
    } finally {
      await lock.release();
    }
    if (a.json) printJson({ accepted: ctx.consent.proposed, id: ctx.consent.proposedId, applied: ctx.consent.pending });
    else if (ctx.consent.pending.length === 0) process.stdout.write(`accepted ${POLICY_PATH} (${ctx.consent.proposedId ?? 'defaults'}); nothing was pending\n`);
    else process.stdout.write(`accepted ${POLICY_PATH} (${ctx.consent.proposedId ?? 'defaults'}) on this machine; it now applies:\n${ctx.consent.pending.map((c) => `  ${c.key}: ${c.what}`).join('\n')}\n`);
  } finally {
    ctx.repo.close();
  }
}
