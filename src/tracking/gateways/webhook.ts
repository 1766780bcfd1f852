// Phone gateway: a generic signed JSON webhook, for operators who bridge to their own SMS / voice provider.
// Each SMS or call is one POST of { type, to, from, text, id }; the receiver's HTTP status decides
// between sent, refused (4xx) and try-again (5xx, 408, 429, timeouts, connection failures).
import { createHmac, randomUUID } from 'node:crypto';
import { GatewayError, type PhoneGateway, type PhoneMessage } from '../types.js';
import { DEFAULT_GATEWAY_TIMEOUT_MS, parseJsonObject, postToGateway } from './http.js';
import { excerpt, redact } from '../http-text.js';
export interface WebhookGatewayOptions {
  name: string;
  /** http(s) URL the JSON is POSTed to. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** When set, every request carries X-Mailgate-Signature (see signWebhookBody). */
  secret?: string;
  /** Per request; default 10 s. */
  timeoutMs?: number;
}

export const WEBHOOK_SIGNATURE_HEADER = 'X-Mailgate-Signature';


/** The JSON body of one webhook request. */
export interface WebhookGatewayRequest {
  type: 'sms' | 'call';
  /** E.164. */
  to: string;
  from: string;
  text: string;
  /**
   * A fresh UUID per sendSms()/call() invocation: the receiver can drop a request it sees twice
   * (same id), but a retry by mailgate's own queue is a new invocation and carries a new id.
   */
  id: string;
}

/**
 * The X-Mailgate-Signature value for `body` sent at `unixSeconds`: `t=<unix>,v1=<hex>`, where hex is
 * HMAC-SHA256 keyed with the secret over `<unix>.<body>` (the exact bytes of the request body).
 */
export function signWebhookBody(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export class WebhookGateway implements PhoneGateway {
  readonly name: string;
  private readonly url: URL;
  private readonly token?: string;
  private readonly secret?: string;
  private readonly timeoutMs: number;

  constructor(options: WebhookGatewayOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new Error(`webhook gateway "${options.name}": url is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`webhook gateway "${options.name}": url must be http:// or https://`);
    if (url.username !== '' || url.password !== '') throw new Error(`webhook gateway "${options.name}": put credentials in token, not in the url`);
    if (options.token !== undefined && !/^[\x21-\x7e]+$/.test(options.token)) throw new Error(`webhook gateway "${options.name}": token must be printable ASCII without spaces`);
    if (options.secret === '') throw new Error(`webhook gateway "${options.name}": secret is empty`);
    this.name = options.name;
    this.url = url;
    this.token = options.token;
    this.secret = options.secret;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS;
  }

  sendSms(msg: PhoneMessage, signal?: AbortSignal): Promise<{ providerId: string }> {
    return this.post('sms', msg, signal);
  }

  call(msg: PhoneMessage, signal?: AbortSignal): Promise<{ providerId: string }> {
    return this.post('call', msg, signal);
  }

  private async post(type: 'sms' | 'call', msg: PhoneMessage, signal?: AbortSignal): Promise<{ providerId: string }> {
    const request: WebhookGatewayRequest = { type, to: msg.to, from: msg.from, text: msg.text, id: msg.id ?? randomUUID() };
    const body = JSON.stringify(request);
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (this.secret !== undefined) headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()] = signWebhookBody(this.secret, body, Math.floor(Date.now() / 1000));
    const service = `${type === 'sms' ? 'SMS' : 'call'} gateway "${this.name}"`;
    const answer = await postToGateway({ service, url: this.url, headers, body, timeoutMs: this.timeoutMs, signal });

    if (answer.status >= 200 && answer.status < 300) {
      const id = parseJsonObject(answer.text)?.id;
      if (typeof id === 'string' && id !== '') return { providerId: id };
      if (typeof id === 'number') return { providerId: String(id) };
      return { providerId: request.id };
    }
    const said = redact(excerpt(answer.text, 200), [this.token, this.secret]) || 'no details';
    const what = type === 'sms' ? 'SMS' : 'call';
    if (answer.status === 408 || answer.status === 429 || answer.status >= 500) {
      throw new GatewayError(`${service} failed to take the ${what} to ${msg.to} (HTTP ${answer.status}): ${said}`, true, answer.retryAfterMs);
    }
    if (answer.status >= 300 && answer.status < 400) {
      throw new GatewayError(`${service} answered with a redirect (HTTP ${answer.status}); configure the final URL`, false);
    }
    if (answer.status === 401 || answer.status === 403) {
      throw new GatewayError(`${service} refused mailgate's credentials (HTTP ${answer.status}): ${said}`, false);
    }
    throw new GatewayError(`${service} refused the ${what} to ${msg.to} (HTTP ${answer.status}): ${said}`, false);
  }
}
