// An SMTP reply as one line a person reads, for the console's pages and the `mailgate history`
// lines. Pure; imports nothing.

/** "550 5.1.1 No such user"; a text that starts with its code already is said once; a feedback report (code 0) is its text alone. */
export function replyText(r: { code: number; enhanced?: string; text: string } | null | undefined): string {
  if (!r) return '';
  // A complaint or feedback report has no SMTP code (0): its text alone.
  if (!r.code) return [r.enhanced, r.text].filter(Boolean).join(' ');
  // A bounce's diagnostic often repeats the code ("550 5.1.1 …"): say it once.
  return r.text.startsWith(String(r.code)) ? r.text : `${r.code}${r.enhanced ? ` ${r.enhanced}` : ''} ${r.text}`;
}
