/**
 * `agentgit init`: make a directory an agentgit repo. Adopts the files and
 * any Git history, branch and remote already there. With --remote whose hub
 * holds state, both histories are merged (nothing lost), then pushed.
 * Idempotent: running it again repairs the setup and changes nothing else.
 *
 * Trust: the instance that founds the state (no hub, or a hub without
 * agentgit state) admits itself. Joining a hub that already has admitted
 * instances works like `clone`: the hub's history is verified (trust on
 * first use), this instance must be admitted before it pushes (it prints the
 * command to run on an admitted instance), and meanwhile it merges the hub.
 *
 * Histories with no commit in common (a fresh template joining the fleet):
 * the hub's version wins for each file that differs and this instance's goes
 * to the conflict record (see joinUnrelated in sync/setup.ts).
 */
import { treeLimitsOf, treeRejections } from '../git/paths.js';
import { existsSync } from 'node:fs';
import { mkdir, copyFile, chmod } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { keyPath, loadKey } from '../identity/keys.js';
import { addSigner, parseSigners, removeSigner, signerLine, SIGNERS_PATH } from '../identity/signers.js';
import { readSignersFile, selfAdmit } from '../identity/trust.js';
import { commitLocalChanges } from '../sync/commit.js';
import { checkDirExists, findRepoRoot, loadPolicyState, readEffectivePolicy, readPolicy, UsageError, writeAccepted } from '../sync/context.js';
import { ClockSource } from '../sync/hlc.js';
import { syncRound } from '../sync/round.js';
import { initRepo, joinUnrelated } from '../sync/setup.js';
import { HUB_PREFIX, LOCAL_PREFIX } from '../sync/heartbeat.js';
import { markRetired } from '../health/fleet.js';
import { credentialUrlMessage, urlHasCredentials } from '../git/url.js';
import { Repo } from '../git/repo.js';
import { printJson, progressLine, reportSync, syncSummary } from './output.js';
import { withInstanceTrailer } from '../git/trailers.js';

const PROBE = 'refs/agentgit/probe';

/** The hub's branch tip (fetched into a scratch ref) and whether it lists admitted instances. */
async function probeHub(repo: Repo, url: string, branch: string, timeoutMs: number): Promise<{ tip: string | null; signers: boolean }> {
  // by URL, not remote name: git would also move the remote-tracking ref
  const r = await repo.fetch(url, [`+refs/heads/${branch}:${PROBE}`], { timeoutMs });
  if (!r.ok) return { tip: null, signers: false }; // empty or unreachable hub: found it here
  const tip = await repo.revParse(PROBE);
  const b = await repo.objects.read(`${PROBE}:${SIGNERS_PATH}`);
  return { tip, signers: parseSigners(b ? b.toString('utf8') : null).length > 0 };
}

/** The configured instance name of the repo at `root`, if any (no process when there is no repo). */
async function configuredInstance(root: string): Promise<string | null> {
  if (!existsSync(resolve(root, '.git'))) return null;
  return Repo.configAt(root, 'agentgit.instance').catch(() => null);
}

export async function initCommand(a: { C: string; remote?: string; branch?: string; agent?: string; instance?: string; timeout: number; json: boolean; newKey?: boolean; rename?: boolean }): Promise<void> {
  if (a.remote && urlHasCredentials(a.remote)) throw new UsageError(credentialUrlMessage(a.remote)); // before anything else
  checkDirExists(a.C, `mkdir -p ${a.C}`);
  // inside an agentgit repo already: work on its root (never nest a second repo)
  let dir = a.C;
  const root = findRepoRoot(a.C);
  if (root && root !== resolve(a.C) && (await configuredInstance(root))) dir = root;
  const before = await configuredInstance(dir);
  if (before && a.instance && a.instance !== before && !a.rename) {
    throw new UsageError(
      `${resolve(dir)} is already set up as instance "${before}"; renaming an instance is explicit: \`agentgit init --instance ${a.instance} --rename\` (the old name is retired from the fleet view and its key moves to the new name)`,
    );
  }
  const renamed = before && a.instance && a.instance !== before ? before : null;
  if (renamed) await carryKey(dir, renamed, a.instance!);
  const { repo, adopted, instance, agent } = await initRepo(dir, a);
  const lines: string[] = [];
  try {
    const remoteName = (await repo.config('agentgit.remote')) ?? 'origin';
    const remote = await repo.config(`remote.${remoteName}.url`);
    const branch = (await repo.config('agentgit.branch')) ?? 'main';
    const principal = `${agent}/${instance}`;
    const key = await loadKey((await repo.config('user.signingkey')) ?? keyPath(agent, instance), principal);
    const hub = remote ? await probeHub(repo, remote, branch, a.timeout * 1000) : { tip: null, signers: false };
    const joining = hub.signers;
    if (renamed) await renameSigner(repo, `${agent}/${renamed}`, principal, key.publicKey);
    else if (!joining) await selfAdmit(repo, principal, key.publicKey);
    if (!joining) {
      // the founder's policy is its own: accepted on this machine (docs/security.md)
      const st = await loadPolicyState(repo);
      await writeAccepted(repo, st.proposed, st.proposedId);
    }
    const policy = await readPolicy(repo.root);
    const clocks = new ClockSource(repo.stateFile('hlc'), instance);
    await clocks.load();
    const c = await commitLocalChanges({
      repo,
      policy,
      clocks,
      sign: true,
      progress: progressLine('agentgit: committing', { json: a.json }),
      message: (files) => withInstanceTrailer(`agentgit: init ${agent}/${instance} (${files.length} file${files.length === 1 ? '' : 's'})`, instance),
    });
    lines.push(`${adopted ? 'adopted' : 'initialised'} ${repo.root} as ${agent}/${instance}${c.commit ? `, committed ${c.committed.length} file${c.committed.length === 1 ? '' : 's'}` : ''}`);
    if (renamed) lines.push(`renamed this instance from ${renamed} to ${instance} (same key); ${renamed} is retired`);
    for (const n of c.nested) lines.push(`warning: ${n}/ holds its own .git; it is another repository and is not synced`);
    for (const h of c.held) lines.push(`held ${h.path}: ${h.detail.replace(/FILE/g, h.path)}`);
    let admitted = !joining;
    let join: Awaited<ReturnType<typeof joinHub>> | null = null;
    if (joining && hub.tip) {
      const { isAdmitted, markUnadmitted } = await import('../identity/admission.js');
      admitted = await isAdmitted(repo, hub.tip, key.publicKey);
      join = await joinHub(repo, hub.tip, remoteName, branch, instance);
      if (join.refused) {
        await repo.deleteRef(PROBE).catch(() => undefined);
        process.stderr.write(`agentgit: ${join.refused}\n`);
        process.exitCode = 1;
        return;
      }
      if (!admitted) await markUnadmitted(repo); // its commits are re-signed once admitted
      if (join.joined) {
        lines.push(`joined the hub's state: its history shares no commit with this one, so the hub's version of each differing file is kept`);
        if (join.joined.recorded.length) lines.push(`this instance's versions of ${join.joined.recorded.join(', ')} are in .agentgit/conflicts.jsonl (see \`agentgit conflicts\`)`);
      }
    }
    await repo.deleteRef(PROBE).catch(() => undefined);
    if (renamed && remote) await retireHeartbeat(repo, remoteName, renamed, a.timeout * 1000);
    repo.close();
    if (!remote) {
      if (a.json) printJson({ root: repo.root, adopted, agent, instance, committed: c.committed, held: c.held.map((h) => h.path), nested: c.nested });
      else process.stdout.write(lines.join('\n') + '\nno hub yet: `agentgit init --remote URL` sets one; `agentgit sync` from cron keeps it in sync\n');
      process.exitCode = c.held.length ? 1 : 0;
      return;
    }
    if (!a.json) process.stdout.write(lines.join('\n') + '\n');
    const o = await syncRound({ dir: repo.root, push: true, timeoutSec: a.timeout, waitSec: 5 });
    if (!admitted && o.held.length === 0 && (o.notAdmitted || o.exitCode === 0)) {
      // joining: merged with the hub, waiting for admission (as after `clone`)
      const line = signerLine(principal, key.publicKey);
      if (a.json) printJson({ root: repo.root, principal, admitted: false, joined: true, recorded: join?.joined?.recorded ?? [], trustCommand: `agentgit trust add '${line}'` });
      else process.stdout.write(`${syncSummary(o)}\njoined the hub's agentgit state; this instance is not admitted yet: until it is, sync commits and merges but pushes nothing.\nOn an admitted instance, run:\n  agentgit trust add '${line}'\n`);
      process.exitCode = 0;
      return;
    }
    reportSync(o, { json: a.json });
  } finally {
    repo.close();
  }
}

/**
 * Joining a hub that holds agentgit state: verify its history (trust on first
 * use, as `clone` does), then either let the first sync merge it (histories
 * related: a migrated git-sync workspace) or build the join commit now
 * (unrelated histories). Returns a refusal message when the hub does not verify.
 */
async function joinHub(repo: Repo, tip: string, remote: string, branch: string, instance: string): Promise<{ refused?: string; joined?: Awaited<ReturnType<typeof joinUnrelated>> }> {
  const { verifyRange } = await import('../identity/verify.js');
  const head = await repo.revParse('HEAD');
  const limits = treeLimitsOf((await readEffectivePolicy(repo)).config);
  const exclude = head ? [head] : [];
  // signatures, then every new tree (git's path rules, no link where agentgit writes, limits): before anything is written
  const bad = [...(await verifyRange(repo, { exclude, tip, allowBootstrap: true })), ...(await treeRejections(repo, { exclude, tip, limits }))];
  if (bad.length > 0) {
    return {
      refused: `the hub's history does not verify (${bad.length} commit${bad.length === 1 ? '' : 's'}; first: ${bad[0]!.commit.slice(0, 10)} by ${JSON.stringify(bad[0]!.author)}: ${bad[0]!.reason}). Nothing from the hub was merged; local work is committed and kept. Check the hub URL, or ask its operator`,
    };
  }
  // Our own history holds no agentgit state yet (a migrated plain-git clone):
  // the remote-tracking ref git left behind is not a hub this instance ever
  // trusted. Drop it so the first sync meets the state as first contact,
  // which is what was just verified.
  const track = `refs/remotes/${remote}/${branch}`;
  const mine = head ? await repo.objects.read(`${head}:${SIGNERS_PATH}`) : null;
  if (parseSigners(mine ? mine.toString('utf8') : null).length === 0 && (await repo.revParse(track))) await repo.deleteRef(track);
  if (!head || (await repo.mergeBases(head, tip)).length > 0) return {};
  const policy = await readEffectivePolicy(repo);
  const ref = `refs/heads/${repo.headBranchFromFile() ?? branch}`;
  const joined = await joinUnrelated(repo, policy, head, tip, { instance, sign: true });
  const { checkout } = await import('../sync/checkout.js');
  await checkout(repo, policy, ref, head, joined.commit);
  return { joined };
}

/** Renaming keeps the machine's key: copy it to the new name's path when that has none. */
async function carryKey(dir: string, from: string, to: string): Promise<void> {
  const agent = (await Repo.configAt(dir, 'agentgit.agent')) ?? 'agent';
  const configured = (await Repo.configAt(dir, 'user.signingkey')) ?? '';
  const src = configured || keyPath(agent, from);
  const dst = keyPath(agent, to);
  if (existsSync(dst) || !existsSync(src) || !existsSync(src + '.pub')) return;
  await mkdir(dirname(dst), { recursive: true, mode: 0o700 });
  await copyFile(src, dst);
  await copyFile(src + '.pub', dst + '.pub');
  await chmod(dst, 0o600);
  await Repo.setConfigAt(dir, 'user.signingkey', dst);
}

/** allowed_signers: the old principal's line becomes the new one's (same key; signed by it). */
async function renameSigner(repo: Repo, from: string, to: string, publicKey: string): Promise<void> {
  const cur = await readSignersFile(repo);
  if (cur === null || !parseSigners(cur).some((s) => s.principal === from)) return;
  const { writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await writeFile(join(repo.root, SIGNERS_PATH), markRetired(addSigner(removeSigner(cur, from).text, to, publicKey), from, `renamed to ${to}`));
  // Authored under the old name: as of its parent the key is admitted as
  // `from`, and a commit must be authored by the principal that signs it.
  const instance = to.slice(to.indexOf('/') + 1);
  await repo.addToIndex([SIGNERS_PATH]);
  await repo.commitIndex({ message: withInstanceTrailer(`agentgit: ${from} renamed to ${to}`, instance), sign: true, paths: [SIGNERS_PATH], author: from });
}

/** Delete the old name's heartbeat on the hub and here (best effort: a later `instances retire` can finish it). */
async function retireHeartbeat(repo: Repo, remote: string, name: string, timeoutMs: number): Promise<void> {
  await repo.push({ remote, refspecs: [`:${HUB_PREFIX}${name}`], quiet: true, timeoutMs }).catch(() => undefined);
  await repo.deleteRef(`${LOCAL_PREFIX}${name}`).catch(() => undefined);
}
