/**
 * AGENTGIT_TOKEN goes only to the configured hub's host (scheme, host and
 * port of `remote.<agentgit.remote or origin>.url`); before a hub remote
 * exists (clone, init --remote) the URL given is the hub.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { credentialFor } from '../../../src/git/iso/credentials.js';
import { cleanupTemp, git, tempDir, testEnv } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());
const home = tempDir();
const env = { ...testEnv(home), AGENTGIT_TOKEN: 'tok' };
const token = { username: 'x-access-token', password: 'tok' };

describe('AGENTGIT_TOKEN scope', () => {
  it('is sent to the configured hub host only', () => {
    const dir = join(tempDir(), 'r');
    git(tempDir(), ['init', '-q', dir], env);
    git(dir, ['remote', 'add', 'origin', 'https://hub.example.com/team/state.git'], env);
    const gitDir = join(dir, '.git');
    expect(credentialFor('https://hub.example.com/team/state.git', gitDir, env)).toEqual(token);
    expect(credentialFor('https://HUB.example.com/other.git', gitDir, env)).toEqual(token);
    expect(credentialFor('https://evil.example.com/team/state.git', gitDir, env)).toBeNull();
    expect(credentialFor('https://hub.example.com:8443/team/state.git', gitDir, env)).toBeNull();
    // agentgit.remote names another remote: its host is the hub
    git(dir, ['remote', 'add', 'hub', 'https://git.internal:8443/s.git'], env);
    git(dir, ['config', 'agentgit.remote', 'hub'], env);
    expect(credentialFor('https://git.internal:8443/s.git', gitDir, env)).toEqual(token);
    expect(credentialFor('https://hub.example.com/team/state.git', gitDir, env)).toBeNull();
  });

  it('before a hub remote exists (clone, init --remote), the URL given is the hub', () => {
    expect(credentialFor('https://anywhere.example.com/x.git', null, env)).toEqual(token);
    const dir = join(tempDir(), 'fresh');
    git(tempDir(), ['init', '-q', dir], env);
    expect(credentialFor('https://anywhere.example.com/x.git', join(dir, '.git'), env)).toEqual(token);
  });
});
