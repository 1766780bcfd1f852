// Phone gateway: Twilio's REST API (2010-04-01). SMS through the Messages resource, robot voice calls
// through the Calls resource with inline TwiML <Say>; Twilio's error answers become readable GatewayErrors.
import { GatewayError, type PhoneGateway, type PhoneMessage } from '../types.js';
import { DEFAULT_GATEWAY_TIMEOUT_MS, parseJsonObject, postToGateway } from './http.js';
import { excerpt, redact } from '../http-text.js';
export interface TwilioGatewayOptions {
  name: string;
  /** Default https://api.twilio.com; tests point it at a loopback server. */
  baseUrl?: string;
  /** "AC…": the account the messages are sent from; also the Basic-auth user. */
  accountSid: string;
  authToken: string;
  /** `language` of the <Say> verb for calls; default ru-RU. */
  voiceLanguage?: string;
  /** Per request; default 10 s. */
  timeoutMs?: number;
}

export const TWILIO_API_BASE_URL = 'https://api.twilio.com';
export const DEFAULT_TWILIO_VOICE_LANGUAGE = 'ru-RU';
/** Twilio refuses inline TwiML longer than this (error 32018). */
export const TWILIO_MAX_TWIML_LENGTH = 4000;


/** Twilio's error body: `{ code, message, more_info, status }`. */
interface TwilioErrorBody {
  code?: number;
  message?: string;
}

type Kind = 'sms' | 'call';

/**
 * Wording for the Twilio error codes a shop meets in practice. Retryability is decided by the HTTP
 * status, never by the code (Twilio splits and adds codes over time); the table only names the problem.
 */
const TWILIO_REFUSALS: Record<number, { about: 'to' | 'from' | 'account'; reason: string }> = {
  20003: { about: 'account', reason: 'the account SID or auth token is wrong, or the account is suspended' },
  20404: { about: 'account', reason: 'the account SID was not found' },
  21211: { about: 'to', reason: 'not a valid phone number' },
  21214: { about: 'to', reason: 'the number cannot be reached' },
  21215: { about: 'to', reason: 'calls to this country are not enabled in the Twilio account (geo permissions)' },
  21408: { about: 'to', reason: 'SMS to this country are not enabled in the Twilio account (geo permissions)' },
  21610: { about: 'to', reason: 'the recipient has opted out (replied STOP)' },
  21612: { about: 'to', reason: 'Twilio cannot route a message from this sender to this number' },
  21614: { about: 'to', reason: 'not a mobile number' },
  21210: { about: 'from', reason: 'not a verified caller id of the Twilio account' },
  21212: { about: 'from', reason: 'not a valid sender number or name' },
  21606: { about: 'from', reason: 'not an SMS-capable number of the Twilio account' },
};

/** Escapes text for XML content and attribute values, dropping characters XML 1.0 does not allow at all. */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** The TwiML a robot call runs: reads `text` once in `language`. */
export function sayTwiml(text: string, language: string): string {
  return `<Response><Say language="${escapeXml(language)}">${escapeXml(text)}</Say></Response>`;
}

export class TwilioGateway implements PhoneGateway {
  readonly name: string;
  private readonly accountUrl: string;
  private readonly authorization: string;
  private readonly authToken: string;
  private readonly voiceLanguage: string;
  private readonly timeoutMs: number;

  constructor(options: TwilioGatewayOptions) {
    if (!/^[A-Za-z0-9]+$/.test(options.accountSid)) throw new Error(`Twilio gateway "${options.name}": the account SID must be letters and digits ("AC…")`);
    if (options.authToken === '') throw new Error(`Twilio gateway "${options.name}": the auth token is empty`);
    this.name = options.name;
    const base = (options.baseUrl ?? TWILIO_API_BASE_URL).replace(/\/+$/, '');
    this.accountUrl = `${base}/2010-04-01/Accounts/${options.accountSid}`;
    new URL(this.accountUrl); // throws on a malformed baseUrl now, not at the first message
    this.authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
    this.authToken = options.authToken;
    this.voiceLanguage = options.voiceLanguage ?? DEFAULT_TWILIO_VOICE_LANGUAGE;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS;
  }

  sendSms(msg: PhoneMessage, signal?: AbortSignal): Promise<{ providerId: string }> {
    return this.create('sms', msg, { To: msg.to, From: msg.from, Body: msg.text }, signal);
  }

  async call(msg: PhoneMessage, signal?: AbortSignal): Promise<{ providerId: string }> {
    const twiml = sayTwiml(msg.text, this.voiceLanguage);
    if (twiml.length > TWILIO_MAX_TWIML_LENGTH) {
      throw new GatewayError(`the call text for ${msg.to} is too long for Twilio: ${twiml.length} characters of TwiML, at most ${TWILIO_MAX_TWIML_LENGTH} (32018)`, false);
    }
    return this.create('call', msg, { To: msg.to, From: msg.from, Twiml: twiml }, signal);
  }

  private async create(kind: Kind, msg: PhoneMessage, fields: Record<string, string>, signal?: AbortSignal): Promise<{ providerId: string }> {
    const answer = await postToGateway({
      service: 'Twilio',
      url: new URL(`${this.accountUrl}/${kind === 'sms' ? 'Messages' : 'Calls'}.json`),
      headers: {
        authorization: this.authorization,
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        accept: 'application/json',
      },
      body: new URLSearchParams(fields).toString(),
      timeoutMs: this.timeoutMs,
      signal,
    });
    const json = parseJsonObject(answer.text);
    if (answer.status >= 200 && answer.status < 300) {
      const sid = json?.sid;
      if (typeof sid === 'string' && sid !== '') return { providerId: sid };
      // Twilio took the request: retrying could send it twice.
      throw new GatewayError(`Twilio accepted the ${kind === 'sms' ? 'SMS' : 'call'} to ${msg.to} but its answer had no ${kind === 'sms' ? 'message' : 'call'} id (HTTP ${answer.status})`, false);
    }
    const body: TwilioErrorBody = json
      ? { code: typeof json.code === 'number' ? json.code : undefined, message: typeof json.message === 'string' ? json.message : undefined }
      : {};
    const retryable = answer.status === 408 || answer.status === 429 || answer.status >= 500;
    throw new GatewayError(redact(this.describeRefusal(kind, msg, answer.status, body, answer.text), [this.authToken]), retryable, retryable ? answer.retryAfterMs : undefined);
  }

  private describeRefusal(kind: Kind, msg: PhoneMessage, status: number, body: TwilioErrorBody, text: string): string {
    const what = kind === 'sms' ? 'SMS' : 'call';
    const twilioSays = body.message ?? (excerpt(text, 200) || 'no details');
    const code = body.code !== undefined ? ` (${body.code})` : '';
    if (status === 429) return `Twilio is rate-limiting requests (HTTP 429${body.code !== undefined ? `, ${body.code}` : ''}): ${twilioSays}`;
    if (status === 408 || status >= 500) return `Twilio failed to take the ${what} to ${msg.to} (HTTP ${status}): ${twilioSays}${code}`;
    const known = body.code !== undefined ? TWILIO_REFUSALS[body.code] : undefined;
    if (known?.about === 'to') return `Twilio refused the number ${msg.to}: ${known.reason}${code}`;
    if (known?.about === 'from') return `Twilio refused the sender "${msg.from}": ${known.reason}${code}`;
    if (known?.about === 'account' || status === 401 || status === 403) {
      return `Twilio refused the account credentials (HTTP ${status}): ${known?.reason ?? twilioSays}${code}`;
    }
    return `Twilio refused the ${what} to ${msg.to} (HTTP ${status}): ${twilioSays}${code}`;
  }
}
