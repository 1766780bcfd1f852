// RFC 3834 automatic replies (out of office, ticket receipts). They are not bounces and change
// nothing, with one exception: an automatic "this address is no longer in use" is the mailbox
// telling us it is gone, which counts like a soft bounce about a disabled mailbox. Pure.
import type { Extracted } from './failure.js';
import { oneLine } from './failure.js';
import type { MailView } from './message.js';

const AUTO_SUBJECT = /^(auto(matic)?[- _]?(reply|response|respons|antwort|answer)|automatische antwort|out of (the )?office|ooo\b|abwesenheit|autoreply|auto-reply|автоответ|автоматический ответ|vacation|absence|réponse automatique|risposta automatica|respuesta automática|i am (currently )?(out|away)|away from (the )?office|ich bin (nicht|bis)|自動応答|自動返信)/i;
const OOO = /out of (the )?office|ooo\b|abwesen|vacation|urlaub|absence|away|отпуск|нет на месте|не в офисе|not in the office|nicht im (büro|buero|hause|haus)|außer haus|ausser haus|holiday|congé|ferie|vacaciones|fuera de la oficina|absent|sleeping|不在|出張|休暇|外出/i;
const GONE = /(inbox|mailbox|address|account|e-?mail)( address)?[^\n]{0,80}?\b(is )?no longer (in use|active|valid|monitored|being monitored|available)|(has|have) left (the company|our (company|organi[sz]ation))|no longer (works|employed) (here|at|with)/i;

export function readAutoReply(view: MailView): Extracted | undefined {
  const autoSubmitted = (view.header('auto-submitted') ?? '').toLowerCase();
  const subject = view.subject;
  const flagged = (autoSubmitted !== '' && autoSubmitted !== 'no') || view.headers.has('x-autoreply') || view.headers.has('x-autorespond') ||
    /auto[_-]?reply/i.test(view.header('precedence') ?? '') || (view.headers.has('x-auto-response-suppress') && AUTO_SUBJECT.test(subject));
  const bare = subject.replace(/^(re|aw|fw|fwd)\s*:\s*/i, '').replace(/^=\?[^?]+\?[qb]\?/i, '');
  if (!flagged && !AUTO_SUBJECT.test(bare)) return undefined;
  const recipient = view.from;
  const text = view.text.slice(0, 2000);
  if (GONE.test(text)) {
    return { kind: 'auto-reply', failures: [{ ...(recipient ? { recipient } : {}), diagnostic: oneLine(text.slice(0, 600)), stated: { class: 'soft', reason: 'suspended' } }] };
  }
  const reason = OOO.test(`${autoSubmitted} ${subject} ${text.slice(0, 1000)}`) ? 'out-of-office' : 'auto-reply';
  return { kind: 'auto-reply', failures: recipient ? [{ recipient, diagnostic: oneLine(text.slice(0, 300)), stated: { class: 'auto-reply', reason } }] : [] };
}
