/**
 * In-process SSH signatures against the real tools: what agentgit signs,
 * ssh-keygen and git verify; what ssh-keygen signs, agentgit verifies; a
 * tampered payload fails; keys it cannot use are refused (git signs then).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commitPayload, splitSignature, withSignature, writeObject } from '../../src/git/objects.js';
import { parseSigningKey, signSshsig, verifySshsig } from '../../src/identity/sshsig.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

function keygen(dir: string, name: string, passphrase = ''): string {
  const f = join(dir, name);
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'bot/x', '-f', f], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return f;
}

function sshVerify(dir: string, pubFile: string, message: string, armored: string): { status: number | null; out: string } {
  const allowed = join(dir, 'allowed');
  writeFileSync(allowed, `bot/x namespaces="git" ${readFileSync(pubFile, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
  const sig = join(dir, 'msg.sig');
  writeFileSync(sig, armored);
  const r = spawnSync('ssh-keygen', ['-Y', 'verify', '-f', allowed, '-I', 'bot/x', '-n', 'git', '-s', sig], { input: message, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('SSH signatures in-process', () => {
  it('what agentgit signs, ssh-keygen -Y verify accepts; a changed message is refused', () => {
    const dir = tempDir();
    const priv = keygen(dir, 'k');
    const key = parseSigningKey(readFileSync(priv, 'utf8'));
    expect(key).not.toBeNull();
    const message = 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nhello ünïcode\n';
    const armored = signSshsig(message, key!);
    const ok = sshVerify(dir, `${priv}.pub`, message, armored);
    expect(ok.status, ok.out).toBe(0);
    expect(ok.out).toContain('Good "git" signature for bot/x');
    const bad = sshVerify(dir, `${priv}.pub`, message + 'x', armored);
    expect(bad.status).not.toBe(0);
  });

  it('what ssh-keygen -Y sign makes, agentgit verifies, with the fingerprint git prints', () => {
    const dir = tempDir();
    const priv = keygen(dir, 'k');
    const message = 'payload\nline two\n';
    writeFileSync(join(dir, 'm'), message);
    const r = spawnSync('ssh-keygen', ['-Y', 'sign', '-f', priv, '-n', 'git', join(dir, 'm')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const armored = readFileSync(join(dir, 'm.sig'), 'utf8');
    const fp = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${priv}.pub`], { encoding: 'utf8' }).stdout.split(' ')[1];
    const good = verifySshsig(message, armored);
    expect(good).toMatchObject({ valid: true, fingerprint: fp });
    expect(verifySshsig(message.replace('two', ' two'), armored)?.valid).toBe(false);
    expect(verifySshsig(message, armored, 'file')?.valid).toBe(false); // another namespace
    expect(verifySshsig(message, 'not a signature')).toBeNull();
  });

  it('an encrypted key or another key type is not used in-process', () => {
    const dir = tempDir();
    expect(parseSigningKey(readFileSync(keygen(dir, 'enc', 'secret phrase'), 'utf8'))).toBeNull();
    const rsa = join(dir, 'rsa');
    spawnSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsa]);
    expect(parseSigningKey(readFileSync(rsa, 'utf8'))).toBeNull();
    expect(parseSigningKey('garbage')).toBeNull();
  });

  it('a commit built and signed in-process passes git verify-commit and fsck; the payload splits back out', async () => {
    const dir = tempDir();
    const priv = keygen(dir, 'k');
    const repo = join(dir, 'repo');
    const env = testEnv(tempDir());
    git(dir, ['init', '-q', '-b', 'main', repo], env);
    const key = parseSigningKey(readFileSync(priv, 'utf8'))!;
    const tree = spawnSync('git', ['mktree'], { cwd: repo, env, input: '', encoding: 'utf8' }).stdout.trim();
    const ident = { name: 'bot/x', email: 'x@bot.agentgit.invalid' };
    const payload = commitPayload({ tree, parents: [], author: ident, committer: ident, when: Date.now(), message: 'agentgit: test\n\nAgentgit-Instance: x\n' });
    const text = withSignature(payload, signSshsig(payload, key));
    expect(splitSignature(text).payload).toBe(payload);
    const oid = await writeObject(join(repo, '.git'), 'commit', Buffer.from(text));
    git(repo, ['update-ref', 'refs/heads/main', oid], env);
    writeFileSync(join(dir, 'allowed'), `bot/x namespaces="git" ${readFileSync(`${priv}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const v = spawnSync('git', ['-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${join(dir, 'allowed')}`, 'verify-commit', oid], { cwd: repo, env, encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stderr).toContain('Good "git" signature for bot/x');
    expect(git(repo, ['fsck', '--strict'], env)).toBe('');
    expect(git(repo, ['log', '--format=%an|%ae|%s'], env)).toBe('bot/x|x@bot.agentgit.invalid|agentgit: test\n');
  });
});
