/**
 * The isomorphic-git engine's hand-written pack and index readers
 * (iso/pack.ts), fuzzed against git: byte flips and truncations of a pack
 * git wrote (with deltas) and of its index. Whatever the bytes, a reader
 * either accepts or refuses with its own error (BadObjectError,
 * ObjectTooBigError), never another throw; a pack git's index-pack accepts
 * is never refused by scanPack; an index reads as `git show-index` lists it.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadObjectError, HUB_LIMITS, ObjectTooBigError, parseIdx, scanPack } from '../../../src/git/iso/pack.js';
import { cleanupTemp, git, plainRepo, tempDir, testEnv } from '../../helpers/agents.js';

const env = testEnv(tempDir());
let pack: Buffer;
let idx: Buffer;
let dir: string;

beforeAll(() => {
  dir = join(tempDir(), 'r');
  const commit = plainRepo(dir, env);
  let text = randomBytes(3000).toString('base64');
  for (let i = 0; i < 6; i++) commit('f', (text += `line ${i}\n`));
  commit('g', 'small\n');
  git(dir, ['repack', '-adq', '--depth=10'], env);
  const packDir = join(dir, '.git', 'objects', 'pack');
  const name = readdirSync(packDir).find((f) => f.endsWith('.pack'))!;
  pack = readFileSync(join(packDir, name));
  idx = readFileSync(join(packDir, name.replace(/\.pack$/, '.idx')));
  expect(git(dir, ['verify-pack', '-v', join(packDir, name)], env)).toMatch(/chain length = [1-9]/);
});
afterAll(() => cleanupTemp());

/** The pack with `flips` applied (then cut to `cut` bytes, when given) and a trailer that matches, so git looks at the content. */
function mutated(flips: { at: number; xor: number }[], cut: number | null): Buffer {
  const body = Buffer.from(pack.subarray(0, pack.length - 20));
  for (const f of flips) body[f.at % body.length] = body[f.at % body.length]! ^ f.xor;
  const b = cut === null ? body : body.subarray(0, Math.max(12, cut % body.length));
  return Buffer.concat([b, createHash('sha1').update(b).digest()]);
}

const ownError = (e: unknown): boolean => e instanceof BadObjectError || e instanceof ObjectTooBigError;

function scan(p: Buffer): 'ok' | 'refused' {
  try {
    scanPack(p, HUB_LIMITS);
    return 'ok';
  } catch (e) {
    if (!ownError(e)) throw e;
    return 'refused';
  }
}

const flips = fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 3 });

describe('iso/pack.ts against git', () => {
  it('scanPack: any flipped or cut pack is accepted or refused with its own error, never anything else', () => {
    expect(scan(pack)).toBe('ok');
    fc.assert(
      fc.property(flips, fc.option(fc.nat()), (f, cut) => {
        scan(mutated(f, cut));
      }),
      { numRuns: 400 },
    );
  });

  it('scanPack never refuses a pack git index-pack accepts', () => {
    fc.assert(
      fc.property(flips, fc.option(fc.nat(), { freq: 4 }), (f, cut) => {
        const p = mutated(f, cut);
        const g = spawnSync('git', ['index-pack', '--stdin'], { cwd: dir, env, input: p });
        if (g.status === 0) expect(scan(p)).toBe('ok');
      }),
      { numRuns: 40 },
    );
    // the unmutated pack: both accept it
    expect(spawnSync('git', ['index-pack', '--stdin'], { cwd: dir, env, input: pack }).status).toBe(0);
    expect(scan(pack)).toBe('ok');
  });

  it('parseIdx reads the index as git show-index lists it; a flipped or cut index reads or is refused with its own error', () => {
    const listed = spawnSync('git', ['show-index'], { input: idx, encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([off, oid]) => ({ oid: oid!, offset: Number(off) }));
    const x = parseIdx(idx, 'test.idx');
    expect(x.count).toBe(listed.length);
    for (let i = 0; i < x.count; i++) {
      expect({ oid: x.oid(i), offset: x.offset(i) }).toEqual(listed[i]);
      expect(x.find(x.oid(i))).toBe(i);
    }
    expect(x.find('0'.repeat(40))).toBe(-1);
    fc.assert(
      fc.property(flips, fc.option(fc.nat()), (f, cut) => {
        const b = Buffer.from(idx);
        for (const fl of f) b[fl.at % b.length] = b[fl.at % b.length]! ^ fl.xor;
        const m = cut === null ? b : b.subarray(0, cut % b.length);
        try {
          const y = parseIdx(m, 'fuzzed.idx');
          for (let i = 0; i < Math.min(y.count, 64); i++) {
            y.offset(i);
            y.find(y.oid(i));
          }
        } catch (e) {
          if (!ownError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });
});
