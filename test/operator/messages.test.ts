/**
 * Issue #13, messages and help, through the real `bin/agentgit`: every
 * command's --help shows -C, an example and the exit codes; bare agentgit
 * lists every command; a typo gets a did-you-mean; --json commands print a
 * JSON object on error; `agentgit log | head` ends quietly; status prints
 * the admission command whole; init shows progress on a terminal only. (`npm run build` being quiet is not tested
 * here: rebuilding dist/ under the other test files that run bin/agentgit
 * would break them.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentgit, BIN, cleanupTemp, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const COMMANDS = ['init', 'clone', 'sync', 'status', 'log', 'conflicts', 'rebuild', 'doctor', 'trust', 'identity', 'verify', 'policy', 'instances', 'watch', 'pause', 'resume', 'schedule', 'lease'];

describe('help', () => {
  it('every command: its options with -C (where it takes one), an example, the exit codes', async () => {
    for (const c of COMMANDS) {
      const r = await agentgit([c, '--help']);
      expect(r.code, c).toBe(0);
      if (c !== 'clone') expect(r.stdout, c).toMatch(/^\s+-C\s+run as if agentgit was started in DIR/m);
      expect(r.stdout, c).toMatch(/Examples:\n.*agentgit /);
      expect(r.stdout, c).toMatch(c === 'watch' ? /Exit codes: 0 stopped by SIGTERM/ : /Exit codes: 0 ok/); // a watcher's rounds are retried, it never exits 75
      if (c !== 'status' && c !== 'watch') expect(r.stdout, c).toMatch(/75 temporary/);
    }
    const help = await agentgit(['help', 'sync']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--quiet/);
  });

  it('bare agentgit lists every command (exit 2); a typo gets a did-you-mean (exit 2)', async () => {
    const bare = await agentgit([]);
    expect(bare.code).toBe(2);
    for (const c of COMMANDS) expect(bare.stderr, c).toMatch(new RegExp(`^\\s+agentgit ${c}\\b`, 'm'));
    expect(bare.stderr).toMatch(/Exit codes:/);
    const typo = await agentgit(['stauts']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown command 'stauts'\. Did you mean status\?/);
  });
});

describe('errors with --json', () => {
  it('a failure and a usage error print one JSON object with ok, error and exitCode', async () => {
    const dir = tempDir('agentgit-notrepo-');
    for (const args of [
      ['status', '-C', dir, '--json'],
      ['log', '-C', dir, '--json'],
      ['conflicts', '-C', dir, '--json'],
      ['verify', '-C', dir, '--json'],
    ]) {
      const r = await agentgit(args);
      expect(r.code, args.join(' ')).toBe(1);
      const j = JSON.parse(r.stdout) as { ok: boolean; error: string; exitCode: number };
      expect(j).toMatchObject({ ok: false, exitCode: 1 });
      expect(j.error).toMatch(/not (in )?an agentgit repo/);
    }
    const usage = await agentgit(['sync', '-C', dir, '--json', '--timeout', '0']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toMatchObject({ ok: false, exitCode: 2 });
    // clone of a hub that is not there: JSON, exit 1, the git command named (not its `-c` options), nothing made
    const target = join(tempDir(), 'never');
    const clone = await agentgit(['clone', join(dir, 'no-hub.git'), target, '--json'], { env: testEnv(tempDir()) });
    expect(clone.code).toBe(1);
    expect(JSON.parse(clone.stdout)).toMatchObject({ ok: false, exitCode: 1, error: expect.stringMatching(/^git clone failed: .*no-hub\.git/) });
    const unknown = await agentgit(['status', '--json', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ ok: false, exitCode: 2, error: expect.stringMatching(/bogus/) });
  });
});

describe('output', () => {
  it('`agentgit log | head -1` ends quietly (no EPIPE crash)', async () => {
    const inst = await Instance.init(makeBareHub(), 'pipe', { files: { 'notes.md': '# notes\n' } });
    // 3,000 commits through fast-import: far more log than a pipe buffer holds
    const branch = inst.git(['rev-parse', '--abbrev-ref', 'HEAD']).trim();
    let stream = '';
    for (let i = 0; i < 3000; i++) {
      const body = `# notes\n- ${i}\n`;
      stream += `commit refs/heads/${branch}\ncommitter t <t@t> ${1700000000 + i} +0000\ndata 5\nnote ${i === 0 ? `\nfrom ${branch}^0` : ''}\nM 100644 inline notes.md\ndata ${Buffer.byteLength(body)}\n${body}\n`;
    }
    const fi = spawnSync('git', ['fast-import', '--quiet'], { cwd: inst.dir, input: stream, env: inst.env, encoding: 'utf8' });
    expect(fi.status, fi.stderr).toBe(0);
    inst.git(['reset', '-q', '--hard']);
    const r = await new Promise<{ code: number | null; stderr: string; lines: number }>((resolve) => {
      const p = spawn('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" log -C "${inst.dir}" --max 3000 | head -1`], { env: inst.env });
      let out = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stderr, lines: out.split('\n').filter(Boolean).length }));
    });
    expect(r.stderr).toBe('');
    expect(r.lines).toBe(1);
    expect(r.code).toBe(0);
  }, 120_000);

  it('status shows the whole admission message, command included', async () => {
    const hub = makeBareHub();
    await Instance.init(hub, 'founder', { files: { 'notes.md': '# notes\n' } });
    const nu = await Instance.clone(hub, 'newbie', { admitBy: null });
    nu.write('notes.md', '# notes\n- from newbie\n');
    const s = await nu.sync();
    expect(s.code).toBe(1);
    const st = await nu.run(['status']);
    expect(st.stdout).toMatch(/agentgit trust add '[^']+newbie[^']*'/);
    expect(st.stdout).toMatch(/fail: the last sync failed: this instance is not admitted yet.* agentgit trust add '[^']+newbie[^']*'/);
  });

  it.skipIf(spawnSync('script', ['--version']).status !== 0)('init shows progress on a terminal (stderr), never without one or with --json', async () => {
    const make = (): { dir: string; env: NodeJS.ProcessEnv } => {
      const dir = join(tempDir('agentgit-progress-'), 'state');
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < 300; i++) writeFileSync(join(dir, `f${i}.md`), `file ${i}\n`);
      return { dir, env: testEnv(tempDir()) };
    };
    const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const onTty = (args: string[], env: NodeJS.ProcessEnv): string =>
      spawnSync('script', ['-qec', [process.execPath, BIN, ...args].map(quote).join(' '), '/dev/null'], { env, encoding: 'utf8' }).stdout;
    const t = make();
    const tty = onTty(['init', '-C', t.dir, '--agent', 'k', '--instance', 'tty'], t.env);
    expect(tty).toMatch(/\ragentgit: committing: \d+% \(\d+\/30\d files\)/);
    expect(tty).toMatch(/100% \(30\d\/30\d files\)/);
    const j = make();
    expect(onTty(['init', '-C', j.dir, '--agent', 'k', '--instance', 'json', '--json'], j.env)).not.toMatch(/committing/);
    const p = make();
    const piped = await agentgit(['init', '-C', p.dir, '--agent', 'k', '--instance', 'pipe'], { env: p.env });
    expect(piped.code).toBe(0);
    expect(piped.stderr + piped.stdout).not.toMatch(/committing/);
  });
});
