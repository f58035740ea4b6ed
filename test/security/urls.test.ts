/**
 * Issue #11, part C: credentials in remote URLs. Any user info in a URL
 * with a scheme is a credential, except ssh's user name: refused at init
 * and clone with a one-line fix, flagged by doctor, redacted everywhere.
 * Tokens here are FAKE (random characters of the right shape).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { credentialUrlMessage, redactUrl, redactUrlsIn, stripUserinfo, urlHasCredentials } from '../../src/git/url.js';
import { agentgit, cleanupTemp, git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

function fakeToken(): string {
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return 'ghp_' + [...randomBytes(36)].map((b) => alnum[b % alnum.length]).join('');
}

describe('which URLs carry a credential', () => {
  const tok = fakeToken();
  it.each([
    [`https://${tok}@github.com/me/x.git`, true, 'https://***@github.com/me/x.git'],
    ['https://user@host/x.git', true, 'https://***@host/x.git'],
    ['https://u:p@host:8443/x.git', true, 'https://***@host:8443/x.git'],
    ['http://oauth2:abc@host/x', true, 'http://***@host/x'],
    ['ssh://u:secret@host/x.git', true, 'ssh://***@host/x.git'],
    ['git@github.com:me/x.git', false, 'git@github.com:me/x.git'],
    ['ssh://git@host:2222/srv/x.git', false, 'ssh://git@host:2222/srv/x.git'],
    ['git+ssh://git@host/x.git', false, 'git+ssh://git@host/x.git'],
    ['https://github.com/me/x.git', false, 'https://github.com/me/x.git'],
    ['/srv/hub.git', false, '/srv/hub.git'],
    ['file:///srv/hub.git', false, 'file:///srv/hub.git'],
  ])('%s → %s', (url, cred, shown) => {
    expect(urlHasCredentials(url)).toBe(cred);
    expect(redactUrl(url)).toBe(shown);
    expect(redactUrlsIn(`fatal: unable to access '${url}/': denied`)).toBe(`fatal: unable to access '${shown}/': denied`);
  });

  it('the refusal is one line, names the clean URL and the credential helper, never the token', () => {
    const m = credentialUrlMessage(`https://${tok}@github.com/me/x.git`);
    expect(m.split('\n')).toHaveLength(1);
    expect(m).not.toContain(tok);
    expect(m).toContain('https://***@github.com/me/x.git');
    expect(m).toContain('use https://github.com/me/x.git');
    expect(m).toContain('credential.helper');
    expect(stripUserinfo('https://u:p@h/x')).toBe('https://h/x');
  });
});

describe('init and clone refuse, doctor flags, status redacts', () => {
  it.each(['token', 'user', 'user:password'])('init --remote with a %s in the URL: exit 2, one line, nothing configured', async (kind) => {
    const tok = fakeToken();
    const info = kind === 'token' ? tok : kind === 'user' ? 'kevin' : `kevin:${tok}`;
    const dir = join(tempDir(), 'state');
    const r = await agentgit(['init', '-C', dir, '--remote', `https://${info}@127.0.0.1:1/x.git`, '--agent', 'kevin', '--instance', 'a'], { env: testEnv(tempDir()) });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('https://***@127.0.0.1:1/x.git');
    expect(r.stderr).toContain('credential helper');
    expect(r.stderr + r.stdout).not.toContain(tok);
    expect(r.stderr + r.stdout).not.toContain('kevin@');
    expect(existsSync(dir)).toBe(false); // refused before anything was made
  });

  it('clone with a token in the URL: exit 2, no directory made, token never printed', async () => {
    const tok = fakeToken();
    const dir = join(tempDir(), 'clone');
    const r = await agentgit(['clone', `https://${tok}@127.0.0.1:1/x.git`, dir], { env: testEnv(tempDir()) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('https://***@127.0.0.1:1/x.git');
    expect(r.stderr + r.stdout).not.toContain(tok);
    expect(existsSync(dir)).toBe(false);
  });

  it('init adopting a repo whose origin carries a token: refused with the set-url fix', async () => {
    const tok = fakeToken();
    const dir = join(tempDir(), 'state');
    mkdirSync(dir, { recursive: true });
    const env = testEnv(tempDir());
    git(dir, ['init', '-q', '-b', 'main'], env);
    writeFileSync(join(dir, 'MEMORY.md'), 'm\n');
    git(dir, ['remote', 'add', 'origin', `https://${tok}@127.0.0.1:1/x.git`], env);
    const r = await agentgit(['init', '-C', dir, '--agent', 'kevin', '--instance', 'a'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('git remote set-url origin https://127.0.0.1:1/x.git');
    expect(r.stderr + r.stdout).not.toContain(tok);
  });

  it('a token put in the URL by hand afterwards: doctor flags it, status (text and --json) and sync errors redact it', async () => {
    const tok = fakeToken();
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': 'm\n' } });
    a.git(['remote', 'set-url', 'origin', `https://${tok}@127.0.0.1:1/x.git`]);

    const d = await a.run(['doctor', '--timeout', '5']);
    expect(d.code).toBe(1);
    expect(d.stdout).toMatch(/FAIL remote URL has no credentials: https:\/\/\*\*\*@127\.0\.0\.1:1\/x\.git carries/);
    expect(d.stdout).toContain('git remote set-url origin https://127.0.0.1:1/x.git');
    expect(d.stdout + d.stderr).not.toContain(tok);
    const dj = await a.run(['doctor', '--json', '--timeout', '5']);
    expect(dj.stdout + dj.stderr).not.toContain(tok);

    a.write('MEMORY.md', 'm2\n');
    const s = await a.sync(['--timeout', '10']);
    expect(s.code).not.toBe(0); // nothing listens on port 1
    expect(s.stdout + s.stderr).not.toContain(tok);
    const sj = await a.sync(['--json', '--timeout', '10']);
    expect(sj.stdout + sj.stderr).not.toContain(tok);

    const st = await a.run(['status', '--json']);
    expect(st.stdout).not.toContain(tok);
    expect(JSON.parse(st.stdout).hub).toBe('https://***@127.0.0.1:1/x.git');
    const text = await a.run(['status']);
    expect(text.stdout).toContain('hub https://***@127.0.0.1:1/x.git');
    expect(text.stdout + text.stderr).not.toContain(tok);
  });
});
