/**
 * The decisions every merge kind shares: when a value was written
 * (timestamps), which of two values is the later instant (volatile maxima),
 * and nothing that depends on the host. One timestamp parser for the whole
 * core: a timestamp without an offset is read as UTC, never as the machine's
 * local time, so two instances in different time zones compute the same
 * bytes.
 *
 * Instants are milliseconds since the Unix epoch (UTC), with sub-millisecond
 * digits kept as a fraction (up to microseconds, which a double holds exactly
 * enough for ordering in this era).
 */

/** Midnight UTC of a calendar day, in ms; null when the date is impossible. */
export function dateMs(y: number, mo: number, d: number): number | null {
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return null;
  const t = Date.UTC(y, mo - 1, d);
  // reject day overflow (2026-02-30 is not March 2nd)
  if (new Date(t).getUTCDate() !== d) return null;
  return t;
}

const ISO_RE = /(?<!\d)(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:\s?(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)(?![\w]))?)?/g;
const TIME12_RE = /(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?\s?([AaPp])\.?[Mm](?![A-Za-z])/;
const TIME24_RE = /(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?(?![\d:])/;

/** `Z`, `UTC`, `+02:00`, `-0530`, `+02` as ms east of UTC; no offset is UTC. */
function offsetMs(z: string | undefined): number {
  if (z === undefined || z === 'Z' || z === 'UTC' || z === 'GMT') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(z);
  if (!m) return 0;
  const v = (+m[2]! * 60 + (m[3] === undefined ? 0 : +m[3])) * 60_000;
  return m[1] === '-' ? -v : v;
}

/** Fractional seconds `5`, `500`, `500123` as ms (microseconds kept as a fraction). */
function fractionMs(f: string | undefined): number {
  if (f === undefined) return 0;
  const us = +f.slice(0, 6).padEnd(6, '0');
  return us / 1000;
}

/**
 * The first timestamp in a line of text, in ms UTC; null when none. ISO 8601
 * dates and date-times (offset honoured, none = UTC) anywhere in the line;
 * else a time of day (`14:05`, `1:40 PM`) on `fileDay` (the day a file's name
 * carries), or as ms since midnight when there is no such day.
 */
export function textTimestamp(s: string, fileDay: number | null = null): number | null {
  ISO_RE.lastIndex = 0;
  for (let m = ISO_RE.exec(s); m; m = ISO_RE.exec(s)) {
    const day = dateMs(+m[1]!, +m[2]!, +m[3]!);
    if (day === null) continue;
    if (m[4] === undefined) return day;
    const h = +m[4];
    const mi = +m[5]!;
    const sec = m[6] === undefined ? 0 : +m[6];
    if (h > 24 || mi > 59 || sec > 60) continue;
    return day + ((h * 60 + mi) * 60 + sec) * 1000 + fractionMs(m[7]) - offsetMs(m[8]);
  }
  let tod: number | null = null;
  const t12 = TIME12_RE.exec(s);
  if (t12) {
    const h = +t12[1]!;
    const mi = +t12[2]!;
    if (h >= 1 && h <= 12 && mi <= 59) {
      const pm = t12[4]!.toLowerCase() === 'p';
      tod = (((h % 12) + (pm ? 12 : 0)) * 60 + mi) * 60_000 + (t12[3] === undefined ? 0 : +t12[3] * 1000);
    }
  }
  if (tod === null) {
    const t24 = TIME24_RE.exec(s);
    if (t24) tod = (+t24[1]! * 60 + +t24[2]!) * 60_000 + (t24[3] === undefined ? 0 : +t24[3] * 1000);
  }
  if (tod === null) return null;
  return fileDay === null ? tod : fileDay + tod;
}

/**
 * A whole value read as an instant, in ms UTC; null when it is not one.
 * Numbers and numeric strings are epoch seconds (below 1e11) or epoch
 * milliseconds (a key ending in `Ms`/`ms` is always milliseconds); strings
 * must start with an ISO date (`2026-11-25`, `2026-11-25T09:00:00.5+02:00`).
 */
export function instantOf(v: unknown, key = ''): number | null {
  let n: number | null = null;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(v)) n = +v;
  else if (typeof v === 'string') return /^\s*\d{4}-\d{2}-\d{2}/.test(v) ? textTimestamp(v) : null;
  if (n === null || !Number.isFinite(n)) return null;
  if (key.endsWith('Ms') || key.endsWith('ms')) return n;
  return Math.abs(n) < 1e11 ? n * 1000 : n; // epoch seconds until the year 5138
}

/**
 * A JSON field value read as an entry's time: like instantOf, but a string
 * may hold the timestamp anywhere (a time of day on `fileDay` included).
 */
export function fieldTimestamp(v: unknown, key: string, fileDay: number | null): number | null {
  if (typeof v === 'string' && !/^\s*\d+(?:\.\d+)?\s*$/.test(v)) return textTimestamp(v, fileDay);
  return instantOf(v, key);
}

/**
 * A line opening with `[YYYY-MM-DD HH:MM]` (or `T` between date and time),
 * read with no regex and no allocation: what textTimestamp gives for it
 * (no offset: UTC). null when the line does not open so (ask textTimestamp).
 */
export function bracketTimestamp(s: string): number | null {
  if (s.length < 18 || s.charCodeAt(0) !== 91 /* [ */ || s.charCodeAt(17) !== 93 /* ] */) return null;
  const sep = s.charCodeAt(11);
  if (s.charCodeAt(5) !== 45 || s.charCodeAt(8) !== 45 || (sep !== 32 && sep !== 84) || s.charCodeAt(14) !== 58) return null;
  const y = digitAt(s, 1) * 1000 + digitAt(s, 2) * 100 + digitAt(s, 3) * 10 + digitAt(s, 4);
  const mo = digitAt(s, 6) * 10 + digitAt(s, 7);
  const day = digitAt(s, 9) * 10 + digitAt(s, 10);
  const h = digitAt(s, 12) * 10 + digitAt(s, 13);
  const mi = digitAt(s, 15) * 10 + digitAt(s, 16);
  if (Number.isNaN(y + mo + day + h + mi) || h > 24 || mi > 59) return null;
  const t = dateMs(y, mo, day);
  return t === null ? null : t + (h * 60 + mi) * 60_000;
}

/** The decimal digit at s[i], NaN when it is not one. */
function digitAt(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : NaN;
}
