/**
 * `agentgit instances [--json]`: every instance this state has known, as
 * active, removed or retired (see health/fleet.ts), with its last heartbeat.
 * `agentgit instances retire NAME`: for an instance gone for good: removes
 * its key from allowed_signers if it is still there, and deletes its
 * heartbeat on the hub, so it leaves the fleet view everywhere.
 */
import { redactSecrets } from '../sync/secrets.js';
import { readFile } from 'node:fs/promises';
import { isAdmitted } from '../identity/admission.js';
import { removeSigner } from '../identity/signers.js';
import { commitSigners, readSignersFile } from '../identity/trust.js';
import { listFleet, markRetired } from '../health/fleet.js';
import { HUB_PREFIX, LOCAL_PREFIX, readHeartbeats } from '../sync/heartbeat.js';
import { openContext, UsageError } from '../sync/context.js';
import { syncRound } from '../sync/round.js';
import { printJson, reportSync } from './output.js';
import { withInstanceTrailer } from '../git/trailers.js';
import { EXIT } from '../errors.js';

const iso = (t: number | null | undefined): string | null => (typeof t === 'number' ? new Date(t).toISOString() : null);

export async function instancesCommand(a: { C: string; action?: string; name?: string; json: boolean; timeout: number }): Promise<void> {
  const ctx = await openContext(a.C);
  const { repo, settings } = ctx;
  const me = `${settings.agent}/${settings.instance}`;
  let pushTrust = false;
  try {
    const head = await repo.revParse('HEAD');
    const fleet = await listFleet(repo, head, await readHeartbeats(repo), me);
    if (!a.action || a.action === 'list') {
      if (a.json) {
        printJson(fleet.map((m) => ({ principal: m.principal, state: m.state, self: m.self, lastSuccessAt: iso(m.heartbeat?.lastSuccessAt), heartbeatAt: iso(m.heartbeat?.at) })));
        return;
      }
      if (fleet.length === 0) process.stdout.write('no instances known yet\n');
      for (const m of fleet) {
        const seen = m.heartbeat ? `last success ${iso(m.heartbeat.lastSuccessAt) ?? 'never'}` : 'no heartbeat on the hub';
        process.stdout.write(`${m.principal}\t${m.state}${m.self ? ' (this instance)' : ''}\t${seen}\n`);
      }
      return;
    }
    if (a.action !== 'retire') throw new UsageError(`unknown action "${a.action}": use \`agentgit instances\` or \`agentgit instances retire NAME\``);
    if (!a.name) throw new UsageError('usage: agentgit instances retire NAME (INSTANCE or AGENT/INSTANCE, as `agentgit instances` lists it)');
    const principal = a.name.includes('/') ? a.name : fleet.find((m) => m.principal.endsWith(`/${a.name}`))?.principal ?? `${settings.agent}/${a.name}`;
    const member = fleet.find((m) => m.principal === principal);
    if (!member) throw new UsageError(`${a.name}: no such instance in this state (see \`agentgit instances\`)`);
    if (member.self) throw new UsageError(`refusing to retire this instance itself (${me}); run it on another instance, or rename this one with \`agentgit init --instance NEW --rename\``);
    const instance = principal.slice(principal.indexOf('/') + 1);
    const keyRemoved = member.state === 'active';
    if (member.state !== 'retired') {
      // recorded in allowed_signers (signed), so every instance sees it retired
      const myKey = await readFile(`${settings.signingKey}.pub`, 'utf8').catch(() => '');
      if (!myKey || !(await isAdmitted(repo, 'HEAD', myKey))) {
        throw new UsageError(`${me} is not admitted itself, so its change to allowed_signers would be refused; run \`agentgit instances retire ${a.name}\` on an admitted instance`);
      }
      const cur = await readSignersFile(repo);
      const next = markRetired(removeSigner(cur, principal).text, principal, `by ${me}`);
      await commitSigners(repo, next, withInstanceTrailer(`agentgit: retire ${principal}\n\nRetired by ${me}: gone for good.${keyRemoved ? ' Its key is removed; its earlier commits stay valid, later ones are refused.' : ''}`, settings.instance));
      pushTrust = true;
    }
    const url = ctx.config.get(`remote.${settings.remote}.url`);
    if (url && member.heartbeat) {
      const r = await repo.push({ remote: settings.remote, refspecs: [`:${HUB_PREFIX}${instance}`], quiet: true, timeoutMs: a.timeout * 1000 });
      if (!r.ok) {
        process.stderr.write(`agentgit: could not delete the heartbeat of ${principal} on the hub (${redactSecrets(r.stderr.trim().split('\n').pop() ?? '')}); run \`agentgit instances retire ${a.name}\` again when the hub answers\n`);
        process.exitCode = EXIT.TEMPORARY;
      }
    }
    await repo.deleteRef(`${LOCAL_PREFIX}${instance}`);
    if (!a.json) process.stdout.write(`retired ${principal}${keyRemoved ? ': its key is removed from allowed_signers (its earlier commits stay valid)' : ''}; it has left the fleet view\n`);
    else printJson({ retired: principal, keyRemoved });
  } finally {
    repo.close();
  }
  if (pushTrust && ctx.config.get(`remote.${settings.remote}.url`)) {
    const o = await syncRound({ dir: repo.root, push: true, timeoutSec: a.timeout, waitSec: 30 });
    if (o.exitCode !== 0 || !a.json) reportSync(o, { quiet: true, json: false });
  }
}
