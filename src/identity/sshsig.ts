/**
 * SSH signatures (the SSHSIG format of OpenSSH's PROTOCOL.sshsig, which git
 * uses for `gpg.format=ssh`) made and checked in-process with node:crypto,
 * so a signed commit costs no `ssh-keygen -Y sign` and a verified one no
 * `ssh-keygen -Y find-principals` + `-Y verify`.
 *
 * Only what agentgit creates is handled here: unencrypted ed25519 keys and
 * sha512 signatures. Anything else returns null and the caller falls back
 * to git (which runs ssh-keygen), so other keys keep working, just slower.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { registerCommitSigner } from '../git/iso/signatures.js';

const MAGIC = Buffer.from('SSHSIG');
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
const ED25519 = 'ssh-ed25519';

/** An SSH wire-format reader (uint32-length-prefixed strings). */
class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  u32(): number {
    if (this.at + 4 > this.b.length) throw new Error('truncated');
    const v = this.b.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    if (this.at + n > this.b.length) throw new Error('truncated');
    const v = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  raw(n: number): Buffer {
    if (this.at + n > this.b.length) throw new Error('truncated');
    const v = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  get done(): boolean {
    return this.at === this.b.length;
  }
}

function str(v: Buffer | string): Buffer {
  const b = typeof v === 'string' ? Buffer.from(v) : v;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

const b64url = (b: Buffer): string => b.toString('base64url');

export interface SigningKey {
  key: KeyObject;
  /** The public key in SSH wire format (`string "ssh-ed25519" string pub`). */
  publicBlob: Buffer;
}

/**
 * What an OpenSSH private key file (one key, any type) holds in the clear:
 * whether the rest is encrypted, the public key, and a reader at the
 * private section. null when it is not such a file. Throws when truncated.
 */
function openPrivateKey(text: string): { encrypted: boolean; publicBlob: Buffer; rest: Reader } | null {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!m) return null;
  const r = new Reader(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  if (!r.raw(15).equals(Buffer.from('openssh-key-v1\0'))) return null;
  const cipher = r.bytes().toString();
  const kdf = r.bytes().toString();
  r.bytes(); // kdf options
  if (r.u32() !== 1) return null;
  return { encrypted: cipher !== 'none' || kdf !== 'none', publicBlob: Buffer.from(r.bytes()), rest: r };
}

/** The public key (SSH wire format) an OpenSSH private key file names, encrypted or not, any type; null when it is not one. */
export function privateKeyPublicBlob(text: string): Buffer | null {
  try {
    return openPrivateKey(text)?.publicBlob ?? null;
  } catch {
    return null;
  }
}

/** Parse an unencrypted OpenSSH ed25519 private key; null for anything else. */
export function parseSigningKey(text: string): SigningKey | null {
  try {
    const f = openPrivateKey(text);
    if (!f || f.encrypted) return null;
    const publicBlob = f.publicBlob;
    const p = new Reader(f.rest.bytes());
    if (p.u32() !== p.u32()) return null; // check ints differ: wrong passphrase / corrupt
    if (p.bytes().toString() !== ED25519) return null;
    const pub = p.bytes();
    const priv = p.bytes();
    if (pub.length !== 32 || priv.length !== 64) return null;
    const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(priv.subarray(0, 32)), x: b64url(pub) }, format: 'jwk' });
    return { key, publicBlob };
  } catch {
    return null;
  }
}

/**
 * A new unencrypted ed25519 key pair in OpenSSH's formats, made in-process
 * (what `ssh-keygen -q -t ed25519 -N '' -C COMMENT` writes), for machines
 * with no ssh-keygen: the private key file's text and the public key line.
 */
export function newEd25519Key(comment: string): { privateText: string; publicLine: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const publicBlob = Buffer.concat([str(ED25519), str(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, str(ED25519), str(pub), str(Buffer.concat([seed, pub])), str(comment)]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const blob = Buffer.concat([Buffer.from('openssh-key-v1\0'), str('none'), str('none'), str(''), Buffer.from([0, 0, 0, 1]), str(publicBlob), str(priv)]);
  const b64 = blob.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  return { privateText: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`, publicLine: `${ED25519} ${publicBlob.toString('base64')} ${comment}\n` };
}

const keyCache = new Map<string, SigningKey | null>();

/** The key at `path` (cached per process); null when absent or unsupported. */
export function loadSigningKey(path: string): SigningKey | null {
  if (!keyCache.has(path)) {
    let k: SigningKey | null = null;
    try {
      k = parseSigningKey(readFileSync(path, 'utf8'));
    } catch {
      k = null;
    }
    keyCache.set(path, k);
  }
  return keyCache.get(path) ?? null;
}

function signedData(namespace: string, hash: Buffer): Buffer {
  return Buffer.concat([MAGIC, str(namespace), str(''), str('sha512'), str(hash)]);
}

/** An armored SSHSIG signature of `message` (namespace `git` for commits). */
export function signSshsig(message: Buffer | string, k: SigningKey, namespace = 'git'): string {
  const hash = createHash('sha512').update(message).digest();
  const sig = sign(null, signedData(namespace, hash), k.key);
  const blob = Buffer.concat([MAGIC, Buffer.from([0, 0, 0, 1]), str(k.publicBlob), str(namespace), str(''), str('sha512'), str(Buffer.concat([str(ED25519), str(sig)]))]);
  const b64 = blob.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}

export interface SshsigCheck {
  /** The signature matches the message under the key it names. */
  valid: boolean;
  publicBlob: Buffer;
  /** `SHA256:…`, as git's %GK prints it. */
  fingerprint: string;
}

/**
 * The signature blob of an armored SSHSIG, only when it is written exactly
 * as ssh-keygen writes it: the BEGIN line, canonical base64 (re-encoding
 * gives the same text: padding, no stray characters, no non-zero spare
 * bits) in lines of 70 columns, the END line, one optional final newline.
 * Null for anything else: ssh-keygen (through git) decides those.
 */
function dearmor(armored: string): Buffer | null {
  const m = /^-----BEGIN SSH SIGNATURE-----\n((?:[A-Za-z0-9+/]{70}\n)*[A-Za-z0-9+/=]{1,70}\n)-----END SSH SIGNATURE-----\n?$/.exec(armored);
  if (!m) return null;
  const b64 = m[1]!.replace(/\n/g, '');
  const blob = Buffer.from(b64, 'base64');
  return blob.toString('base64') === b64 ? blob : null;
}

/**
 * Check an armored SSHSIG over `message`, strictly: magic, version 1, an
 * ed25519 key and signature, hash sha512, an empty reserved field, and
 * every buffer read to its last byte. Null when it is not one this module
 * handles exactly as ssh-keygen would (another key type or hash, trailing
 * data, non-canonical armor: ask git, which runs `ssh-keygen -Y verify`);
 * `valid: false` when it is well formed but does not match (a tampered
 * commit, another namespace).
 */
export function verifySshsig(message: Buffer | string, armored: string, namespace = 'git'): SshsigCheck | null {
  const blob = dearmor(armored);
  if (!blob) return null;
  try {
    const r = new Reader(blob);
    if (!r.raw(6).equals(MAGIC) || r.u32() !== 1) return null;
    const publicBlob = Buffer.from(r.bytes());
    const ns = r.bytes();
    const reserved = r.bytes();
    const alg = r.bytes();
    const sigBlob = new Reader(r.bytes());
    // ssh-keygen reads the namespace as a C string ("git\0" passes as "git"): leave any NUL to it
    if (!r.done || reserved.length !== 0 || !alg.equals(Buffer.from('sha512')) || ns.includes(0)) return null;
    const pk = new Reader(publicBlob);
    if (!pk.bytes().equals(Buffer.from(ED25519))) return null;
    const pub = pk.bytes();
    if (!pk.done || pub.length !== 32) return null;
    if (!sigBlob.bytes().equals(Buffer.from(ED25519))) return null;
    const sig = sigBlob.bytes();
    if (!sigBlob.done || sig.length !== 64) return null;
    const fingerprint = 'SHA256:' + createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '');
    if (!ns.equals(Buffer.from(namespace))) return { valid: false, publicBlob, fingerprint };
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(pub) }, format: 'jwk' });
    const hash = createHash('sha512').update(message).digest();
    return { valid: verify(null, signedData(namespace, hash), key, sig), publicBlob, fingerprint };
  } catch {
    return null;
  }
}

// the isomorphic-git engine (no git, no ssh-keygen) signs commits with this
registerCommitSigner((payload, keyFile) => {
  const k = loadSigningKey(keyFile);
  return k ? signSshsig(payload, k) : null;
});
