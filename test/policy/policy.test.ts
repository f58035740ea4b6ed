import { describe, expect, it } from 'vitest';
import { Policy, PolicyError, parsePolicy } from '../../src/policy/policy.js';

describe('layer policy', () => {
  const p = Policy.fromText(null);

  it('defaults fit an OpenClaw-style workspace', () => {
    const cases: [string, string][] = [
      ['memory/2026-02-05.md', 'log'],
      ['memory/dreaming/rem/2026-02-05.md', 'log'],
      ['memory/HISTORY.md', 'log'],
      ['agents/x/events.jsonl', 'log'],
      ['mission-control/tasks.json', 'json'],
      ['memory/heartbeat-state.json', 'json'],
      ['SOUL.md', 'text'],
      ['MEMORY.md', 'text'],
      ['skills/web/SKILL.md', 'text'],
      ['.env', 'local'],
      ['.env.production', 'local'],
      ['credentials/openai.json', 'local'],
      ['keys/agent.pem', 'local'],
      ['my-wallet.json', 'local'],
      ['memory/.dreams/index.bin', 'local'],
      ['search.sqlite', 'local'],
      ['search.sqlite-wal', 'local'],
      ['sessions/abc.json', 'local'],
      ['run.lock', 'local'],
      ['node_modules/x/index.js', 'local'],
      ['cron/jobs.json', 'local'],
      ['.agentgit/clocks/mission-control/tasks.json', 'json'],
      ['.agentgit/clocks/SOUL.md', 'json'],
      ['.agentgit/conflicts.jsonl', 'log'],
    ];
    for (const [path, kind] of cases) expect(`${path}: ${p.kindOf(path)}`).toBe(`${path}: ${kind}`);
    expect(p.isSecretPath('credentials/openai.json')).toBe(true);
    expect(p.isSecretPath('memory/2026-02-05.md')).toBe(false);
  });

  it('user rules come first, internal rules cannot be overridden', () => {
    const q = Policy.fromText(JSON.stringify({ layers: [{ pattern: '**/*.md', kind: 'text' }, { pattern: 'stats.json', kind: 'json', counters: ['/karma'] }] }));
    expect(q.kindOf('memory/2026-02-05.md')).toBe('text');
    expect(q.kindOf('.agentgit/clocks/SOUL.md')).toBe('json');
    expect(q.jsonOptions('stats.json').counters).toContain('/karma');
    expect(q.jsonOptions('other.json').counters).not.toContain('/karma');
  });

  it('a bad policy is rejected with a message naming the key', () => {
    const bad: [string, RegExp][] = [
      ['{', /not valid JSON/],
      ['[]', /must hold a JSON object/],
      ['{"layer": []}', /unknown key "layer"/],
      ['{"layers": [{"pattern": "x", "kind": "yaml"}]}', /"layers\[0\]\.kind" must be one of/],
      ['{"layers": [{"pattern": "", "kind": "log"}]}', /"layers\[0\]\.pattern"/],
      ['{"json": {"idKey": ["id"]}}', /unknown key "json\.idKey"/],
      ['{"maxFileBytes": -1}', /"maxFileBytes" must be a number/],
      ['{"version": 2}', /"version" must be 1/],
    ];
    for (const [text, re] of bad) {
      expect(() => parsePolicy(text)).toThrow(PolicyError);
      expect(() => parsePolicy(text)).toThrow(re);
    }
    expect(() => parsePolicy('{"layers": []}')).not.toThrow();
    expect(parsePolicy('').version).toBe(1);
  });

  it('writes gitattributes with the policy order (last match wins in git)', () => {
    const lines = p.attributesLines();
    expect(lines[0]).toBe('* merge=agentgit-text');
    expect(lines.indexOf('**/*.json merge=agentgit-json')).toBeLessThan(lines.indexOf('.agentgit/clocks/** merge=agentgit-json'));
    expect(lines.indexOf('**/*.json merge=agentgit-json')).toBeGreaterThan(lines.indexOf('* merge=agentgit-text'));
    expect(p.ignoreLines()).toContain('.env');
    expect(p.ignoreLines()).toContain('*.sqlite');
  });
});
