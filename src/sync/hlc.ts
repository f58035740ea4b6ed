/**
 * Hybrid logical clocks. A clock reads `<wall ms, 13 digits>.<counter, 4
 * digits>.<instance>` so plain string order is time order. An instance
 * never issues a clock below one it has seen, so after a merge its writes
 * sort after everything it merged, even when its wall clock is hours behind.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Hlc {
  wall: number;
  counter: number;
}

export function formatClock(h: Hlc, instance: string): string {
  return `${String(Math.max(0, Math.floor(h.wall))).padStart(13, '0')}.${String(h.counter).padStart(4, '0')}.${instance}`;
}

export function parseClock(s: string): Hlc | null {
  const m = /^(\d{13})\.(\d{4,})\./.exec(s);
  return m ? { wall: Number(m[1]), counter: Number(m[2]) } : null;
}

/** The next clock after `last`, given the wall time `now`. */
export function tick(last: Hlc, now: number): Hlc {
  return now > last.wall ? { wall: now, counter: 0 } : { wall: last.wall, counter: last.counter + 1 };
}

/** Fold a clock seen from another instance into `last`. */
export function observe(last: Hlc, seen: Hlc): Hlc {
  if (seen.wall > last.wall || (seen.wall === last.wall && seen.counter > last.counter)) return { ...seen };
  return last;
}

/** A clock a caller can pass for a commit time (counter 0). */
export function clockFromTime(ms: number, instance: string): string {
  return formatClock({ wall: ms, counter: 0 }, instance);
}

/** The per-clone clock state in `.git/agentgit/hlc`. */
export class ClockSource {
  private last: Hlc = { wall: 0, counter: 0 };
  constructor(
    private readonly file: string,
    readonly instance: string,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<void> {
    try {
      const p = parseClock(readFileSync(this.file, 'utf8').trim() + '.x'); // synchronous: one small file, read once a round
      if (p) this.last = p;
    } catch {
      /* first use */
    }
  }

  next(): string {
    this.last = tick(this.last, this.now());
    return formatClock(this.last, this.instance);
  }

  see(clock: string): void {
    const p = parseClock(clock);
    if (p) this.last = observe(this.last, p);
  }

  async save(): Promise<void> {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${String(this.last.wall).padStart(13, '0')}.${String(this.last.counter).padStart(4, '0')}\n`);
    renameSync(tmp, this.file);
  }
}
