/**
 * Classification speed-up (issue #13): the policy matches runs of same-kind
 * rules with one matcher each. The answer must be the same rule as matching
 * every rule on its own, first match wins: checked here against that
 * reference on many paths and policies, negations and options included.
 */
import ignore from 'ignore';
import { describe, expect, it } from 'vitest';
import { Policy, parsePolicy } from '../../src/policy/policy.js';
import type { LayerRule } from '../../src/policy/defaults.js';

/** The reference: one `ignore` matcher per rule, in order, first match wins (secrets first). */
function reference(p: Policy, path: string): { kind: string; rule: LayerRule | null } {
  const safe = (patterns: string[]): boolean => {
    try {
      return ignore().add(patterns).ignores(path);
    } catch {
      return false;
    }
  };
  if (p.isSecretPath(path)) return { kind: 'local', rule: null };
  for (const r of p.rules) if (safe([r.pattern])) return { kind: r.kind, rule: r };
  return { kind: 'text', rule: null };
}

const PATHS = [
  'memory/2026-02-05.md',
  'memory/a/b/c/2026-02-05.md',
  'memory/HISTORY.md',
  'memory/.dreams/x.md',
  'Memory/2026-01-01.MD',
  'agents/x/events.jsonl',
  'state/a.json',
  'state/keep.json',
  'state/keep/x.json',
  'state/drop.json',
  'docs/a.md',
  'docs/keep.md',
  'notes/keep.txt',
  'notes/other.txt',
  'x.sqlite',
  'deep/x.sqlite-wal',
  'run.lock',
  'node_modules/a/b.js',
  'a/node_modules/b.js',
  'sessions/1.json',
  'cron/jobs.json',
  '.env',
  '.env.local',
  'k/id_rsa.pub',
  'secrets.txt',
  'a/secrets/b.md',
  '.agentgit/config.json',
  '.agentgit/clocks/state/a.json.clock',
  '.agentgit/conflicts.jsonl',
  '.agentgit/allowed_signers',
  '.gitattributes',
  '.gitignore',
  'x/.agentgit-tmp-1-abc',
  'x/y.agentgit-hold-12',
  'build/out.bin',
  'build/keep/out.bin',
  'data/raw/x.csv',
  'data/keep.csv',
  'weird name/with space.md',
  '!bang.md',
  'notes/!bang.txt',
  '#hash.md',
  'a/b/c/d/e/f/g.json',
  '../escape.md',
  '/abs.md',
  './dot.md',
];

const POLICIES: { name: string; layers: LayerRule[]; defaults?: boolean }[] = [
  { name: 'defaults', layers: [] },
  {
    name: 'same-kind runs with options',
    layers: [
      { pattern: 'state/keep.json', kind: 'json', counters: ['n'] },
      { pattern: 'state/**', kind: 'json', volatile: ['at'] },
      { pattern: 'notes/', kind: 'text' },
      { pattern: 'docs/*.md', kind: 'text' },
      { pattern: 'build/', kind: 'local' },
      { pattern: 'data/raw/', kind: 'local' },
    ],
  },
  {
    name: 'negations',
    layers: [
      { pattern: 'build/', kind: 'local' },
      { pattern: '!build/keep/', kind: 'local' },
      { pattern: 'data/*.csv', kind: 'binary' },
      { pattern: '!data/keep.csv', kind: 'binary' },
      { pattern: 'docs/**', kind: 'log' },
      { pattern: '!docs/keep.md', kind: 'log' },
      { pattern: 'notes/*.txt', kind: 'log' },
      { pattern: '\\!bang.md', kind: 'json' },
      { pattern: 'notes/\\!bang.txt', kind: 'json' },
      { pattern: '\\#hash.md', kind: 'json' },
      { pattern: 'memory/**', kind: 'text' },
    ],
  },
  {
    name: 'no defaults, one kind throughout',
    defaults: false,
    layers: [
      { pattern: '*.md', kind: 'log' },
      { pattern: 'state/', kind: 'log' },
      { pattern: '**/*.json', kind: 'log' },
      { pattern: '*', kind: 'log' },
    ],
  },
];

describe('policy matching (runs of same-kind rules)', () => {
  for (const pol of POLICIES) {
    it(`gives the same rule as matching each rule alone: ${pol.name}`, () => {
      const p = new Policy(parsePolicy(JSON.stringify({ version: 1, layers: pol.layers, defaults: pol.defaults ?? true, secrets: ['**/*.secret'] })));
      for (const path of PATHS) {
        const want = reference(p, path);
        const got = p.classify(path);
        expect({ path, kind: got.kind, rule: got.rule }).toEqual({ path, kind: want.kind, rule: want.rule });
        // the very rule object (consent.ts finds a rule by identity)
        if (want.rule) expect(got.rule).toBe(want.rule);
      }
    });
  }

  it('a negated pattern is never merged into a run (it would re-include what the run matches)', () => {
    const p = new Policy(parsePolicy(JSON.stringify({ version: 1, layers: [{ pattern: 'data/*.csv', kind: 'local' }, { pattern: '!data/keep.csv', kind: 'local' }] })));
    // alone, "!data/keep.csv" matches nothing; "data/*.csv" still holds the file
    expect(p.kindOf('data/keep.csv')).toBe('local');
    expect(p.classify('data/keep.csv').rule?.pattern).toBe('data/*.csv');
  });
});
