// Inbound messages built to make a bounce parser spin (security issue, findings 1 and 2).

/** A "bounce" whose body is one run of letters without '@' (quadratic for `[chars]+@` regexes). */
export function longRunBounce(bytes: number): Buffer {
  return Buffer.from(`From: a@example.net\r\nTo: postmaster@bounces.relay.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n${'A'.repeat(bytes)}\r\n`);
}

/** A Postfix-style DSN naming `n` recipients, each in the text part and in its own status group. */
export function manyGroupsDsn(n: number, to = 'postmaster@bounces.relay.test'): Buffer {
  const out = [
    'From: MAILER-DAEMON@mx.example.net', `To: ${to}`, 'Subject: Undelivered Mail Returned to Sender', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"', '', '--B', 'Content-Type: text/plain', '',
    'I\'m sorry to have to inform you that your message could not be delivered.', '',
  ];
  for (let i = 0; i < n; i++) out.push(`<user${i}@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT TO command)`, '');
  out.push('--B', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.net', '');
  for (let i = 0; i < n; i++) out.push(`Final-Recipient: rfc822; user${i}@example.org`, 'Action: failed', 'Status: 5.1.1', '');
  out.push('--B--', '');
  return Buffer.from(out.join('\r\n'));
}
