/**
 * `agentgit doctor`: checks what cron needs, each finding with its fix.
 * Exit 0 when everything passes, 1 when something needs a person.
 */
import { stat } from 'node:fs/promises';
import { Repo } from '../git/repo.js';
import { redactUrl, stripUserinfo, urlHasCredentials } from '../git/url.js';
import { openContext } from '../sync/context.js';
import { signersAt } from '../identity/admission.js';
import { fingerprint, loadKey, MissingKeyError } from '../identity/keys.js';
import { signerLine } from '../identity/signers.js';
import { redactSecrets } from '../sync/secrets.js';
import { driverCommand } from '../sync/setup.js';
import { printJson } from './output.js';

interface Finding {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export async function doctorCommand(a: { C: string; json: boolean; timeout: number }): Promise<void> {
  const findings: Finding[] = [];
  const v = await Repo.engineVersion();
  const m = v === null ? null : /^(\d+)\.(\d+)/.exec(v);
  const iso = v?.startsWith('isomorphic-git ') ?? false; // the in-process engine (docs/engines.md): no git binary needed
  const okGit = iso || (!!m && (Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 34)));
  findings.push({ check: 'git version', ok: okGit, detail: iso ? `${v} (in-process engine; no git binary needed)` : v ? `git version ${v}` : 'git not found', fix: okGit ? undefined : 'install git 2.34 or newer and put it on the PATH cron uses' });

  const ctx = await openContext(a.C);
  const { repo, policy, settings, config } = ctx;
  try {
    // the engine chosen when the repo was opened (git/backend.ts, docs/engines.md): informational, never a failure
    const caps = repo.caps;
    findings.push({
      check: 'git engine',
      ok: true,
      detail: `${caps.engine}; object format ${caps.objectFormat}, refs in ${caps.refStorage}; fast paths ${caps.fastPaths ? 'on' : 'off'} (${caps.why})`,
    });
    for (const k of ['log', 'json', 'text', 'binary']) {
      const cur = config.get(`merge.agentgit-${k}.driver`);
      const ok = cur === driverCommand(k);
      findings.push({ check: `merge driver agentgit-${k}`, ok, detail: cur ?? 'not registered', fix: ok ? undefined : 'run `agentgit init` (or any sync) to register it' });
    }
    // attributes match the policy: check one path per kind the policy names
    const samples = ['memory/2026-01-01.md', 'mission-control/tasks.json', 'MEMORY.md'];
    const attrs = await repo.checkAttr('merge', samples);
    for (const s of samples) {
      const want = `agentgit-${policy.kindOf(s)}`;
      const value = attrs.get(s);
      const line = value === undefined ? '' : `${s}: merge: ${value}`;
      const ok = value === want;
      findings.push({ check: `attributes for ${s}`, ok, detail: line || 'none', fix: ok ? undefined : 'run `agentgit init` to rewrite .gitattributes and .git/info/attributes' });
    }
    const url = config.get(`remote.${settings.remote}.url`);
    if (!url) {
      findings.push({ check: 'hub', ok: false, detail: 'no hub configured', fix: '`agentgit init --remote URL`' });
    } else {
      // any user info but ssh's user name is a credential (git/url.ts)
      const cred = urlHasCredentials(url);
      findings.push({
        check: 'remote URL has no credentials',
        ok: !cred,
        detail: cred ? `${redactUrl(url)} carries a user name, token or password (git keeps it in clear in .git/config)` : 'ok',
        fix: cred ? `\`git remote set-url ${settings.remote} ${stripUserinfo(url)}\` and keep the token in a credential helper (\`git config --global credential.helper store\`), or use ssh with a deploy key; if it was a token, rotate it` : undefined,
      });
      const t0 = Date.now();
      const r = await repo.lsRemote(settings.remote, 'heads', { timeoutMs: a.timeout * 1000 }).catch((e: Error) => ({ code: -1, stderr: e.message }));
      findings.push({
        check: 'hub reachable without prompting',
        ok: r.code === 0,
        detail: r.code === 0 ? `answered in ${Date.now() - t0} ms` : redactSecrets(r.stderr.split('\n').find((l) => l.trim()) ?? 'failed'),
        fix: r.code === 0 ? undefined : 'for ssh: a deploy key in ~/.ssh/config for the hub host (cron has no ssh-agent); for https: a credential helper. Test with `GIT_TERMINAL_PROMPT=0 git ls-remote`',
      });
    }
    const key = config.get('user.signingkey');
    const principal = `${settings.agent}/${settings.instance}`;
    const k = key ? await loadKey(key, principal).catch((e: Error) => e) : new MissingKeyError('(none configured)', principal);
    if (k instanceof Error) {
      findings.push({ check: 'signing key present', ok: false, detail: !key ? 'no signing key configured (user.signingkey)' : k instanceof MissingKeyError ? `${k.file} does not exist` : k.message, fix: 'put the key back with `agentgit identity import FILE`; if it is lost for good, `agentgit init --new-key` makes a new one, which an admitted instance must admit with `agentgit trust add`' });
    } else {
      const st = await stat(k.privatePath).catch(() => null);
      const ok = !!st && (st.mode & 0o077) === 0;
      findings.push({ check: 'signing key permissions', ok, detail: st ? `mode ${(st.mode & 0o777).toString(8)}` : `${k.privatePath} missing`, fix: ok ? undefined : `chmod 600 ${k.privatePath} (or \`agentgit identity import\` it again)` });
      const head = await repo.revParse('HEAD');
      const signers = head ? await signersAt(repo, head) : [];
      if (signers.length > 0) {
        const fp = fingerprint(k.publicKey);
        const mine = signers.find((s) => s.fingerprint === fp);
        findings.push({
          check: 'signing key admitted',
          ok: !!mine,
          detail: mine ? `${fp} as ${mine.principal}` : `${fp} is not in .agentgit/allowed_signers: this instance pushes nothing`,
          fix: mine ? undefined : `on an admitted instance run: agentgit trust add '${signerLine(principal, k.publicKey)}' (or, if this instance's old key still exists somewhere, \`agentgit identity import\` it)`,
        });
      }
    }
  } finally {
    repo.close();
  }
  const bad = findings.filter((f) => !f.ok);
  if (a.json) printJson({ ok: bad.length === 0, findings });
  else for (const f of findings) process.stdout.write(`${f.ok ? 'ok  ' : 'FAIL'} ${f.check}: ${f.detail}${f.fix ? `\n     fix: ${f.fix}` : ''}\n`);
  process.exitCode = bad.length ? 1 : 0;
}
