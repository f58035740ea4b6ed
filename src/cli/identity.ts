/**
 * `agentgit identity show | export FILE | import FILE`: this instance's
 * signing key. Export writes the PRIVATE key: whoever holds the file can
 * sign as this instance until it is removed with `agentgit trust remove`.
 * Move it only to the machine that replaces this one, then delete the file.
 */
import { chmod, copyFile } from 'node:fs/promises';
import { fingerprint, importKey, keyPath, loadKey } from '../identity/keys.js';
import { signerLine } from '../identity/signers.js';
import { openContext, UsageError } from '../sync/context.js';
import { repairClone } from '../sync/setup.js';
import { printJson } from './output.js';

export async function identityCommand(a: { C: string; action: string; file?: string; json: boolean }): Promise<void> {
  const ctx = await openContext(a.C);
  const { settings, repo } = ctx;
  try {
    if (a.action === 'show') {
      const k = await loadKey(settings.signingKey || keyPath(settings.agent, settings.instance), `${settings.agent}/${settings.instance}`);
      const line = signerLine(k.principal, k.publicKey);
      if (a.json) printJson({ principal: k.principal, fingerprint: fingerprint(k.publicKey), allowedSigners: line, keyFile: k.privatePath });
      else process.stdout.write(`${line}\nfingerprint ${fingerprint(k.publicKey)}\nprivate key ${k.privatePath} (never leaves this machine unless you export it)\n`);
      return;
    }
    if (!a.file) throw new UsageError(`usage: agentgit identity ${a.action} FILE`);
    if (a.action === 'export') {
      const k = await loadKey(settings.signingKey || keyPath(settings.agent, settings.instance), `${settings.agent}/${settings.instance}`);
      await copyFile(k.privatePath, a.file);
      await chmod(a.file, 0o600);
      process.stderr.write(
        `agentgit: wrote the PRIVATE signing key of ${k.principal} to ${a.file} (mode 600).\n` +
          'Whoever holds this file can sign as this instance until you run `agentgit trust remove ' + k.principal + '`.\n' +
          `Copy it only to the machine that replaces this one, run \`agentgit identity import ${a.file}\` there, then delete it.\n`,
      );
      return;
    }
    if (a.action === 'import') {
      const k = await importKey(settings.agent, settings.instance, a.file);
      await repo.setConfig('user.signingkey', k.privatePath); // the imported key is the one to sign with
      await repairClone(repo, ctx.policy, settings);
      process.stdout.write(`imported the key of ${k.principal} (${fingerprint(k.publicKey)}) to ${keyPath(settings.agent, settings.instance)}; delete ${a.file} now\n`);
      return;
    }
    throw new UsageError(`unknown action "${a.action}": use show, export or import`);
  } finally {
    repo.close();
  }
}
