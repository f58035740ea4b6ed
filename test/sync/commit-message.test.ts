/**
 * The local commit is built in-process; its message must be what
 * `git commit -F -` would store (cleanup "whitespace" = `git stripspace`).
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanMessage } from '../../src/sync/commit.js';

const stripspace = (m: string): string => spawnSync('git', ['stripspace'], { input: m, encoding: 'utf8' }).stdout;

describe('commit message cleanup', () => {
  it('equals git stripspace', () => {
    const piece = fc.constantFrom('a', 'b c', ' ', '\t', '\r', '\n', '\n\n', '\v', '\f', '- memory/x.md ', 'é', '#');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), (parts) => {
        const m = parts.join('');
        expect(cleanMessage(m)).toBe(stripspace(m));
      }),
      { numRuns: 150 },
    );
    const real = 'agentgit: 2 files from a\n\n- notes/trailing space.md \n- x\n\nAgentgit-Instance: a\n';
    expect(cleanMessage(real)).toBe(stripspace(real));
  });
});
