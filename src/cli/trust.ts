/**
 * `agentgit trust add LINE | list | remove PRINCIPAL`: who may write the
 * state. Changes are commits to `.agentgit/allowed_signers` signed by this
 * instance, which must itself be admitted; they reach the other instances
 * with the next sync (run here right away when a hub is set).
 * A removed key's later commits are refused; its earlier ones stay valid.
 */
import { fingerprint } from '../identity/keys.js';
import { parseSigners } from '../identity/signers.js';
import { readSignersFile, trustAdd, trustRemove } from '../identity/trust.js';
import { isAdmitted } from '../identity/admission.js';
import { readFile } from 'node:fs/promises';
import { openContext, UsageError } from '../sync/context.js';
import { syncRound } from '../sync/round.js';
import { printJson, reportSync } from './output.js';

export async function trustCommand(a: { C: string; action: string; arg?: string; principal?: string; json: boolean }): Promise<void> {
  const ctx = await openContext(a.C);
  const { repo, settings } = ctx;
  const me = `${settings.agent}/${settings.instance}`;
  let changed = false;
  try {
    const myKey = await readFile(`${settings.signingKey}.pub`, 'utf8').catch(() => '');
    if (a.action === 'list') {
      const signers = parseSigners(await readSignersFile(repo));
      const myFp = fingerprint(myKey);
      if (a.json) printJson(signers.map((s) => ({ principal: s.principal, fingerprint: s.fingerprint, self: s.fingerprint === myFp })));
      else for (const s of signers) process.stdout.write(`${s.principal}\t${s.fingerprint}${s.fingerprint === myFp ? '\t(this instance)' : ''}\n`);
      return;
    }
    if (!myKey || !(await isAdmitted(repo, 'HEAD', myKey))) {
      throw new UsageError(`${me} is not admitted itself, so its changes to who is trusted would be refused; run this on an admitted instance`);
    }
    if (a.action === 'add') {
      if (!a.arg) throw new UsageError("usage: agentgit trust add 'AGENT/INSTANCE namespaces=\"git\" ssh-ed25519 AAAA…'");
      const r = await trustAdd(repo, a.arg, me, a.principal);
      changed = r.changed;
      process.stdout.write(r.changed ? `admitted ${r.principal} (commit ${r.commit.slice(0, 7)})\n` : `${r.principal} was already admitted with that key\n`);
    } else if (a.action === 'remove') {
      if (!a.arg) throw new UsageError('usage: agentgit trust remove AGENT/INSTANCE');
      const r = await trustRemove(repo, a.arg, me);
      changed = true;
      process.stdout.write(`removed ${a.arg} (commit ${r.commit.slice(0, 7)}); its later commits will be refused by every instance\n`);
    } else {
      throw new UsageError(`unknown action "${a.action}": use add, list or remove`);
    }
  } finally {
    repo.close();
  }
  if (changed && ctx.config.get(`remote.${settings.remote}.url`)) {
    const o = await syncRound({ dir: a.C, push: true, timeoutSec: 60, waitSec: 30 });
    reportSync(o, { quiet: true, json: false });
  }
}
