/**
 * Things written in one place only (docs/engines.md, "Structure"): the
 * instance trailer (git/trailers.ts), the reader of `git log --raw`
 * (git/cli.ts), the SHA-1 object helpers (src/git/), and the round's exit
 * codes (src/errors.ts, never a literal 75 in sync/round.ts), every error
 * class with its exit code (src/errors.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/agents.js';

function sources(dir = join(ROOT, 'src')): Array<{ file: string; text: string }> {
  return readdirSync(dir).flatMap((e) => {
    const abs = join(dir, e);
    if (statSync(abs).isDirectory()) return sources(abs);
    return e.endsWith('.ts') ? [{ file: relative(ROOT, abs), text: readFileSync(abs, 'utf8') }] : [];
  });
}

function filesWith(re: RegExp): string[] {
  return sources()
    .filter((s) => re.test(s.text))
    .map((s) => s.file)
    .sort();
}

describe('one place for each', () => {
  it('the Agentgit-Instance trailer is written by git/trailers.ts only', () => {
    expect(filesWith(/Agentgit-Instance/)).toEqual(['src/git/trailers.ts']);
  });

  it('git log --raw is run and parsed in git/cli.ts only (GitCli)', () => {
    expect(filesWith(/'--raw'/)).toEqual(['src/git/cli.ts']);
  });

  it('SHA-1-only object helpers are used outside src/git/ only behind the fast-path choice', () => {
    // writeObject/writeBlob/blobOid/EMPTY_TREE/ZERO_OID assume SHA-1: outside src/git/ the Repo methods pick by object format
    const outside = sources().filter((s) => !s.file.startsWith('src/git/'));
    const users = outside.filter((s) => /\b(writeObject|writeObjectSync|writeBlob|blobOid|EMPTY_TREE|ZERO_OID|diffTreesInProcess|buildTreeInProcess)\b/.test(s.text.replace(/repo\.writeBlob/g, ''))).map((s) => s.file);
    expect(users).toEqual([]);
  });

  it('every error class lives in src/errors.ts and carries its exit code (git failures: git/exec.ts, classified in errors.ts)', async () => {
    expect(filesWith(/class \w+Error extends Error/)).toEqual(['src/errors.ts', 'src/git/exec.ts']);
    const errors = await import('../../src/errors.js');
    const cases: Array<[Error, number]> = [
      [new errors.UsageError('x'), 2],
      [new errors.TemporaryError('x'), 75],
      [new errors.LockBusyError({ pid: 1, since: 0 }, 'f'), 75],
      [new errors.FailedError('x'), 1],
      [new errors.PolicyError('x'), 1],
      [new errors.NotAnAgentRepoError('/d'), 1],
      [new errors.MissingKeyError('/k', 'a/b'), 1],
      [new errors.RejectedError('x'), 1],
      [new errors.SecretsInPushError('x', []), 1],
      [new errors.PhaseError({ phase: 'commit' }, new errors.TemporaryError('x')), 75],
      [new errors.PhaseError({ phase: 'commit' }, new errors.UsageError('x')), 2],
      [new Error('anything else'), 1],
    ];
    for (const [e, code] of cases) expect(errors.exitCodeOf(e), e.constructor.name).toBe(code);
  });

  it('the round takes exit codes from src/errors.ts, not literals', () => {
    const round = readFileSync(join(ROOT, 'src/sync/round.ts'), 'utf8');
    expect(round.match(/(?:=|===|\?|:) 75\b(?! temporary)/g) ?? []).toEqual([]);
  });
});
