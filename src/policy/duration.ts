/** Durations as operators write them, shared by the policy, pause, leases and watch. */

/** Parse `90s`, `15m`, `2h`, `1d`, `1h30m` (a bare number is seconds) into ms; null when not a duration. */
export function parseDuration(s: string): number | null {
  const t = s.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/gy;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * unit[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== t.length || !(total > 0)) return null;
  return total;
}
