import { describe, expect, it } from 'vitest';
import { baseline, effectiveConfig, effectivePolicy, ratchet, riskyChanges, samplePaths } from '../../src/policy/consent.js';
import { parsePolicy, Policy, PolicyError } from '../../src/policy/policy.js';
import { checkFile } from '../../src/sync/guard.js';

const P = (o: object) => parsePolicy(JSON.stringify(o));
const keys = (a: object, b: object) => [...new Set(riskyChanges(P(a), P(b)).map((c) => c.key))];

describe('policy consent: what needs a machine operator to accept', () => {
  it('each relaxation is pending; the same policy is not', () => {
    expect(keys({}, {})).toEqual([]);
    expect(keys({}, { rebuild: { command: ['touch', 'pwned'] } })).toEqual(['rebuild.command']);
    expect(keys({ rebuild: { command: ['a'] } }, { rebuild: { command: ['b'] } })).toEqual(['rebuild.command']);
    expect(keys({ rebuild: { command: ['a'] } }, { rebuild: { command: ['a'], paths: ['x/'], timeoutSeconds: 9 } })).toEqual([]);
    expect(keys({}, { defaults: false })).toContain('defaults');
    expect(keys({ secrets: ['private/'] }, {})).toEqual(['secrets']);
    expect(keys({}, { logs: { allowRewrite: ['**'] } })).toEqual(['logs.allowRewrite']);
    expect(keys({}, { maxFileBytes: 1e12 })).toEqual(['maxFileBytes']);
    expect(keys({}, { trust: { openEnrollment: true } })).toEqual(['trust.openEnrollment']);
  });

  it('a rule that moves a local or secret path into a synced layer is pending, catch-all or narrow', () => {
    expect(keys({}, { layers: [{ pattern: '**', kind: 'text' }] })).toEqual(['layers[0]']);
    expect(keys({}, { layers: [{ pattern: 'sessions/**', kind: 'log' }] })).toEqual(['layers[0]']);
    expect(keys({}, { layers: [{ pattern: '*.sqlite', kind: 'binary' }] })).toEqual(['layers[0]']);
    // a local rule the machine accepted stays local
    expect(keys({ layers: [{ pattern: 'scratch/', kind: 'local' }] }, {})).toEqual(['layers']);
    // secret globs (defaults) are never moved by a rule: no change to report
    expect(keys({}, { layers: [{ pattern: '.env', kind: 'text' }] })).toEqual([]);
    const what = riskyChanges(baseline(), P({ layers: [{ pattern: '**', kind: 'text' }] }))[0]!.what;
    expect(what).toMatch(/"\*\*" \(text\) would sync/);
  });

  it('a rule that turns a log into a doc is pending, and the commit guard keeps guarding its entries', () => {
    const hostile = P({ layers: [{ pattern: 'memory/**', kind: 'text' }] });
    const changes = riskyChanges(baseline(), hostile);
    expect([...new Set(changes.map((c) => c.key))]).toEqual(['layers[0]']);
    expect(changes.some((c) => /stop guarding the entries of log "memory\/HISTORY.md"/.test(c.what))).toBe(true);
    expect(changes.some((c) => /would sync "memory\/.dreams\/x"/.test(c.what))).toBe(true); // and the derived dreams
    const p = effectivePolicy(baseline(), hostile);
    expect(p.guardsEntries('memory/HISTORY.md')).toBe(true);
    const before = Buffer.from('# History\n\n- one\n- two\n');
    const h = checkFile(p, { path: 'memory/HISTORY.md', before, after: Buffer.from('# History\n'), size: 10 });
    expect(h?.reason).toBe('log-rewrite');
    // without the floor (the hostile policy alone) the truncation would go out
    expect(checkFile(new Policy(hostile), { path: 'memory/HISTORY.md', before, after: Buffer.from('# History\n'), size: 10 })).toBeNull();
  });

  it('tightenings need no consent', () => {
    expect(keys({}, { secrets: ['private/'] })).toEqual([]);
    expect(keys({ logs: { allowRewrite: ['a.jsonl', 'b.jsonl'] } }, { logs: { allowRewrite: ['a.jsonl'] } })).toEqual([]);
    expect(keys({ maxFileBytes: 1000 }, { maxFileBytes: 10 })).toEqual([]);
    expect(keys({ rebuild: { command: ['a'] } }, {})).toEqual([]);
    expect(keys({ defaults: false }, {})).toEqual([]);
    expect(keys({}, { layers: [{ pattern: 'cache/', kind: 'local' }] })).toEqual([]);
    expect(keys({ trust: { openEnrollment: true } }, {})).toEqual([]);
  });

  it('the effective policy is the new one without its relaxations (fail closed)', () => {
    const accepted = P({ secrets: ['private/'], rebuild: { command: ['ok'] }, logs: { allowRewrite: ['a.jsonl'] }, maxFileBytes: 100 });
    const hostile = P({
      defaults: false,
      layers: [{ pattern: '**', kind: 'text' }],
      rebuild: { command: ['sh', '-c', 'evil'] },
      logs: { allowRewrite: ['**'] },
      maxFileBytes: 1e12,
      trust: { openEnrollment: true },
      secrets: ['more/'],
    });
    const e = effectiveConfig(accepted, hostile);
    expect(e.rebuild?.command).toEqual(['ok']);
    expect(e.defaults).toBe(true);
    expect(e.logs.allowRewrite).toEqual([]);
    expect(e.maxFileBytes).toBe(100);
    expect(e.trust.openEnrollment).toBe(false);
    expect(e.secrets.sort()).toEqual(['more/', 'private/']);
    const p = effectivePolicy(accepted, hostile);
    for (const path of ['sessions/x.json', 'index.sqlite', 'd/index.sqlite', 'memory/.dreams/a', 'cron/jobs.json', 'x.lock']) expect(`${path}: ${p.kindOf(path)}`).toBe(`${path}: local`);
    for (const path of ['private/k', 'more/k', '.env']) expect(p.isSecretPath(path)).toBe(true);
    // what the accepted policy syncs follows the new rules
    expect(p.kindOf('notes.md')).toBe('text');
    expect(p.kindOf('memory/2026-01-01.md')).toBe('text');
    // the hostile policy on its own would publish them
    expect(new Policy(hostile).kindOf('sessions/x.json')).toBe('text');
    expect(p.allowsLogRewrite('memory/HISTORY.md')).toBe(false);
  });

  it('a deleted policy file (the defaults) keeps the accepted secret globs and local rules', () => {
    const accepted = P({ secrets: ['private/'], layers: [{ pattern: 'scratch/', kind: 'local' }] });
    const p = effectivePolicy(accepted, parsePolicy(null));
    expect(p.isSecretPath('private/key.txt')).toBe(true);
    expect(p.kindOf('scratch/a.md')).toBe('local');
    expect(riskyChanges(accepted, parsePolicy('')).map((c) => c.key)).toEqual(['secrets', 'layers']);
  });

  it('ratchet: tightenings become accepted; relaxations do not', () => {
    const a = baseline();
    const tighter = P({ secrets: ['private/'] });
    expect(ratchet(a, tighter)).toEqual(tighter);
    const mixed = P({ secrets: ['private/', 'more/'], rebuild: { command: ['evil'] } });
    const r = ratchet(tighter, mixed);
    expect(r.secrets.sort()).toEqual(['more/', 'private/']);
    expect(r.rebuild).toBeNull();
    // a later commit removing "more/" is pending against the ratcheted record
    expect(riskyChanges(r, P({ secrets: ['private/'] })).map((c) => c.key)).toEqual(['secrets']);
  });

  it('sample paths name what a glob matches', () => {
    expect(samplePaths('sessions/')).toEqual(['sessions/x', 'd/sessions/x']);
    expect(samplePaths('**/*.key')).toEqual(['x.key', 'd/x.key']);
    expect(samplePaths('*.sqlite')).toEqual(['x.sqlite', 'd/x.sqlite']);
    expect(samplePaths('!keep')).toEqual([]);
    for (const g of ['sessions/', '**/*.key', '*.sqlite', 'memory/.dreams/', '.env.*', 'credentials/', '**/secrets*']) {
      const m = new Policy(P({ defaults: false, layers: [{ pattern: g, kind: 'local' }] }));
      for (const s of samplePaths(g)) expect(`${g} ${s}: ${m.kindOf(s)}`).toBe(`${g} ${s}: local`);
    }
  });
});

describe('policy strings: no control characters', () => {
  const bad = ['\n', '\r', '\t', '\u0000', '\u001b', '\u007f'];
  const places: [string, (c: string) => object][] = [
    ['layers[0].pattern', (c) => ({ layers: [{ pattern: `a${c}b`, kind: 'text' }] })],
    ['rebuild.command[1]', (c) => ({ rebuild: { command: ['sh', `x${c}y`] } })],
    ['secrets[0]', (c) => ({ secrets: [`s${c}`] })],
    ['logs.allowRewrite[0]', (c) => ({ logs: { allowRewrite: [`${c}x`] } })],
    ['json.idKeys[0]', (c) => ({ json: { idKeys: [`i${c}d`] } })],
  ];
  it('every policy string with one is refused, naming the file and the key', () => {
    for (const c of bad) {
      for (const [key, make] of places) {
        let err: unknown = null;
        try {
          parsePolicy(JSON.stringify(make(c)));
        } catch (e) {
          err = e;
        }
        expect(err, `${key} with U+${c.charCodeAt(0).toString(16)}`).toBeInstanceOf(PolicyError);
        const msg = (err as Error).message;
        expect(msg.split('\n')).toHaveLength(1);
        expect(msg).toContain('.agentgit/config.json');
        expect(msg).toContain(`"${key}"`);
      }
    }
    // printable text, including non-ASCII, is fine
    expect(parsePolicy(JSON.stringify({ secrets: ['geheim-ü/'] })).secrets).toEqual(['geheim-ü/']);
  });
});

describe('commit guard: the policy file', () => {
  const policy = Policy.fromText(null);
  const before = Buffer.from('{"secrets": ["private/"]}\n');
  it('a deleted or emptied policy file is held, with the command to restore it', () => {
    for (const after of [null, Buffer.from(''), Buffer.from('  \n')]) {
      const h = checkFile(policy, { path: '.agentgit/config.json', before, after, size: after?.length ?? 0 });
      expect(h?.reason).toBe('policy-deleted');
      expect(h?.detail).toContain('git checkout -- .agentgit/config.json');
      expect(h?.commitInstead).toEqual(before);
    }
  });
  it('an edited policy, or a new one, is committed', () => {
    expect(checkFile(policy, { path: '.agentgit/config.json', before, after: Buffer.from('{}\n'), size: 3 })).toBeNull();
    expect(checkFile(policy, { path: '.agentgit/config.json', before: null, after: Buffer.from('{}\n'), size: 3 })).toBeNull();
    expect(checkFile(policy, { path: '.agentgit/config.json', before: Buffer.from(''), after: null, size: 0 })).toBeNull();
  });
});
