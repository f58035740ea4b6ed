/**
 * The pre-push scan skips a blob only when this very process's commit guard
 * scanned its bytes clean (sync/secrets.ts rememberCleanBlob, called by
 * sync/commit.ts): anything else, a commit made by hand included, is read
 * and scanned. In-process, on a real repository and a real bare hub; the
 * key is a fake made by the test.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openContext } from '../../src/sync/context.js';
import { scanBeforePush, SecretsInPushError } from '../../src/sync/scan.js';
import { rememberCleanBlob } from '../../src/sync/secrets.js';
import { cleanupTemp, Instance, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

describe('the pre-push scan and the guard\'s clean blobs', () => {
  it('scans a blob committed by hand; skips only one this process marked clean', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': 'm\n' } });
    expect((await a.sync()).code).toBe(0);
    const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    a.write('notes/deploy.txt', privateKey);
    a.git(['add', 'notes/deploy.txt']);
    a.git(['commit', '-q', '--no-verify', '-m', 'by hand']);
    const head = a.git(['rev-parse', 'HEAD']).trim();
    const hubHead = a.git(['rev-parse', 'refs/remotes/origin/main']).trim();
    const blob = a.git(['rev-parse', 'HEAD:notes/deploy.txt']).trim();
    const ctx = await openContext(a.dir);
    try {
      await expect(scanBeforePush(ctx.repo, ctx.policy, head, hubHead)).rejects.toBeInstanceOf(SecretsInPushError);
      // what only the guard may do, after scanning the bytes itself: the scan then trusts it
      rememberCleanBlob(blob);
      await expect(scanBeforePush(ctx.repo, ctx.policy, head, hubHead)).resolves.toBeUndefined();
    } finally {
      ctx.repo.close();
    }
  });
});
