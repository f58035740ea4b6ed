/**
 * The ed25519 key made in-process when there is no ssh-keygen (slim
 * containers, the isomorphic-git engine) is one ssh-keygen reads: the same
 * public key from `ssh-keygen -y`, and a signature made with it by
 * `ssh-keygen -Y sign` verifies in-process, and one made in-process
 * verifies with `ssh-keygen -Y verify`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSigningKey, newEd25519Key, signSshsig, verifySshsig } from '../../../src/identity/sshsig.js';
import { cleanupTemp, tempDir } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());

describe('an ed25519 key made in-process', () => {
  it('is read by ssh-keygen, and signatures cross both ways', () => {
    const dir = tempDir();
    const k = newEd25519Key('agent/one');
    const priv = join(dir, 'key');
    writeFileSync(priv, k.privateText, { mode: 0o600 });
    writeFileSync(`${priv}.pub`, k.publicLine);
    const y = spawnSync('ssh-keygen', ['-y', '-f', priv], { encoding: 'utf8' });
    expect(y.status, y.stderr).toBe(0);
    expect(y.stdout.trim().split(' ').slice(0, 2)).toEqual(k.publicLine.trim().split(' ').slice(0, 2));
    const msg = join(dir, 'msg');
    writeFileSync(msg, 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nhello\n');
    // ssh-keygen signs, we verify
    expect(spawnSync('ssh-keygen', ['-Y', 'sign', '-n', 'git', '-f', priv, msg], { encoding: 'utf8' }).status).toBe(0);
    const theirs = verifySshsig(readFileSync(msg), readFileSync(`${msg}.sig`, 'utf8'));
    expect(theirs?.valid).toBe(true);
    // we sign, ssh-keygen verifies
    const ours = signSshsig(readFileSync(msg), loadSigningKey(priv)!);
    writeFileSync(`${msg}.ours`, ours);
    writeFileSync(join(dir, 'allowed'), `agent/one ${k.publicLine.trim().split(' ').slice(0, 2).join(' ')}\n`);
    const v = spawnSync('ssh-keygen', ['-Y', 'verify', '-f', join(dir, 'allowed'), '-I', 'agent/one', '-n', 'git', '-s', `${msg}.ours`], { input: readFileSync(msg), encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
  });
});
