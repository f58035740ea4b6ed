/**
 * Issue #13: permanent mistakes exit 1 with the cause and the fix; only
 * network-level failures exit 75; `--quiet` stays silent through a short
 * outage and says one line once it outlasts the lag threshold; a long
 * outage turns `status --check` to fail. Real git, real hubs, the real CLI.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GitError } from '../../src/git/exec.js';
import { classifyGitError } from '../../src/errors.js';
import { cleanupTemp, Instance, makeBareHub, tempDir } from '../helpers/agents.js';
import { closedPortUrl } from '../helpers/hubs.js';

afterAll(() => cleanupTemp());

const err = (stderr: string) => new GitError('git fetch failed', ['fetch'], 128, stderr, false);
const READ = 'fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n';

describe('classifyGitError: permanent mistakes are not "temporary"', () => {
  it('a path that is no repository, an unknown ssh alias, a repository the hub lacks: permanent, with the cause', () => {
    const cases: [string, RegExp][] = [
      [`fatal: '/srv/nope.git' does not appear to be a git repository\n${READ}`, /\/srv\/nope\.git is not a git repository.*git init --bare/],
      [`ssh: Could not resolve hostname myhub: Name or service not known\n${READ}`, /"myhub".*Host myhub.*ssh\/config/],
      ["remote: Repository not found.\nfatal: repository 'https://github.com/acme/agent.git/' not found\n", /no repository https:\/\/github\.com\/acme\/agent\.git\//],
      [`ERROR: Repository not found.\n${READ}`, /no repository .*Repository not found/],
    ];
    for (const [stderr, reason] of cases) {
      const k = classifyGitError(err(stderr));
      expect(k.temporary, stderr).toBe(false);
      expect(k.reason).toMatch(reason);
      expect(k.reason).not.toMatch(/Could not read from remote repository/);
    }
  });

  it('DNS trouble with a real host name, and refused connections, stay temporary', () => {
    for (const s of [
      `ssh: Could not resolve hostname hub.example.com: Name or service not known\n${READ}`,
      `ssh: Could not resolve hostname myhub: Temporary failure in name resolution\n${READ}`,
      `ssh: connect to host 127.0.0.1 port 22022: Connection refused\n${READ}`,
      "fatal: unable to access 'https://hub.example.com/agent.git/': Could not resolve host: hub.example.com\n",
    ]) {
      expect(classifyGitError(err(s)).temporary, s).toBe(true);
    }
  });
});

async function instanceWithHub(name: string): Promise<{ inst: Instance; hub: string; remote: string }> {
  const hub = makeBareHub();
  const inst = await Instance.init(hub, name, { files: { 'notes.md': '# notes\n' } });
  const remote = inst.git(['remote']).trim().split('\n')[0]!;
  return { inst, hub, remote };
}

function readStateFile(inst: Instance): Record<string, unknown> {
  return JSON.parse(readFileSync(join(inst.dir, '.git', 'agentgit', 'state.json'), 'utf8')) as Record<string, unknown>;
}

describe('sync against a wrong hub (real git)', () => {
  it('a hub path that does not exist: exit 1, names the path and the fix, even with --quiet', async () => {
    const { inst, remote } = await instanceWithHub('nopath');
    const missing = join(tempDir('agentgit-gone-'), 'hub.git');
    inst.git(['remote', 'set-url', remote, missing]);
    inst.write('notes.md', '# notes\n- one\n');
    const r = await inst.sync(['--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the hub ${missing} is not a git repository`);
    expect(r.stderr).toContain('git init --bare');
    expect(r.stderr).not.toMatch(/will retry/);
    // local work is committed all the same
    expect(inst.git(['log', '-1', '--format=%s'])).toMatch(/notes\.md|1 file/);
    expect(readStateFile(inst).temporarySince).toBeNull();
  });

  it('an ssh host alias that no ssh config defines: exit 1 with the alias and the fix', async () => {
    const { inst, remote } = await instanceWithHub('alias');
    const cfgDir = tempDir('agentgit-sshcfg-');
    const cfg = join(cfgDir, 'config');
    writeFileSync(cfg, 'Host some-other-hub\n  HostName 127.0.0.1\n  Port 1\n');
    inst.git(['remote', 'set-url', remote, 'agenthub:agent.git']);
    const env = { ...inst.env, GIT_SSH_COMMAND: `ssh -F ${cfg} -o BatchMode=yes` };
    const { agentgit } = await import('../helpers/agents.js');
    const r = await agentgit(['sync', '-C', inst.dir], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"agenthub"/);
    expect(r.stderr).toMatch(/Host agenthub/);
    const j = await agentgit(['sync', '-C', inst.dir, '--json'], { env });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, exitCode: 1 });
  });

  it('a dead port is temporary (75); --quiet is silent until the outage outlasts the lag threshold, then one line; status --check fails', async () => {
    const { inst, hub, remote } = await instanceWithHub('outage');
    inst.git(['remote', 'set-url', remote, closedPortUrl('ssh')]);
    const first = await inst.sync(['--quiet']);
    expect(first.code).toBe(75);
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe('');
    const since = readStateFile(inst).temporarySince as number;
    expect(typeof since).toBe('number');
    const again = await inst.sync(['--quiet']);
    expect(again.code).toBe(75);
    expect(again.stderr).toBe('');
    expect(readStateFile(inst).temporarySince).toBe(since); // the outage's start is kept

    // the outage began two hours ago (lag threshold: 900 s by default)
    const file = join(inst.dir, '.git', 'agentgit', 'state.json');
    const st = readStateFile(inst);
    st.temporarySince = since - 2 * 3600_000;
    writeFileSync(file, JSON.stringify(st));
    const late = await inst.sync(['--quiet']);
    expect(late.code).toBe(75);
    expect(late.stderr.trim().split('\n')).toHaveLength(1);
    expect(late.stderr).toMatch(/failed temporarily: the hub is unreachable/);
    const after = await inst.sync(['--quiet']);
    expect(after.code).toBe(75);
    expect(after.stderr).toBe(''); // once per threshold period, not every minute
    const check = await inst.run(['status', '--check']);
    expect(check.code).toBe(2);
    expect(check.stdout).toMatch(/failed temporarily/);

    // the hub comes back: the outage ends
    inst.git(['remote', 'set-url', remote, hub]);
    const ok = await inst.sync(['--quiet']);
    expect(ok.code).toBe(0);
    expect(readStateFile(inst).temporarySince).toBeNull();
  });
});
