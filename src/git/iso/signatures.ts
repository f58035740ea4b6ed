/**
 * Signature status in-process for the isomorphic-git engine (no git, no
 * ssh-keygen): git's `%G?` and `%GK` of a commit against an allowed-signers
 * text. The SSHSIG check itself lives in identity/ (identity/sshsig.ts),
 * which registers it here when loaded (git/ sits below identity/ and does
 * not import it: no folder cycle). A signature that check does not handle
 * exactly as ssh-keygen would (another key type) is 'E' (cannot check):
 * fail closed, never 'G'.
 */
import { splitSignature } from '../objects.js';
import type { SignatureStatus } from '../backend.js';

/** The check of one signed payload against an allowed-signers text; null when it cannot decide exactly as git would. */
export type SignatureChecker = (payload: Buffer, armored: string, allowedSigners: string) => SignatureStatus | null;

let checker: SignatureChecker | null = null;

/** An armored SSHSIG (namespace git) of a commit payload with the key at `keyFile`; null when that key cannot be used in-process. */
export type CommitSigner = (payload: string, keyFile: string) => string | null;

let signer: CommitSigner | null = null;

/** identity/sshsig.ts registers the in-process ed25519 signer here when loaded. */
export function registerCommitSigner(s: CommitSigner): void {
  signer = s;
}

/** Sign a commit payload as `git commit -S` with gpg.format=ssh would; throws a one-line error when it cannot. */
export function signCommitPayload(payload: string, keyFile: string | null): string {
  if (!keyFile) throw new Error('commit signing is on but user.signingkey is not set; run `agentgit init` again to configure the key');
  const sig = signer?.(payload, keyFile) ?? null;
  if (!sig) throw new Error(`${keyFile}: not an unencrypted ed25519 OpenSSH key; the isomorphic-git engine signs with those only (install git for other keys)`);
  return sig;
}

export function registerSignatureChecker(c: SignatureChecker): void {
  checker = c;
}

/** `%G?`/`%GK` of a raw commit object. */
export function signatureStatusOfRaw(raw: Buffer, allowedSigners: string): SignatureStatus {
  const text = raw.toString('latin1');
  const end = text.indexOf('\n\n');
  const sigHeaders = (end < 0 ? text : text.slice(0, end)).split('\n').filter((l) => l.startsWith('gpgsig'));
  // two signatures, or a gpgsig-sha256 header: git's reading could differ, so no verdict but 'E'
  if (sigHeaders.length > 1 || (sigHeaders.length === 1 && !sigHeaders[0]!.startsWith('gpgsig '))) return { g: 'E', fp: '' };
  const { payload, signature } = splitSignature(text);
  if (!signature) return { g: 'N', fp: '' };
  if (!checker) throw new Error('no signature checker registered (identity/verify.ts registers it); this is a bug in agentgit');
  return checker(Buffer.from(payload, 'latin1'), signature, allowedSigners) ?? { g: 'E', fp: '' };
}
