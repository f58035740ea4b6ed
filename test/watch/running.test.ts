/**
 * Whether a watcher runs (`agentgit status`): on this host by its process;
 * written on another host (a container on a shared volume), by how lately it
 * wrote its file, against its own interval, never "running forever".
 */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { processStart } from '../../src/lock.js';
import { watcherRunning, type WatchInfo } from '../../src/sync/watch.js';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const MIN = 60_000;

function info(o: Partial<WatchInfo>): WatchInfo {
  return { pid: 4242, start: '77', host: 'gone-container-1f3a', startedAt: NOW - 60 * MIN, lastRoundAt: null, lastTrigger: null, lastExitCode: null, rounds: 0, failures: 0, backoffUntil: null, stoppedAt: null, ...o };
}

describe('watcherRunning', () => {
  it('on this host: by its process', () => {
    expect(watcherRunning(info({ pid: process.pid, start: processStart(process.pid), host: hostname() }), NOW)).toBe(true);
    expect(watcherRunning(info({ pid: process.pid, start: processStart(process.pid), host: hostname(), stoppedAt: NOW - MIN }), NOW)).toBe(false);
    expect(watcherRunning(info({ pid: 2 ** 22 + 7, start: '1', host: hostname(), lastRoundAt: NOW }), NOW)).toBe(false); // no such process
    expect(watcherRunning(null, NOW)).toBe(false);
  });

  it('on another host: while it wrote within three intervals (at least 10 min each) and a minute; an hour when it does not say', () => {
    const cases: [string, Partial<WatchInfo>, boolean][] = [
      ['a round a minute ago', { lastRoundAt: NOW - MIN, intervalSec: 300 }, true],
      ['a round 30 min ago, interval 300 s (bound 31 min)', { lastRoundAt: NOW - 30 * MIN, intervalSec: 300 }, true],
      ['a round 32 min ago, interval 300 s', { lastRoundAt: NOW - 32 * MIN, intervalSec: 300 }, false],
      ['a round 2 h ago, interval 3600 s (bound 3 h 1 min)', { lastRoundAt: NOW - 120 * MIN, intervalSec: 3600 }, true],
      ['a round 4 h ago, interval 3600 s', { lastRoundAt: NOW - 240 * MIN, intervalSec: 3600 }, false],
      ['no round yet, started 10 min ago', { startedAt: NOW - 10 * MIN, intervalSec: 300 }, true],
      ['an older version (no interval), 50 min ago', { lastRoundAt: NOW - 50 * MIN }, true],
      ['an older version (no interval), 2 h ago', { lastRoundAt: NOW - 120 * MIN }, false],
      ['stopped', { lastRoundAt: NOW - MIN, intervalSec: 300, stoppedAt: NOW }, false],
    ];
    for (const [what, o, running] of cases) expect(watcherRunning(info(o), NOW), what).toBe(running);
  });
});
