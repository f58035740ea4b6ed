/**
 * Issue #12: the commit guard and a log cut inside a UTF-8 character (what
 * kill -9 in the middle of a write leaves): the log is held, the committed
 * entries stay on the hub, the cut entry never reaches it.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, Instance, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-11-25.md';

describe('commit guard: undecodable logs', () => {
  it('a log cut inside a UTF-8 character is held; the hub keeps every committed entry', async () => {
    const hub = makeBareHub();
    const full = '# log\n- 09:00 café with Zoë\n- 09:05 paid 12 €\n';
    const a = await Instance.init(hub, 'a', { files: { [day]: full } });
    const bytes = Buffer.from(full, 'utf8');
    const cut = bytes.subarray(0, bytes.length - 3); // "€" is 3 bytes: cut after its first byte
    expect(cut.toString('utf8')).toContain('\ufffd');
    a.write(day, cut);
    const r = await a.sync();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/held memory\/2026-11-25\.md: 1 committed entry was removed/);
    expect(git(hub, ['show', `main:${day}`])).toBe(full);
    // the file itself is left as it is, for the operator
    expect(Buffer.from(spawnSync('cat', [a.path(day)]).stdout).equals(cut)).toBe(true);
  });

  it('a log cut inside a character with a new entry before the cut: the new entry is synced, the cut one restored', async () => {
    const hub = makeBareHub();
    const full = '# log\n- 09:00 café\n- 09:05 paid 12 €\n';
    const a = await Instance.init(hub, 'a', { files: { [day]: full } });
    const edited = Buffer.from('# log\n- 08:59 tea\n- 09:00 café\n- 09:05 paid 12 €\n', 'utf8');
    a.write(day, edited.subarray(0, edited.length - 2));
    const r = await a.sync();
    expect(r.code).toBe(1);
    const onHub = git(hub, ['show', `main:${day}`]);
    expect(onHub).toBe('# log\n- 08:59 tea\n- 09:00 café\n- 09:05 paid 12 €\n');
  });
});
