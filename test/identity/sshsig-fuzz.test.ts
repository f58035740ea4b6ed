/**
 * The in-process SSHSIG check against `ssh-keygen -Y verify`, on mutated
 * signatures: trailing bytes, base64 padding and stray characters, flipped
 * bytes, truncated fields, length fields too big, other armor layouts.
 * Whenever verifySshsig gives a verdict it must be ssh-keygen's; where it
 * gives none (null) git runs ssh-keygen, so the verdict is ssh-keygen's by
 * construction. Both paths must be exercised.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSigningKey, signSshsig, verifySshsig } from '../../src/identity/sshsig.js';
import { cleanupTemp, tempDir } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

function armor(blob: Buffer, width = 70, nl = '\n'): string {
  const b64 = blob.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += width) lines.push(b64.slice(i, i + width));
  return `-----BEGIN SSH SIGNATURE-----${nl}${lines.join(nl)}${nl}-----END SSH SIGNATURE-----${nl}`;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const str = (b: Buffer | string): Buffer => Buffer.concat([u32(Buffer.byteLength(b)), Buffer.from(b)]);

/** The fields of a signature blob, to rebuild it with one changed. */
function fields(blob: Buffer): { pub: Buffer; ns: Buffer; reserved: Buffer; alg: Buffer; sig: Buffer } {
  let at = 10;
  const next = (): Buffer => {
    const n = blob.readUInt32BE(at);
    const v = blob.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return v;
  };
  return { pub: next(), ns: next(), reserved: next(), alg: next(), sig: next() };
}
function build(f: { pub: Buffer; ns: Buffer; reserved: Buffer; alg: Buffer; sig: Buffer }, version = 1): Buffer {
  return Buffer.concat([Buffer.from('SSHSIG'), u32(version), str(f.pub), str(f.ns), str(f.reserved), str(f.alg), str(f.sig)]);
}

describe('SSHSIG verdicts: in-process == ssh-keygen -Y verify', () => {
  it('about 90 mutated signatures: every in-process verdict is ssh-keygen\'s, and odd ones are left to it', () => {
    const dir = tempDir();
    const key = join(dir, 'k');
    expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bot/x', '-f', key]).status).toBe(0);
    const allowed = join(dir, 'allowed');
    writeFileSync(allowed, `bot/x namespaces="git" ${readFileSync(`${key}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const message = 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor bot/x <x@x> 1764028800 +0000\ncommitter bot/x <x@x> 1764028800 +0000\n\nhello\n';
    const good = signSshsig(message, parseSigningKey(readFileSync(key, 'utf8'))!);
    const blob = Buffer.from(good.split('\n').slice(1, -2).join(''), 'base64');
    const f = fields(blob);
    const sigInner = fields(blob).sig;
    const cases: Array<[string, string, string?]> = [['valid', good], ['other message', good, message + 'x']];
    // blob-level mutations, canonically armored
    cases.push(['trailing byte', armor(Buffer.concat([blob, Buffer.from([0])]))]);
    cases.push(['trailing string', armor(Buffer.concat([blob, str('x')]))]);
    cases.push(['version 2', armor(build(f, 2))]);
    cases.push(['magic', armor(Buffer.concat([Buffer.from('SSHSIH'), blob.subarray(6)]))]);
    cases.push(['namespace file', armor(build({ ...f, ns: Buffer.from('file') }))]);
    cases.push(['namespace git\\0', armor(build({ ...f, ns: Buffer.from('git\0') }))]);
    cases.push(['reserved set', armor(build({ ...f, reserved: Buffer.from('x') }))]);
    cases.push(['hash sha256 label', armor(build({ ...f, alg: Buffer.from('sha256') }))]);
    cases.push(['hash SHA512', armor(build({ ...f, alg: Buffer.from('SHA512') }))]);
    cases.push(['public key trailing byte', armor(build({ ...f, pub: Buffer.concat([f.pub, Buffer.from([0])]) }))]);
    cases.push(['signature blob trailing byte', armor(build({ ...f, sig: Buffer.concat([sigInner, Buffer.from([0])]) }))]);
    cases.push(['signature blob trailing string', armor(build({ ...f, sig: Buffer.concat([sigInner, str('')]) }))]);
    cases.push(['signature 63 bytes', armor(build({ ...f, sig: Buffer.concat([str('ssh-ed25519'), str(sigInner.subarray(19, 19 + 63))]) }))]);
    cases.push(['signature type rsa', armor(build({ ...f, sig: Buffer.concat([str('ssh-rsa'), sigInner.subarray(15)]) }))]);
    for (const cut of [5, 9, 12, 30, 51, 60, 70, 80, blob.length - 40, blob.length - 1]) cases.push([`truncated at ${cut}`, armor(blob.subarray(0, cut))]);
    // length fields too big (public key, namespace, reserved, hash, signature)
    let at = 10;
    for (const name of ['public key', 'namespace', 'reserved', 'hash', 'signature']) {
      const n = blob.readUInt32BE(at);
      for (const v of [n + 1, 0x7fffffff, 0xffffffff]) {
        const b = Buffer.from(blob);
        b.writeUInt32BE(v >>> 0, at);
        cases.push([`${name} length ${v}`, armor(b)]);
      }
      if (n > 0) {
        const b = Buffer.from(blob);
        b.writeUInt32BE(n - 1, at);
        cases.push([`${name} length ${n - 1}`, armor(b)]);
      }
      at += 4 + n;
    }
    // flipped bytes across the whole blob
    for (let i = 0; i < blob.length; i += 7) {
      const b = Buffer.from(blob);
      b[i] = b[i]! ^ (1 << i % 8);
      cases.push([`flip byte ${i}`, armor(b)]);
    }
    // armor and base64 mutations of the valid signature
    const lines = good.split('\n');
    const body = lines.slice(1, -2);
    const last = body[body.length - 1]!;
    cases.push(['no final newline', good.replace(/\n$/, '')]);
    cases.push(['two final newlines', good + '\n']);
    cases.push(['CRLF', good.replace(/\n/g, '\r\n')]);
    cases.push(['width 76', armor(blob, 76)]);
    cases.push(['width 64', armor(blob, 64)]);
    cases.push(['one long line', armor(blob, 10000)]);
    cases.push(['padding removed', good.replace(/=+\n-----END/, '\n-----END')]);
    cases.push(['extra padding', good.replace(/\n-----END/, '==\n-----END')]);
    cases.push(['space in base64', good.replace(body[0]!, `${body[0]!.slice(0, 10)} ${body[0]!.slice(10)}`)]);
    cases.push(['star in base64', good.replace(body[0]!, `${body[0]!.slice(0, 10)}*${body[0]!.slice(10)}`)]);
    cases.push(['base64url characters', good.replace(/\+/g, '-').replace(/\//g, '_')]);
    cases.push(['leading space on a line', good.replace(`\n${body[1]}`, `\n ${body[1]}`)]);
    cases.push(['blank line inside', good.replace(`\n${body[1]}`, `\n\n${body[1]}`)]);
    cases.push(['junk after END', good + 'junk\n']);
    cases.push(['junk before BEGIN', 'junk\n' + good]);
    cases.push(['lowercase header', good.replace('BEGIN SSH', 'begin ssh')]);
    cases.push(['no END line', lines.slice(0, -2).join('\n') + '\n']);
    // the last base64 character with non-zero spare bits (same bytes for a lenient decoder)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const m = /([A-Za-z0-9+/])(=+)$/.exec(last);
    if (m) {
      const c = alphabet[alphabet.indexOf(m[1]!) + 1]!;
      cases.push(['non-zero spare bits', good.replace(`${last}\n`, `${last.slice(0, -m[0].length)}${c}${m[2]}\n`)]);
    }
    expect(cases.length).toBeGreaterThanOrEqual(80);

    const sigFile = join(dir, 'msg.sig');
    let decided = 0;
    let deferred = 0;
    for (const [name, armored, msg = message] of cases) {
      writeFileSync(sigFile, armored);
      const r = spawnSync('ssh-keygen', ['-Y', 'verify', '-f', allowed, '-I', 'bot/x', '-n', 'git', '-s', sigFile], { input: msg, encoding: 'utf8' });
      const keygen = r.status === 0;
      const mine = verifySshsig(msg, armored);
      if (mine === null) {
        deferred++;
        continue;
      }
      decided++;
      expect(mine.valid, `${name}: in-process says ${mine.valid}, ssh-keygen says ${keygen} (${r.stderr.trim()})`).toBe(keygen);
    }
    expect(decided).toBeGreaterThan(15);
    expect(deferred).toBeGreaterThan(30);
    expect(verifySshsig(message, good)?.valid).toBe(true);
  });
});
