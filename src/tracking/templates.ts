// Notice texts: macros ({name}, {trackingCode}, {orderSum}, {orderReference}, {carrier}, {pickupPoint})
// filled from a shipment, with safe fallbacks for missing values and HTML escaping for HTML templates;
// and the built-in texts per status and language that a shop starts from.
import type { NoticeStatus } from './types.js';

export const MACROS = ['name', 'trackingCode', 'orderSum', 'orderReference', 'carrier', 'pickupPoint', 'shop'] as const;
export type Macro = (typeof MACROS)[number];
export type MacroValues = Partial<Record<Macro, string | undefined>>;

/** What a missing value renders as, per language: never "undefined", never an empty gap mid-sentence. */
const FALLBACKS: Record<string, Record<Macro, string>> = {
  ru: { name: 'покупатель', trackingCode: '', orderSum: '', orderReference: '', carrier: 'служба доставки', pickupPoint: 'пункт выдачи', shop: 'магазин' },
  en: { name: 'customer', trackingCode: '', orderSum: '', orderReference: '', carrier: 'the carrier', pickupPoint: 'the pick-up point', shop: 'the shop' },
};

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Macros used in a template that are not known: a typo like {trackingcode} is refused when the template is saved. */
export function unknownMacros(template: string): string[] {
  const known = new Set<string>(MACROS);
  return [...template.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]!).filter((m) => !known.has(m));
}

/**
 * Fills the macros; values (buyer-typed, attacker-controlled) are escaped when `html` is set. A value
 * that is missing becomes the language's neutral word; where there is none (order sum, order
 * reference), a line of a multi-line template that needs it is left out, and in a one-line template
 * (subject, SMS) the gap it leaves is closed — so no "Amount due: ." and no double spaces.
 */
export function renderTemplate(template: string, values: MacroValues, opts: { language: string; html?: boolean }): string {
  const fallback = FALLBACKS[opts.language] ?? FALLBACKS.en!;
  const multiLine = template.includes('\n');
  const out: string[] = [];
  for (const line of template.split('\n')) {
    let gap = false;
    const filled = line.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => {
      if (!(MACROS as readonly string[]).includes(name)) return whole;
      const raw = values[name as Macro]?.replace(/[\r\n\t]+/g, ' ').trim();
      const text = raw ? raw : fallback[name as Macro];
      if (text === '') gap = true;
      return opts.html ? escapeHtml(text) : text;
    });
    if (!gap) out.push(filled);
    else if (!multiLine) out.push(closeGaps(filled));
  }
  return out.join('\n');
}

/** A line after an empty value: no double spaces, no space before punctuation, no dangling "№"/"#"/":" at the end. */
function closeGaps(line: string): string {
  return line.replace(/ {2,}/g, ' ').replace(/ ([.,;:!?])/g, '$1').replace(/(?:\s*(?:№|#|:))+\s*$/u, '').replace(/([.,;:!?])\1+/g, '$1').trim();
}

export interface NoticeTemplate {
  subject: string;
  text: string;
  html?: string;
  sms: string;
  call: string;
}

const RU: Record<NoticeStatus, NoticeTemplate> = {
  accepted: {
    subject: 'Ваш заказ {orderReference} передан в доставку',
    text: 'Здравствуйте, {name}!\n\nВаш заказ передан в {carrier}. Трек-номер: {trackingCode}.\nНомер заказа: {orderReference}.\n\n{shop}',
    sms: 'Ваш заказ {orderReference} отправлен, трек-номер {trackingCode}. {shop}',
    call: 'Здравствуйте! Ваш заказ отправлен. Трек-номер придёт в СМС.',
  },
  'arrived-at-pickup': {
    subject: 'Ваш заказ {orderReference} ждёт вас в пункте выдачи',
    text: 'Здравствуйте, {name}!\n\nПосылка {trackingCode} прибыла в {pickupPoint}.\nСумма к оплате: {orderSum}.\nПожалуйста, заберите её вовремя.\n\n{shop}',
    sms: 'Посылка {trackingCode} прибыла в {pickupPoint}. Заберите её. {shop}',
    call: 'Здравствуйте! Ваша посылка прибыла в пункт выдачи. Пожалуйста, заберите её.',
  },
  delivered: {
    subject: 'Ваш заказ {orderReference} получен',
    text: 'Здравствуйте, {name}!\n\nПосылка {trackingCode} вручена. Спасибо за покупку!\n\n{shop}',
    sms: 'Посылка {trackingCode} вручена. Спасибо! {shop}',
    call: 'Здравствуйте! Ваша посылка вручена. Спасибо за покупку.',
  },
  returned: {
    subject: 'Ваш заказ {orderReference} возвращён отправителю',
    text: 'Здравствуйте, {name}!\n\nПосылка {trackingCode} возвращена отправителю. Свяжитесь с нами, если это ошибка.\n\n{shop}',
    sms: 'Посылка {trackingCode} возвращена отправителю. {shop}',
    call: 'Здравствуйте! Ваша посылка возвращена отправителю.',
  },
  'storage-expired': {
    subject: 'Срок хранения вашего заказа {orderReference} истёк',
    text: 'Здравствуйте, {name}!\n\nСрок хранения посылки {trackingCode} в {pickupPoint} истёк, она будет возвращена.\n\n{shop}',
    sms: 'Срок хранения посылки {trackingCode} истёк. {shop}',
    call: 'Здравствуйте! Срок хранения вашей посылки истёк.',
  },
  'not-picked-up-1': {
    subject: 'Напоминание: ваш заказ {orderReference} ждёт вас',
    text: 'Здравствуйте, {name}!\n\nПосылка {trackingCode} всё ещё ждёт вас в {pickupPoint}.\nСумма к оплате: {orderSum}.\n\n{shop}',
    sms: 'Напоминаем: посылка {trackingCode} ждёт вас в {pickupPoint}. {shop}',
    call: 'Здравствуйте! Напоминаем: ваша посылка ждёт вас в пункте выдачи.',
  },
  'not-picked-up-2': {
    subject: 'Последнее напоминание: ваш заказ {orderReference} скоро вернётся отправителю',
    text: 'Здравствуйте, {name}!\n\nПосылка {trackingCode} скоро будет возвращена отправителю. Заберите её в {pickupPoint}.\n\n{shop}',
    sms: 'Посылка {trackingCode} скоро вернётся отправителю. Заберите её! {shop}',
    call: 'Здравствуйте! Ваша посылка скоро вернётся отправителю. Пожалуйста, заберите её.',
  },
};

const EN: Record<NoticeStatus, NoticeTemplate> = {
  accepted: {
    subject: 'Your order {orderReference} is on its way',
    text: 'Hello {name},\n\nyour order has been handed to {carrier}. Tracking code: {trackingCode}.\nOrder number: {orderReference}.\n\n{shop}',
    sms: 'Your order {orderReference} has shipped, tracking code {trackingCode}. {shop}',
    call: 'Hello! Your order has been shipped.',
  },
  'arrived-at-pickup': {
    subject: 'Your order {orderReference} is ready for pick-up',
    text: 'Hello {name},\n\nparcel {trackingCode} has arrived at {pickupPoint}.\nAmount due: {orderSum}.\nPlease pick it up in time.\n\n{shop}',
    sms: 'Parcel {trackingCode} is ready at {pickupPoint}. {shop}',
    call: 'Hello! Your parcel is ready for pick-up.',
  },
  delivered: {
    subject: 'Your order {orderReference} was delivered',
    text: 'Hello {name},\n\nparcel {trackingCode} was delivered. Thank you for your order!\n\n{shop}',
    sms: 'Parcel {trackingCode} delivered. Thank you! {shop}',
    call: 'Hello! Your parcel was delivered. Thank you.',
  },
  returned: {
    subject: 'Your order {orderReference} was returned',
    text: 'Hello {name},\n\nparcel {trackingCode} was returned to the sender. Please contact us if this is a mistake.\n\n{shop}',
    sms: 'Parcel {trackingCode} was returned to the sender. {shop}',
    call: 'Hello! Your parcel was returned to the sender.',
  },
  'storage-expired': {
    subject: 'The storage period of your order {orderReference} has expired',
    text: 'Hello {name},\n\nthe storage period of parcel {trackingCode} at {pickupPoint} has expired; it will be returned.\n\n{shop}',
    sms: 'Storage period of parcel {trackingCode} expired. {shop}',
    call: 'Hello! The storage period of your parcel has expired.',
  },
  'not-picked-up-1': {
    subject: 'Reminder: your order {orderReference} is waiting',
    text: 'Hello {name},\n\nparcel {trackingCode} is still waiting for you at {pickupPoint}.\nAmount due: {orderSum}.\n\n{shop}',
    sms: 'Reminder: parcel {trackingCode} is waiting at {pickupPoint}. {shop}',
    call: 'Hello! Your parcel is still waiting for you at the pick-up point.',
  },
  'not-picked-up-2': {
    subject: 'Last reminder: your order {orderReference} goes back to the sender soon',
    text: 'Hello {name},\n\nparcel {trackingCode} will soon go back to the sender. Please pick it up at {pickupPoint}.\n\n{shop}',
    sms: 'Parcel {trackingCode} goes back to the sender soon. Pick it up! {shop}',
    call: 'Hello! Your parcel will soon be returned. Please pick it up.',
  },
};

export const BUILT_IN_TEMPLATES: Record<string, Record<NoticeStatus, NoticeTemplate>> = { ru: RU, en: EN };
