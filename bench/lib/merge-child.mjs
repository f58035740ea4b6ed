/**
 * One in-process merge in a fresh Node process, for the merge bench (issue #2):
 * `node merge-child.mjs KIND PATH DIR` reads DIR/base, DIR/ours, DIR/theirs,
 * runs `mergeFile` from dist/merge/index.js, writes DIR/out.KIND, and prints
 * one JSON line: the time of read + merge + write (like `git merge-file`,
 * which also reads and writes), the merge alone, and memory from
 * /proc/self/status: resident set before the inputs are read, and the
 * high-water mark (VmHWM) after the merge.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { ROOT } from './util.mjs';

const [kind, path, dir, app] = process.argv.slice(2);
const { mergeFile } = await import(pathToFileURL(join(app ?? ROOT, 'dist', 'merge', 'index.js')).href);

function status() {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const before = status();
const t0 = performance.now();
const [base, ours, theirs] = await Promise.all(['base', 'ours', 'theirs'].map((f) => readFile(join(dir, f))));
const t1 = performance.now();
const r = mergeFile({ path, kind, base, ours, theirs, oursClock: {}, theirsClock: {} });
const t2 = performance.now();
await writeFile(join(dir, `out.${kind}`), r.bytes);
const t3 = performance.now();
const after = status();
process.stdout.write(
  JSON.stringify({
    ms: t3 - t0,
    readMs: t1 - t0,
    mergeMs: t2 - t1,
    writeMs: t3 - t2,
    rssBeforeKiB: before.rss,
    hwmBeforeKiB: before.hwm,
    hwmAfterKiB: after.hwm,
    peakExtraKiB: after.hwm - before.rss,
    inputBytes: base.length + ours.length + theirs.length,
    sideBytes: Math.max(base.length, ours.length, theirs.length),
    outBytes: r.bytes.length,
    method: r.report.method,
    conflicts: r.report.conflicts.length,
    notes: r.report.notes,
  }) + '\n',
);
