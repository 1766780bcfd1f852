// How log lines look. `logFormat: json` (the default) writes pino's JSON lines unchanged, for log
// shippers; `text` writes one line per record for people: local time, the level's name, the message,
// then the other fields as key=value. The logger is made here for the server and the delivery thread.
import pino, { type Logger } from 'pino';

export type LogFormat = 'json' | 'text';

/** Keys never written, wherever they appear (one level deep): secrets given in log objects by mistake. */
const REDACTED = ['password', 'pass', 'token', '*.password', '*.pass', '*.token', 'auth.*'];
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** pino's own keys, shown in the line's head (time, level, msg) or left out (pid, hostname). */
const HEAD_KEYS = new Set(['time', 'level', 'msg', 'pid', 'hostname']);

/**
 * JSON lines go out asynchronously (pino's default): lines that come while a write is under way are
 * written with the next one, and what is pending is written when the process exits. `sync: true`
 * writes each line at once: the delivery thread, whose pending lines pino's flush at exit does not
 * cover. Text lines are for people and always written at once.
 */
export function createLogger(opts: { level: string; format: LogFormat; base?: Record<string, unknown>; sync?: boolean }): Logger {
  const options = { level: opts.level, base: opts.base ?? { pid: process.pid }, redact: { paths: REDACTED, censor: '[redacted]' } };
  if (opts.format === 'json') return pino(options, pino.destination({ dest: 1, sync: opts.sync ?? false }));
  const out = pino.destination({ dest: 1, sync: true });
  return pino(options, { write: (line: string) => out.write(textLine(JSON.parse(line) as Record<string, unknown>)), flush: () => out.flushSync() } as unknown as pino.DestinationStream);
}

/** `2026-12-05 14:03:07.123 INFO  message key=value …` in local time, newline-terminated. Pure but for the time zone. */
export function textLine(record: Record<string, unknown>): string {
  const level = (LEVEL_NAMES[Number(record.level)] ?? String(record.level)).padEnd(5);
  const fields = Object.entries(record).filter(([k]) => !HEAD_KEYS.has(k)).map(([k, v]) => `${k}=${shownValue(v)}`);
  return `${localTime(Number(record.time))} ${level} ${String(record.msg ?? '')}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}\n`;
}

function shownValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return typeof v === 'string' && /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

function localTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
