/**
 * Key creation is atomic as a pair (src/identity/keys.ts): several processes
 * creating the same instance key at once end with one key pair whose public
 * half is the private key's (`ssh-keygen -y`), and every process reads that
 * pair; with ssh-keygen and without it (the in-process key); a holder killed
 * mid-way (its lock and temp directory left behind) blocks nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, ROOT, tempDir } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const KEYS = join(ROOT, 'dist', 'identity', 'keys.js');

/** `n` processes that load keys.js, wait for one signal, then ensureKey at the same moment; the public key each read. */
async function createAtOnce(home: string, n: number, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const go = join(home, 'go');
  const script = `
    const { ensureKey } = await import(${JSON.stringify(KEYS)});
    const { existsSync } = await import('node:fs');
    process.stdout.write('ready\\n');
    while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 1));
    const k = await ensureKey('kevin', 'a');
    process.stdout.write(k.publicKey + '\\n');`;
  let ready = 0;
  const runs = Array.from({ length: n }, () =>
    new Promise<{ code: number | null; out: string; err: string }>((res) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...env, AGENTGIT_HOME: home } });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out === 'ready\n' && ++ready === n) writeFileSync(go, '');
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => res({ code, out, err }));
    }),
  );
  const done = await Promise.all(runs);
  for (const d of done) expect(d.code, d.err).toBe(0);
  return done.map((d) => d.out.split('\n')[1]!.trim());
}

/** The key pair at home: the public key ssh-keygen derives from the private key, and the one in `.pub`. */
function pairAt(home: string): { derived: string; published: string } {
  const priv = join(home, 'keys', 'kevin--a_ed25519');
  const y = spawnSync('ssh-keygen', ['-y', '-f', priv], { encoding: 'utf8' });
  expect(y.status, y.stderr).toBe(0);
  const two = (line: string): string => line.trim().split(/\s+/).slice(0, 2).join(' ');
  return { derived: two(y.stdout), published: two(readFileSync(`${priv}.pub`, 'utf8')) };
}

describe('instance keys made by several processes at once', () => {
  it('one key pair, its public key the private key\'s, read alike by every process (ssh-keygen and in-process)', async () => {
    expect(existsSync(KEYS), 'npm run build first').toBe(true);
    // without ssh-keygen on PATH: the in-process key (node alone on PATH)
    const noKeygen = { ...process.env, PATH: dirname(process.execPath) };
    for (const env of [process.env, process.env, noKeygen, noKeygen]) {
      const home = tempDir('agentgit-keys-');
      const seen = await createAtOnce(home, 6, env);
      const { derived, published } = pairAt(home);
      expect(published).toBe(derived);
      for (const s of seen) expect(s.split(/\s+/).slice(0, 2).join(' ')).toBe(derived);
      expect(readdirSync(join(home, 'keys')).sort()).toEqual(['kevin--a_ed25519', 'kevin--a_ed25519.pub']);
    }
  }, 120_000);

  it('a creation killed mid-way (its lock and temp directory left behind) blocks nothing', async () => {
    const home = tempDir('agentgit-keys-');
    const keys = join(home, 'keys');
    mkdirSync(join(keys, 'kevin--a_ed25519.new-dead'), { recursive: true, mode: 0o700 });
    writeFileSync(join(keys, 'kevin--a_ed25519.new-dead', 'key'), 'half\n');
    // a lock whose holder is gone (a pid that cannot exist)
    writeFileSync(join(keys, 'kevin--a_ed25519.lock'), JSON.stringify({ pid: 2 ** 22 + 1, start: '', host: (await import('node:os')).hostname(), since: 0 }) + '\n');
    const [seen] = await createAtOnce(home, 1);
    const { derived, published } = pairAt(home);
    expect(published).toBe(derived);
    expect(seen!.split(/\s+/).slice(0, 2).join(' ')).toBe(derived);
    expect(readdirSync(keys).sort()).toEqual(['kevin--a_ed25519', 'kevin--a_ed25519.pub']);
  }, 60_000);
});
