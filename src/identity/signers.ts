/**
 * `.agentgit/allowed_signers`: git's SSH allowed-signers format, one
 * admitted instance a line: `AGENT/INSTANCE namespaces="git" ssh-ed25519 AAAA…`.
 * Pure parsing and editing.
 */
import { fingerprint } from './keys.js';

export const SIGNERS_PATH = '.agentgit/allowed_signers';

export interface Signer {
  principal: string;
  key: string;
  fingerprint: string;
  line: string;
}

export function parseSigners(text: string | null): Signer[] {
  if (!text) return [];
  const out: Signer[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(?:namespaces="[^"]*"\s+)?(\S+\s+\S+)/.exec(line);
    if (!m) continue;
    const fp = fingerprint(m[2]!);
    if (fp) out.push({ principal: m[1]!, key: m[2]!, fingerprint: fp, line });
  }
  return out;
}

export function signerLine(principal: string, publicKey: string): string {
  const [type, b64] = publicKey.trim().split(/\s+/);
  return `${principal} namespaces="git" ${type} ${b64}`;
}

/** Add a line (replacing the principal's old key, if any). */
export function addSigner(text: string | null, principal: string, publicKey: string): string {
  const keep = (text ?? '').split('\n').filter((l) => l.trim() && !l.startsWith(`${principal} `));
  return [...keep, signerLine(principal, publicKey)].join('\n') + '\n';
}

export function removeSigner(text: string | null, principal: string): { text: string; removed: number } {
  const lines = (text ?? '').split('\n').filter((l) => l.trim());
  const keep = lines.filter((l) => !l.startsWith(`${principal} `));
  return { text: keep.length ? keep.join('\n') + '\n' : '', removed: lines.length - keep.length };
}
