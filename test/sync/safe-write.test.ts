/**
 * writeWorkTreeFilesSync (the clock files of a commit): written over in
 * place and cut to length, never through a link. Each case must leave
 * exactly the new bytes, whatever was there before.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeWorkTreeFilesSync } from '../../src/sync/safe-write.js';

const root = mkdtempSync(join(tmpdir(), 'agentgit-safe-write-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('writeWorkTreeFilesSync', () => {
  it('leaves exactly the new bytes over a longer file, a shorter one, an empty one, and none', () => {
    const dir = join(root, 'a', '.agentgit', 'clocks');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'long.clock'), 'x'.repeat(5000));
    writeFileSync(join(dir, 'short.clock'), '{}\n');
    writeFileSync(join(dir, 'empty.clock'), '');
    const files = new Map<string, Uint8Array>([
      ['.agentgit/clocks/long.clock', Buffer.from('{\n  "": "a"\n}\n')],
      ['.agentgit/clocks/short.clock', Buffer.from('y'.repeat(70_000))],
      ['.agentgit/clocks/empty.clock', Buffer.from('{}\n')],
      ['.agentgit/clocks/new/deep.clock', Buffer.from('new\n')],
      ['.agentgit/clocks/zero.clock', Buffer.alloc(0)],
    ]);
    writeWorkTreeFilesSync(join(root, 'a'), files);
    for (const [rel, bytes] of files) {
      expect(readFileSync(join(root, 'a', rel)).equals(Buffer.from(bytes)), rel).toBe(true);
      expect(statSync(join(root, 'a', rel)).size, rel).toBe(bytes.length);
    }
  });

  it('refuses a file that is a symbolic link, and a linked directory on the way, writing nothing through them', () => {
    const outside = join(root, 'outside');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'target'), 'keep\n');
    const b = join(root, 'b');
    mkdirSync(join(b, '.agentgit', 'clocks'), { recursive: true });
    symlinkSync(join(outside, 'target'), join(b, '.agentgit', 'clocks', 'f.clock'));
    expect(() => writeWorkTreeFilesSync(b, [['.agentgit/clocks/f.clock', Buffer.from('evil\n')]])).toThrow(/link/);
    symlinkSync(outside, join(b, '.agentgit', 'clocks', 'dir'));
    expect(() => writeWorkTreeFilesSync(b, [['.agentgit/clocks/dir/target', Buffer.from('evil\n')]])).toThrow(/link/);
    expect(readFileSync(join(outside, 'target'), 'utf8')).toBe('keep\n');
  });
});
