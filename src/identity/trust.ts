/**
 * Changing who is admitted: commits that edit `.agentgit/allowed_signers`,
 * signed by this (admitted) instance. Also the founder's self-admission.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Repo } from '../git/repo.js';
import { UsageError } from '../errors.js';
import { fingerprint } from './keys.js';
import { addSigner, parseSigners, removeSigner, SIGNERS_PATH } from './signers.js';
import { revokedIn } from './verify.js';
import { withInstanceTrailer } from '../git/trailers.js';

export async function readSignersFile(repo: Repo): Promise<string | null> {
  return readFile(join(repo.root, SIGNERS_PATH), 'utf8').catch(() => null);
}

async function writeSignersFile(repo: Repo, text: string): Promise<void> {
  const f = join(repo.root, SIGNERS_PATH);
  await mkdir(dirname(f), { recursive: true });
  await writeFile(f, text);
}

/**
 * Parse what `trust add` is given: an allowed_signers line
 * (`PRINCIPAL namespaces="git" ssh-ed25519 AAAA…`) or a public key line
 * (`ssh-ed25519 AAAA… PRINCIPAL`).
 */
export function parseTrustArg(arg: string, principal?: string): { principal: string; key: string } {
  const s = arg.trim();
  const asSigner = parseSigners(s)[0];
  if (asSigner && !/^ssh-|^ecdsa-|^sk-/.test(s)) return { principal: principal ?? asSigner.principal, key: asSigner.key };
  const m = /^((?:ssh|ecdsa|sk)-\S+)\s+([A-Za-z0-9+/=]+)(?:\s+(\S+))?/.exec(s);
  if (!m) throw new UsageError(`not a public key or allowed_signers line: ${JSON.stringify(s.slice(0, 60))}; paste the line that \`agentgit clone\` or \`agentgit identity show\` printed`);
  const p = principal ?? m[3];
  if (!p || !/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(p)) {
    throw new UsageError('name the instance as AGENT/INSTANCE: paste the whole line `agentgit identity show` printed, or add --principal AGENT/INSTANCE');
  }
  return { principal: p, key: `${m[1]} ${m[2]}` };
}

/** Stage and commit only allowed_signers (signed by this instance's key). */
export async function commitSigners(repo: Repo, text: string, message: string): Promise<string> {
  await writeSignersFile(repo, text);
  await repo.addToIndex([SIGNERS_PATH]);
  await repo.commitIndex({ message, sign: false, paths: [SIGNERS_PATH], only: true });
  return repo.headCommit();
}

export async function trustAdd(repo: Repo, arg: string, by: string, principal?: string): Promise<{ principal: string; commit: string; changed: boolean }> {
  const t = parseTrustArg(arg, principal);
  const fp = fingerprint(t.key);
  const head = await repo.revParse('HEAD');
  const gone = fp && head ? (await revokedIn(repo, [head])).get(fp) : undefined;
  if (gone) {
    throw new UsageError(
      `this key (${fp}, once ${gone.principal}) was removed at commit ${gone.commit.slice(0, 10)}, and a removed key stays revoked for good. On that instance move its key file aside (\`agentgit identity show\` names it), run \`agentgit identity show\` to make a new key, and admit the new line`,
    );
  }
  const cur = await readSignersFile(repo);
  const next = addSigner(cur, t.principal, t.key);
  if (next === cur) return { principal: t.principal, commit: await repo.headCommit(), changed: false };
  const commit = await commitSigners(repo, next, withInstanceTrailer(`agentgit: admit ${t.principal}\n\nAdmitted by ${by}.`, by.split('/')[1] ?? by));
  return { principal: t.principal, commit, changed: true };
}

export async function trustRemove(repo: Repo, principal: string, by: string): Promise<{ commit: string; removed: number }> {
  const cur = await readSignersFile(repo);
  const r = removeSigner(cur, principal);
  if (r.removed === 0) throw new UsageError(`${principal} is not in ${SIGNERS_PATH} (see \`agentgit trust list\`)`);
  if (principal === by) throw new UsageError(`refusing to remove this instance's own key (${by}); run the removal from another admitted instance`);
  const commit = await commitSigners(repo, r.text, withInstanceTrailer(`agentgit: remove ${principal}\n\nRemoved by ${by}. Its earlier commits stay valid; later ones are refused.`, by.split('/')[1] ?? by));
  return { commit, removed: r.removed };
}

/** The founder admits itself in the work tree; committed with the first commit. */
export async function selfAdmit(repo: Repo, principal: string, publicKey: string): Promise<void> {
  const cur = await readSignersFile(repo);
  const next = addSigner(cur, principal, publicKey);
  if (next !== cur) await writeSignersFile(repo, next);
}
