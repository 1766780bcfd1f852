// Buyer notices: each due notice is sent exactly once — a synced "sending" mark before the hand-off;
// after a crash an e-mail notice is found by its Message-ID, an SMS or call is not repeated — inside the
// shop's sending window, by e-mail through submit() or by SMS / voice call through a phone gateway.
// Failures for good go to the error log.
import type { StoreOp } from '../store/ports.js';
import { carrierLabel } from './carriers/index.js';
import { composeMail, noticeMessageId } from './compose.js';
import type { TrackingContext } from './context.js';
import type { Shipment } from './lifecycle.js';
import { sendingWindowOf, type TrackingSettings } from './settings.js';
import type { PendingNotice } from './shipments.js';
import { BUILT_IN_TEMPLATES, renderTemplate, type MacroValues } from './templates.js';
import { GatewayError } from './types.js';
import { inWindow, nextWindowStart } from './window.js';

const MAX_SEND_ATTEMPTS = 5;

export class NoticeSender {
  constructor(private readonly ctx: TrackingContext) {}

  /** Sends the notices that are due; resolves with how many went out. */
  async sendDueNotices(): Promise<number> {
    let sent = 0;
    for (;;) {
      const now = this.ctx.now();
      const due = await this.ctx.deps.shipments.dueNotices(now, 200);
      if (due.length === 0) return sent;
      for (const n of due) if (await this.sendNotice(n, now)) sent++;
      if (due.length < 200) return sent;
    }
  }

  /** Sends one due notice; true when it went out. */
  private async sendNotice(n: PendingNotice, now: number): Promise<boolean> {
    const store = this.ctx.deps.shipments;
    const dropKey: StoreOp = store.noticeOp(n, 'del');
    const s = await store.get(n.tenant, n.carrier, n.code);
    const slot = `${n.status}:${n.channel}`;
    const rec = s?.notices[slot];
    if (!s || !rec || (rec.state !== 'scheduled' && rec.state !== 'sending')) {
      await store.write([dropKey]); // deleted shipment, or already handled
      return false;
    }
    const settings = await this.ctx.settings(n.tenant);
    const tenant = this.ctx.deps.tenant(n.tenant);
    // Only this notice's slot changes; the rest is re-read under the lock, so a concurrent import or check is kept.
    const update = (next: Shipment['notices'][string], extra: StoreOp[] = [], sync = false) => store.exclusive(async () => {
      const current = await store.get(n.tenant, n.carrier, n.code);
      if (!current) return store.write(extra, sync);
      const after = { ...current, notices: { ...current.notices, [slot]: next }, updatedAt: now };
      await store.write([...extra, ...store.ops(current, after)], sync);
    });
    if (!settings.enabled || !tenant) {
      await update({ state: 'skipped', at: now, detail: tenant ? 'tracking was switched off before the notice was due' : 'the tenant no longer exists' }, [dropKey]);
      return false;
    }
    const messageId = noticeMessageId(['notice', s.tenant, s.carrier, s.code, n.status], this.ctx.deps.hostname);
    if (rec.state === 'sending') {
      // Interrupted by a crash or kill between "sending" and "sent".
      if (n.channel === 'email') {
        const queued = await this.ctx.deps.queuedByMessageId(messageId);
        if (queued) {
          await update({ state: 'sent', at: now, detail: `queued as ${queued}` }, [dropKey], true);
          return false;
        }
      } else {
        const detail = `interrupted by a restart while handing it to the gateway; not repeated, so the buyer gets no duplicate`;
        await update({ state: 'failed', at: now, detail }, [dropKey], true);
        await this.recordFailure(s, n, detail);
        return false;
      }
    }
    const window = sendingWindowOf(settings);
    if (!inWindow(now, window)) {
      const sendAt = nextWindowStart(now, window);
      await update({ ...rec, state: 'scheduled', sendAt }, [dropKey, store.noticeOp({ ...n, sendAt })]);
      return false;
    }
    const attempts = (rec.attempts ?? 0) + 1;
    await update({ state: 'sending', at: now, attempts }, [], true);
    try {
      const detail = await this.deliverNotice(s, n, settings, tenant, messageId);
      await update({ state: 'sent', at: this.ctx.now(), attempts, detail }, [dropKey], true);
      this.ctx.stats.noticesSent++;
      this.ctx.deps.log.info({ tenant: s.tenant, code: s.code, status: n.status, channel: n.channel, detail }, 'buyer notice sent');
      return true;
    } catch (err) {
      const e = err as Error & { retryable?: boolean; retryAfterMs?: number; maybeSent?: boolean };
      // An SMS or call the gateway may have taken is not repeated: at most once for a buyer's phone.
      if (e.maybeSent) e.message = `${e.message}; the gateway may have sent it, so it is not repeated (no duplicate for the buyer)`;
      const retryable = e.retryable === true && !e.maybeSent && attempts < MAX_SEND_ATTEMPTS;
      if (retryable) {
        const notBefore = this.ctx.now() + Math.max(e.retryAfterMs ?? 0, 60_000 * 5 ** (attempts - 1));
        const sendAt = nextWindowStart(notBefore, window);
        await update({ state: 'scheduled', at: now, sendAt, notBefore, attempts, detail: e.message }, [dropKey, store.noticeOp({ ...n, sendAt })], true);
        this.ctx.deps.log.warn({ tenant: s.tenant, code: s.code, channel: n.channel, err: e.message, retryAt: new Date(sendAt).toISOString() }, 'buyer notice failed; retrying');
      } else {
        await update({ state: 'failed', at: now, attempts, detail: e.message }, [dropKey], true);
        await this.recordFailure(s, n, e.message);
        this.ctx.stats.noticesFailed++;
      }
      return false;
    }
  }

  private macros(s: Shipment, shop: string): MacroValues {
    return {
      name: s.name, trackingCode: s.code, orderSum: s.orderSum, orderReference: s.orderReference,
      carrier: carrierLabel(s.carrier), pickupPoint: s.pickupPoint, shop,
    };
  }

  /** Hands one notice to its channel; resolves with what to record (queue id, provider id). */
  private async deliverNotice(s: Shipment, n: PendingNotice, settings: TrackingSettings, tenant: { name: string; from: { address: string; name?: string } }, messageId: string): Promise<string> {
    const language = s.language ?? settings.language;
    const own = settings.templates[language]?.[n.status] ?? {};
    const builtIn = BUILT_IN_TEMPLATES[language]?.[n.status] ?? BUILT_IN_TEMPLATES.en![n.status];
    const values = this.macros(s, tenant.name);
    if (n.channel === 'email') {
      const body = composeMail({
        from: { address: tenant.from.address, name: tenant.from.name ?? tenant.name },
        to: [s.email!],
        subject: renderTemplate(own.subject ?? builtIn.subject, values, { language }),
        text: renderTemplate(own.text ?? builtIn.text, values, { language }),
        ...(own.html ? { html: renderTemplate(own.html, values, { language, html: true }) } : {}),
        messageId, category: 'tracking', date: this.ctx.now(),
        ...(s.orderReference ? { reference: s.orderReference } : {}),
      });
      const { id } = await this.ctx.deps.submit(s.tenant, { from: tenant.from.address, to: [s.email!] }, body);
      return `queued as ${id}`;
    }
    const setup = n.channel === 'sms' ? settings.sms! : settings.call!;
    const gateway = this.ctx.deps.gateways.get(setup.gateway);
    if (!gateway) throw new GatewayError(`phone gateway "${setup.gateway}" is not configured on this mailgate`, false);
    const text = renderTemplate((n.channel === 'sms' ? own.sms : own.call) ?? (n.channel === 'sms' ? builtIn.sms : builtIn.call), values, { language });
    const from = n.channel === 'sms' ? settings.sms!.sender : settings.call!.callerId;
    const msg = { to: s.phoneE164!, from, text, id: `${s.tenant}.${s.carrier}.${s.code}.${n.status}.${n.channel}` };
    const { providerId } = n.channel === 'sms' ? await gateway.sendSms(msg) : await gateway.call(msg);
    return `${gateway.name} id ${providerId}`;
  }

  private async recordFailure(s: Shipment, n: PendingNotice, detail: string): Promise<void> {
    const code = n.channel === 'email' ? 'EMAIL_NOTICE_FAILED' : n.channel === 'sms' ? 'SMS_FAILED' : 'CALL_FAILED';
    await this.ctx.deps.recordEvents([{
      time: this.ctx.now(), type: 'notice-failed', msgId: s.code, tenant: s.tenant,
      recipient: n.channel === 'email' ? (s.email ?? '') : (s.phoneE164 ?? ''), code,
      detail: `${n.status} ${n.channel} notice for parcel ${s.code} failed: ${detail}`,
      ...(s.orderReference ? { reference: s.orderReference } : {}),
      ...(s.phoneE164 ? { phone: s.phoneE164 } : {}),
    }]);
  }
}
