/** Sorting git's failures into temporary (75) and permanent (1), on git's real messages. */
import { describe, expect, it } from 'vitest';
import { GitError } from '../../src/git/exec.js';
import { classifyGitError } from '../../src/sync/round.js';

const err = (stderr: string, timedOut = false) => new GitError('git fetch failed', ['fetch'], 128, stderr, timedOut);

describe('classifyGitError', () => {
  it('a closed port is temporary, whatever digits the port has', () => {
    for (const port of [40101, 40301, 14013, 443]) {
      const k = classifyGitError(err(`fatal: unable to access 'https://127.0.0.1:${port}/agent.git/': Failed to connect to 127.0.0.1 port ${port} after 0 ms: Couldn't connect to server\n`));
      expect(k.temporary, `port ${port}: ${k.reason}`).toBe(true);
      expect(k.reason).toMatch(/^the hub is unreachable/);
    }
  });

  it('refused credentials are permanent and say so', () => {
    for (const s of [
      "fatal: unable to access 'https://h/agent.git/': The requested URL returned error: 403\n",
      "remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://h/agent.git/'\n",
      'git@127.0.0.1: Permission denied (publickey).\nfatal: Could not read from remote repository.\n',
      "fatal: could not read Username for 'https://h': terminal prompts disabled\n",
    ]) {
      const k = classifyGitError(err(s));
      expect(k.temporary, s).toBe(false);
      expect(k.reason).toMatch(/^the hub refused our credentials/);
    }
  });

  it('a push to a hub on a port with 401 in it, refused by its hook, is not called a credentials problem', () => {
    const k = classifyGitError(err("remote: refusing: frozen\nTo https://127.0.0.1:40101/agent.git\n ! [remote rejected] main -> main (pre-receive hook declined)\nerror: failed to push some refs to 'https://127.0.0.1:40101/agent.git'\n"));
    expect(k.reason).not.toMatch(/credentials/);
  });

  it('a deadline, a full hub disk and an HTTP 5xx are temporary', () => {
    expect(classifyGitError(err('', true)).temporary).toBe(true);
    expect(classifyGitError(err('remote: fatal: unable to write loose object file: No space left on device\n')).reason).toMatch(/disk is full/);
    expect(classifyGitError(err('error: RPC failed; HTTP 500 curl 22 The requested URL returned error: 500\n')).temporary).toBe(true);
  });
});
