/**
 * putWorkFile (sync/checkout.ts), the work-tree update of one file, on the
 * cases where its second link (the "hold" that shows what an agent wrote to
 * the old file meanwhile) cannot be made as usual: a hold of this very pid
 * left by a killed run (pids come back in containers), and a hold path that
 * is not a file afterwards. The file must end up updated, or the call must
 * fail: never a silent skip (the index and the branch would move on while
 * the file kept the old bytes).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Policy } from '../../src/policy/policy.js';
import { putWorkFile } from '../../src/sync/checkout.js';
import { cleanupTemp, tempDir } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const policy = Policy.fromText(null);

describe('putWorkFile', () => {
  it('replaces a hold of its own pid left by a killed run, and updates the file', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'docs'));
    const abs = join(dir, 'docs', 'notes.md');
    writeFileSync(abs, 'old\n');
    const hold = `${abs}.agentgit-hold-${process.pid}`;
    writeFileSync(hold, 'left by a killed run\n');
    const r = await putWorkFile(abs, 'docs/notes.md', Buffer.from('old\n'), Buffer.from('new\n'), '100644', policy);
    expect(r).toEqual({ written: true, agentWrote: false });
    expect(readFileSync(abs, 'utf8')).toBe('new\n');
    expect(existsSync(hold)).toBe(false);
  });

  it('writes a file that was not there, and keeps the agent\'s own edit merged with the incoming one', async () => {
    const dir = tempDir();
    const abs = join(dir, 'MEMORY.md');
    expect(await putWorkFile(abs, 'MEMORY.md', null, Buffer.from('hello\n'), '100644', policy)).toEqual({ written: true, agentWrote: false });
    expect(readFileSync(abs, 'utf8')).toBe('hello\n');
    writeFileSync(abs, 'hello\nmine\n'); // the agent's edit since the base
    const r = await putWorkFile(abs, 'MEMORY.md', Buffer.from('hello\n'), Buffer.from('theirs\nhello\n'), '100644', policy);
    expect(r.agentWrote).toBe(true);
    expect(readFileSync(abs, 'utf8')).toBe('theirs\nhello\nmine\n');
  });
});
