// What every report reader hands to the classifier: one Failure per recipient (or per report when
// it names none), with what the report states (status, reply code, SMTP command, the remote
// server's words) and helpers that read those facts out of free text. Pure.
import { commandInText, replyCodeInText, statusInText, type Classification, type SmtpCommand } from './classify.js';

export interface Failure {
  /** Lower case; undefined when the report names no recipient (the VERP token then says who). */
  recipient?: string;
  status?: string;
  replyCode?: number;
  action?: string;
  command?: SmtpCommand;
  /** The remote server's answer or the report's words for this recipient, one line. */
  diagnostic: string;
  /** More words for the classifier (the whole paragraph about the recipient), when they differ. */
  context?: string;
  remoteMta?: string;
  /** The sender's server still retries. */
  warning?: boolean;
  /** The report comes from the mailbox's own system, which looked the address up. */
  authoritative?: boolean;
  /** The format states what happened itself (a feedback report, a provider's JSON). */
  stated?: Classification & { feedbackType?: string };
}

export interface Extracted {
  kind: 'dsn' | 'non-standard' | 'arf' | 'auto-reply' | 'notification' | 'none';
  failures: Failure[];
  /** Recipients past the cap, counted but not listed. */
  omitted?: number;
}

/** A report names at most this many recipients; the rest are counted (a 10 MB DSN could name 130,000). */
export const MAX_RECIPIENTS = 1000;
/** Diagnostics are cut to this. */
export const MAX_DIAGNOSTIC = 1000;

/** Whitespace folded, cut to MAX_DIAGNOSTIC. */
export function oneLine(text: string): string {
  return text.slice(0, 4 * MAX_DIAGNOSTIC).replace(/\s+/g, ' ').trim().slice(0, MAX_DIAGNOSTIC);
}

const REMOTE_HOST = /\bhost:?\s+\[?([A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,})\]?\s*[[(]\d/;

/** Status, reply code, command and remote host stated in a piece of report text. */
export function factsIn(text: string): Pick<Failure, 'status' | 'replyCode' | 'command' | 'remoteMta'> {
  const t = text.slice(0, 4000);
  const status = statusInText(t);
  const replyCode = replyCodeInText(t);
  const command = commandInText(t);
  const remoteMta = REMOTE_HOST.exec(t)?.[1];
  return { ...(status ? { status } : {}), ...(replyCode ? { replyCode } : {}), ...(command ? { command } : {}), ...(remoteMta ? { remoteMta: remoteMta.toLowerCase() } : {}) };
}

/** Lines of report text that carry the remote server's answer or the reason, for a one-line diagnostic. */
const TELLING = /\b[245]\d\d\b|\b[245]\.\d{1,3}\.\d{1,3}\b|said:|says:|reason|error|unknown|not exist|does not|doesn'?t|full|quota|rejected|refused|denied|blocked|expired|timed out|too long|unreachable|not found|disabled|invalid|failed|failure|unable|could not|cannot|can'?t|no such|policy|spam|недостав|не существует|переполнен|unbekannt|voll|inconnu/i;

/** Whether a text says anything about a failure (a code, or words such as "unknown", "rejected"). */
export function tells(text: string): boolean {
  return text.split('\n', 400).some((l) => TELLING.test(l.slice(0, 300)));
}

/** The telling lines of a paragraph (at most a few), else its start. */
export function diagnosticOf(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const telling = lines.filter((l) => TELLING.test(l.slice(0, 300)));
  return oneLine((telling.length > 0 ? telling.slice(0, 6) : lines.slice(0, 4)).join(' '));
}
