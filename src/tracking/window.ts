// The sending window: notices go out only between two local wall-clock times in the tenant's time
// zone (seed 004: 10:00–12:00 Moscow). Pure functions over epoch milliseconds, using Intl for zones and DST.

export interface SendingWindow {
  /** "HH:MM", local time, inclusive */
  from: string;
  /** "HH:MM", local time, exclusive; earlier than `from` means the window crosses midnight */
  to: string;
  timeZone: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone this Node knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The local wall-clock time of `t` in `timeZone`. */
export function wallClock(t: number, timeZone: string): WallClock {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

function offsetAt(t: number, timeZone: string): number {
  const w = wallClock(t, timeZone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(t / 1000) * 1000;
}

/**
 * The instant at which the local clock in `timeZone` shows the given date and time. A time that does
 * not exist (skipped by a DST change) moves forward by the gap, as clocks do.
 */
export function zonedTime(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): number {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  let t = asUtc - offsetAt(asUtc, timeZone);
  const second = asUtc - offsetAt(t, timeZone);
  if (second !== t) {
    // Near a transition the two offsets differ: take the one that maps back to the wanted wall time, else the later.
    const w = wallClock(second, timeZone);
    t = w.hour === hour && w.minute === minute ? second : Math.max(t, second);
  }
  return t;
}

export function parseClock(hhmm: string): { hour: number; minute: number } | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  return m ? { hour: Number(m[1]), minute: Number(m[2]) } : undefined;
}

function minutesOf(hhmm: string): number {
  const c = parseClock(hhmm);
  if (!c) throw new Error(`not a time of day: "${hhmm}" (HH:MM)`);
  return c.hour * 60 + c.minute;
}

/** True when `t` falls inside the window. */
export function inWindow(t: number, w: SendingWindow): boolean {
  const c = wallClock(t, w.timeZone);
  const now = c.hour * 60 + c.minute;
  const from = minutesOf(w.from);
  const to = minutesOf(w.to);
  if (from === to) return true; // a window of 24 hours
  return from < to ? now >= from && now < to : now >= from || now < to;
}

/** The earliest instant at or after `t` when a notice may be sent. */
export function nextWindowStart(t: number, w: SendingWindow): number {
  if (inWindow(t, w)) return t;
  const { hour, minute } = parseClock(w.from)!;
  const today = wallClock(t, w.timeZone);
  // The window's start today, or else tomorrow (calendar arithmetic on the local date, then to an instant).
  for (let add = 0; add <= 2; add++) {
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day + add));
    const start = zonedTime(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), hour, minute, w.timeZone);
    if (start >= t) return start;
  }
  throw new Error('no window start within two days'); // unreachable for a valid window
}

/** The next instant at or after `t` when the local clock shows `hhmm` (daily reports). */
export function nextLocalTime(t: number, hhmm: string, timeZone: string): number {
  return nextWindowStart(t, { from: hhmm, to: hhmm === '23:59' ? '00:00' : addMinute(hhmm), timeZone });
}

function addMinute(hhmm: string): string {
  const m = minutesOf(hhmm) + 1;
  return `${String(Math.floor(m / 60) % 24).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}
