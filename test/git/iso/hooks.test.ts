/**
 * A file hub's hooks on the isomorphic-git engine (issue #16): git's
 * receive-pack runs a path hub's pre-receive and update hooks; so does this
 * engine's file transport (iso/file-transport.ts runHubHooks). Found by the
 * reliability suite's hub-rejects scenario, where the push went through.
 */
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, Instance, makeBareHub } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());

describe.each(['isomorphic-git', 'git'] as const)('a file hub with hooks (%s)', (engine) => {
  beforeAll(() => void (process.env.AGENTGIT_ENGINE = engine));
  afterAll(() => void delete process.env.AGENTGIT_ENGINE);

  it.each(['pre-receive', 'update'])('a refusing %s hook: exit 1 with its message, the hub unmoved, local work kept; without it the next run pushes', async (hook) => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    const before = git(hub, ['rev-parse', 'main']).trim();
    const file = join(hub, 'hooks', hook);
    writeFileSync(file, '#!/bin/sh\necho "quota exceeded for this repo" >&2\nexit 1\n');
    chmodSync(file, 0o755);
    a.write('y.md', 'y\n');
    const r = await a.sync();
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/quota exceeded for this repo/);
    expect(git(hub, ['rev-parse', 'main']).trim()).toBe(before);
    expect(a.git(['status', '--porcelain'])).toBe('');
    rmSync(file);
    const r2 = await a.sync();
    expect(r2.code, r2.stderr).toBe(0);
    expect(git(hub, ['show', 'main:y.md'])).toBe('y\n');
  });
});
