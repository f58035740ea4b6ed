/**
 * Bad input: files an agent (or a person) may leave in the state directory.
 * Checked: the exit code and message of the round that meets each one, that it
 * reaches the other instance intact (or, where policy says so, never leaves),
 * and that nothing is lost; the checker runs afterwards.
 *
 * To keep the number of rounds down the inputs that sync normally are written
 * together (phase 1: one round on each instance), then changed on both sides at
 * once (phase 2: one exchange); the inputs that stop a round (a held 200 MB
 * file, policy files) get rounds of their own.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/agents.js';
import { sh, type RunOut } from './proc.js';
import { codeIs, tail, type ScenarioDef } from './scenarios.js';
import { LOG, type Agent, type World } from './world.js';

const CONFIG = '.agentgit/config.json';

function hubShow(world: World, path: string): string | null {
  const r = sh('git', ['--git-dir', world.hub.repoPath, 'show', `main:${path}`], { env: { PATH: process.env.PATH } });
  return r.code === 0 ? r.stdout : null;
}

function hubHasObjectWith(world: World, needle: string): boolean {
  const r = sh('git', ['--git-dir', world.hub.repoPath, 'cat-file', '--batch-all-objects', '--batch'], { env: { PATH: process.env.PATH } });
  return r.stdout.includes(needle);
}

/** Record a log entry written by hand (not through Agent.entry) so that the checker verifies it. */
function recordEntry(world: World, a: Agent, file: string, line: string): void {
  world.rec.entries.push({ file, token: line, line, by: a.name, scenario: world.rec.scenario });
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

const ODD_NAMES = ['notes/with space.md', 'notes/new\nline.md', 'notes/ünïcödé 日本.md', 'notes/tab\there.md', `notes/quote"'.md`];
const LATIN1 = Buffer.from('caf\xe9 cr\xe8me br\xfbl\xe9e\n', 'latin1');
const BAD_UTF8_LOG = 'memory/2026-11-28.md';
const BOM_LOG = 'memory/2026-11-27.md';
const BIN_LOG = 'memory/2026-11-26.md';
const binary = (): Buffer => Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\rIHDR', 'latin1'), randomBytes(3000)]);

interface Step {
  name: string;
  ok: boolean;
}

export const badInput: ScenarioDef = {
  id: 'bad-input',
  title: 'bad input: invalid JSON, binary log, CRLF/BOM, invalid UTF-8, odd names, case rename, symlinks out, nested .git, 200 MB, broken policy',
  kinds: ['file', 'ssh', 'https'],
  async run({ world, v, notes }) {
    const [a, b] = world.agents as [Agent, Agent];
    const steps: Step[] = [];
    const step = async (name: string, f: () => Promise<void> | void): Promise<void> => {
      const before = v.list.length;
      try {
        await f();
      } catch (e) {
        v.list.push(`${name}: threw ${(e as Error).stack ?? String(e)}`);
      }
      steps.push({ name, ok: v.list.length === before });
    };
    let rounds = 0;
    const sync = async (x: Agent, what: string, codes = [0]): Promise<RunOut> => {
      rounds++;
      const r = await x.sync(['--wait', '60']);
      codeIs(v, r, codes, what);
      return r;
    };

    // ---------------------------------------------------------- phase 1: write them all, one round each side
    const outside = tempDir('agentgit-outside-');
    const secret = `OUTSIDE-${randomBytes(8).toString('hex')}`;
    writeFileSync(join(outside, 'secret.txt'), secret + '\n');
    const firstBin = binary();
    a.inst.write('settings.json', '{"theme": "dark",\n');
    a.inst.write(BIN_LOG, firstBin);
    a.inst.write(BOM_LOG, '\uFEFF# 2026-11-27\r\n\r\n- 09:00 a crlf first\r\n');
    recordEntry(world, a, BOM_LOG, '- 09:00 a crlf first');
    a.inst.write('crlf.json', '\uFEFF{\r\n  "a": 1,\r\n  "b": 1\r\n}\r\n');
    a.inst.write('notes/latin1.md', LATIN1);
    a.inst.write(BAD_UTF8_LOG, Buffer.from('# 28\n- 10:00 a caf\xe9\n', 'latin1'));
    ODD_NAMES.forEach((n, i) => a.inst.write(n, `name ${i}\n`));
    a.inst.write('notes/Case.md', 'case content\n');
    symlinkSync(join(outside, 'secret.txt'), a.path('notes/out-file'));
    symlinkSync(outside, a.path('notes/out-dir'));
    symlinkSync(`../../../../../../../../..${outside}/secret.txt`, a.path('notes/out-rel'));
    mkdirSync(a.path('tools/other'), { recursive: true });
    sh('git', ['init', '-q', a.path('tools/other')]);
    writeFileSync(a.path('tools/other/readme.md'), 'another repo\n');
    world.localOnly.add('tools');
    a.entry();
    const r1 = await sync(a, 'phase 1: the round that meets every input');
    notes.push(`phase 1: exit ${r1.code}; stderr: ${r1.stderr.trim().replace(/\n/g, ' | ') || '(none)'}`);
    await sync(b, 'phase 1: the other instance');

    await step('invalid JSON: committed, named, arrives intact', () => {
      v.expect(/settings\.json/.test(r1.stderr) && /valid JSON|invalid JSON|parse/i.test(r1.stderr), () => `invalid JSON: no message names settings.json as invalid JSON (it is committed silently and merges as a whole file): ${tail(r1)}`);
      v.expect(b.read('settings.json') === '{"theme": "dark",\n', 'invalid JSON: the other instance does not have the same bytes');
    });
    await step('binary file in a log path: arrives intact', () => {
      v.expect(readFileSync(b.path(BIN_LOG)).equals(firstBin), 'binary in a log path: the other instance has different bytes');
    });
    await step('invalid UTF-8: bytes arrive unchanged', () => {
      v.expect(readFileSync(b.path('notes/latin1.md')).equals(LATIN1), 'invalid UTF-8: the bytes changed on the way');
    });
    await step('file names with spaces, newlines, non-ASCII', () => {
      ODD_NAMES.forEach((n, i) => v.expect(existsSync(b.path(n)) && b.read(n) === `name ${i}\n`, `odd names: ${JSON.stringify(n)} did not arrive intact`));
    });
    await step('symlinks pointing outside: never followed, never committing outside content', () => {
      v.expect(!hubHasObjectWith(world, secret), 'symlink outside: the content behind the link reached the hub');
      for (const l of ['notes/out-file', 'notes/out-dir', 'notes/out-rel']) {
        if (existsSync(b.path(l))) v.expect(isLink(b.path(l)), `symlink outside: ${l} on the other instance is not a link`);
      }
    });
    await step('nested .git: named, not synced, left intact', () => {
      v.expect(/tools\/other\/? holds its own \.git/.test(r1.stderr), () => `nested .git: no message names tools/other: ${tail(r1)}`);
      v.expect(hubShow(world, 'tools/other/readme.md') === null, 'nested .git: the nested repo was synced');
      v.expect(existsSync(a.path('tools/other/.git')) && existsSync(a.path('tools/other/readme.md')), 'nested .git: the nested repo was damaged');
    });
    rmSync(a.path('tools'), { recursive: true, force: true });

    // ---------------------------------------------------------- phase 2: both sides change them at once
    b.inst.write('settings.json', '{"theme": "light"}\n');
    a.inst.write('settings.json', '{"theme": "dark", "font\n');
    a.inst.write(BIN_LOG, binary());
    b.inst.write(BIN_LOG, binary());
    a.inst.append(BOM_LOG, '- 09:10 a crlf second\r\n');
    b.inst.append(BOM_LOG, '- 09:05 b crlf third\r\n');
    recordEntry(world, a, BOM_LOG, '- 09:10 a crlf second');
    recordEntry(world, b, BOM_LOG, '- 09:05 b crlf third');
    a.inst.write('crlf.json', '\uFEFF{\r\n  "a": 2,\r\n  "b": 1\r\n}\r\n');
    b.inst.write('crlf.json', '\uFEFF{\r\n  "a": 1,\r\n  "b": 2\r\n}\r\n');
    appendFileSync(a.path(BAD_UTF8_LOG), Buffer.from('- 10:05 a na\xefve\n', 'latin1'));
    appendFileSync(b.path(BAD_UTF8_LOG), Buffer.from('- 10:06 b \xff\xfe odd\n', 'latin1'));
    renameSync(a.path('notes/Case.md'), a.path('notes/case.md'));
    const outside2 = tempDir('agentgit-outside2-');
    symlinkSync(outside2, b.path('notes/drop'));
    a.inst.write('notes/drop/x.md', 'from a\n');
    await sync(a, 'phase 2: a pushes');
    await sync(b, 'phase 2: b merges');

    await step('invalid JSON changed on both sides: one wins, the other is in the conflict record', () => {
      const kept = b.read('settings.json');
      const other = kept === '{"theme": "light"}\n' ? '{"theme": "dark", "font\n' : '{"theme": "light"}\n';
      const recs = b.read('.agentgit/conflicts.jsonl').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { path: string; loser: { value: string } });
      v.expect(
        recs.some((x) => x.path === 'settings.json' && x.loser.value === other),
        () => `invalid JSON: the losing version ${JSON.stringify(other)} is not in the conflict record (kept ${JSON.stringify(kept)})`,
      );
    });
    await step('CRLF and a BOM: entries once, BOM once, line endings kept, both key writes kept', () => {
      const log = b.read(BOM_LOG);
      v.expect(log.startsWith('\uFEFF') && log.indexOf('\uFEFF', 1) === -1, () => `CRLF+BOM: the BOM should stay once at the start: ${JSON.stringify(log.slice(0, 40))}`);
      v.expect(!/[^\r]\n/.test(log), () => `CRLF+BOM: line endings got mixed: ${JSON.stringify(log)}`);
      const j = b.read('crlf.json');
      let parsed: { a?: number; b?: number } = {};
      try {
        parsed = JSON.parse(j.replace(/^\uFEFF/, '')) as typeof parsed;
      } catch {
        v.expect(false, `CRLF+BOM: crlf.json is no longer JSON: ${JSON.stringify(j)}`);
      }
      v.expect(parsed.a === 2 && parsed.b === 2, () => `CRLF+BOM: both key writes should be kept: ${JSON.stringify(j)}`);
    });
    await step('invalid UTF-8 in a log: concurrent entries both kept', () => {
      const text = readFileSync(b.path(BAD_UTF8_LOG)).toString('latin1');
      for (const e of ['- 10:00 a caf\xe9', '- 10:05 a na\xefve', '- 10:06 b \xff\xfe odd']) {
        const n = text.split('\n').filter((l) => l === e).length;
        v.expect(n === 1, `invalid UTF-8 log: entry ${JSON.stringify(Buffer.from(e, 'latin1').toString('utf8'))} (bytes ${Buffer.from(e, 'latin1').toString('hex')}) appears ${n}× after a concurrent append (file: ${JSON.stringify(text)})`);
      }
    });
    await step('case-only rename', () => {
      const names = readdirSync(b.path('notes')).filter((n) => n.toLowerCase() === 'case.md');
      v.expect(names.length === 1 && names[0] === 'case.md' && b.read('notes/case.md') === 'case content\n', `case rename: the other instance has ${JSON.stringify(names)}`);
    });
    await step('a link in the work tree is never written through', () => {
      v.expect(readdirSync(outside2).length === 0, `write through a link: ${readdirSync(outside2).join(', ')} written outside the state directory`);
    });

    // ---------------------------------------------------------- 200 MB file: held, named, everything else syncs
    await step('200 MB file: held (exit 1, named), everything else syncs', async () => {
      const p = 'notes/huge.bin';
      writeFileSync(a.path(p), '');
      truncateSync(a.path(p), 200 * 1024 * 1024);
      world.localOnly.add(p);
      const e = a.entry();
      const r = await sync(a, '200 MB file', [1]);
      v.expect(/held notes\/huge\.bin: .*maxFileBytes/.test(r.stderr), () => `200 MB file: no "held" message naming it: ${tail(r)}`);
      v.expect(/everything else synced/.test(r.stderr), () => `200 MB file: should say everything else synced: ${tail(r)}`);
      notes.push(`200 MB file: exit ${r.code}; ${r.stderr.trim().split('\n')[0]}`);
      v.expect(hubShow(world, p) === null, '200 MB file: it reached the hub');
      v.expect((hubShow(world, LOG) ?? '').includes(e.line), '200 MB file: the entry written beside it did not reach the hub');
      const st = a.git(['status', '--porcelain']).trim();
      v.expect(st === `?? ${p}`, `200 MB file: besides the held file, uncommitted: ${st}`);
      rmSync(a.path(p));
      world.localOnly.delete(p);
      await sync(a, 'after removing the 200 MB file');
    });

    // ---------------------------------------------------------- policy file: empty, missing, broken
    // the shared policy emptied or deleted is held like a truncated log (docs/security.md)
    await step('empty and missing .agentgit/config.json: held, exit 1 naming it, entries still sync', async () => {
      const original = a.read(CONFIG);
      a.inst.write(CONFIG, '');
      const e = a.entry();
      let r = await sync(a, 'empty config', [1]);
      v.expect(/held \.agentgit\/config\.json: .*emptied/.test(r.stderr), () => `empty config: no "held" message naming it: ${tail(r)}`);
      rmSync(a.path(CONFIG));
      a.entry();
      r = await sync(a, 'missing config', [1]);
      v.expect(/held \.agentgit\/config\.json: .*deleted/.test(r.stderr), () => `missing config: no "held" message naming it: ${tail(r)}`);
      v.expect((hubShow(world, CONFIG) ?? '').trim() !== '', 'missing config: the deletion reached the hub');
      v.expect((hubShow(world, LOG) ?? '').includes(e.line), 'missing config: the entry written beside it did not reach the hub');
      await sync(b, 'missing config: the other instance');
      a.inst.write(CONFIG, original);
    });
    await step('policy file with errors: exit 1 naming the problem, nothing committed or lost; fixed: syncs', async () => {
      const original = a.read(CONFIG);
      const e = a.entry();
      const head = a.head();
      const bad: Array<[string, RegExp]> = [
        ['{"version": 1, "layers": [{"pattern": "x", "kind": "nope"}]}\n', /config\.json.*layers\[0\]\.kind/],
        ['{"version": 1,', /config\.json.*not valid JSON/],
        ['{"version": 1, "colour": "red"}\n', /config\.json.*unknown key "colour"/],
      ];
      for (const [text, re] of bad) {
        a.inst.write(CONFIG, text);
        const r = await sync(a, `bad policy ${JSON.stringify(text.trim())}`, [1]);
        v.expect(re.test(r.stderr), () => `bad policy: the message should name the problem (${re}): ${tail(r)}`);
        v.expect(a.read(LOG).includes(e.line), 'bad policy: the agent lost an entry');
        notes.push(`bad policy: exit ${r.code}; ${r.stderr.trim().split('\n')[0]}`);
      }
      v.expect(a.head() === head, 'bad policy: something was committed under a broken policy');
      a.inst.write(CONFIG, original);
      await sync(a, 'policy fixed');
      v.expect((hubShow(world, LOG) ?? '').includes(e.line), 'bad policy: the entry did not reach the hub once the policy was fixed');
    });
    notes.push(...steps.map((s) => `${s.name}: ${s.ok ? 'ok' : 'FAILED'}`));
    return { rounds, faults: steps.map((s) => s.name.split(':')[0]).join('; ') };
  },
};
