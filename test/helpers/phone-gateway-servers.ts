// Loopback HTTP servers on 127.0.0.1 that speak like the phone gateways mailgate talks to: Twilio's REST
// API (Messages.json / Calls.json, Basic auth, form bodies, Twilio error JSON) and the generic signed JSON
// webhook. They record what arrived and can be told to refuse, fail or hang. No mocks: real HTTP.
//
//   const twilio = await startTwilioServer({ accountSid: 'AC…', authToken: 'secret' });
//   ... new TwilioGateway({ name: 't', baseUrl: twilio.url, accountSid, authToken }) ...
//   const [sms] = await twilio.waitFor(1);
//   twilio.fail(429, 1, '7');      // next request: 429 with Retry-After: 7
//   twilio.refuse('+74951234567', 21614);
//   await twilio.close();
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the next requests fail: an HTTP status answered at once, or 'hang' (never answered until close). */
export type GatewayFailMode = 500 | 503 | 429 | 'hang';

interface FailPlan {
  mode: GatewayFailMode;
  remaining: number;
  retryAfter?: string;
}

interface Waiter<T> {
  count: number;
  resolve: (items: T[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export interface LoopbackGatewayServer<T> {
  /** http://127.0.0.1:<port> (Twilio: the baseUrl; webhook: the endpoint to POST to). */
  url: string;
  /** Accepted requests, in arrival order. */
  received: T[];
  /** Every request that reached the server, accepted or not. */
  readonly attempts: number;
  /** Resolves with `received` once it holds `count` entries; rejects after `timeoutMs` (default 5 s). */
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
  /** The next `times` requests fail with `mode` (Retry-After: `retryAfter` on 429/503 when given). */
  fail(mode: GatewayFailMode, times?: number, retryAfter?: string): void;
  close(): Promise<void>;
}

/** What the Twilio server recorded for one accepted request. */
export interface TwilioReceived {
  kind: 'sms' | 'call';
  sid: string;
  to: string;
  from: string;
  /** SMS text (Body). */
  body?: string;
  /** Call instructions (Twiml) exactly as sent. */
  twiml?: string;
  /** For calls: the <Say> of a `<Response><Say language="…">…</Say></Response>` document, entities decoded; undefined when the TwiML is not exactly that, well-formed. */
  say?: { language: string; text: string };
}

export interface TwilioServer extends LoopbackGatewayServer<TwilioReceived> {
  /** Requests to `number` are refused with this Twilio error code (HTTP 400), e.g. 21211, 21614, 21610. */
  refuse(number: string, code: number): void;
}

export interface TwilioServerOptions {
  accountSid: string;
  authToken: string;
}

/** What the webhook server recorded for one accepted request. */
export interface WebhookReceived {
  /** The parsed JSON body. */
  json: Record<string, unknown>;
  /** The raw body as sent. */
  raw: string;
  authorization?: string;
  signature?: string;
  /** Whether X-Mailgate-Signature matched HMAC-SHA256(secret, t + "." + raw); undefined without a secret. */
  signatureValid?: boolean;
}

export interface WebhookGatewayServerOptions {
  /** When set, requests without `Authorization: Bearer <token>` are answered 401. */
  token?: string;
  /** When set, each request's signature is checked (recorded in signatureValid; invalid ones answered 401). */
  secret?: string;
}

export interface WebhookGatewayServer extends LoopbackGatewayServer<WebhookReceived> {
  /** The next answers to accepted requests: status and raw body (default 200 `{"id":"bridge-<n>"}`). */
  answerWith(status: number, body: string, times?: number): void;
}

/** Common machinery: listening on 127.0.0.1:0, failure plans, waiters, closing hanging requests. */
function loopbackServer<T>(handle: (req: http.IncomingMessage, body: string, res: http.ServerResponse, accept: (item: T) => void) => void) {
  const received: T[] = [];
  const waiters: Waiter<T>[] = [];
  const plans: FailPlan[] = [];
  const hanging = new Set<http.ServerResponse>();
  let attempts = 0;

  const accept = (item: T): void => {
    received.push(item);
    for (const w of [...waiters]) {
      if (received.length >= w.count) {
        clearTimeout(w.timer);
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(received.slice());
      }
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      const plan = plans[0];
      if (plan) {
        if (--plan.remaining <= 0) plans.shift();
        if (plan.mode === 'hang') {
          hanging.add(res);
          return;
        }
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (plan.retryAfter !== undefined) headers['retry-after'] = plan.retryAfter;
        res.writeHead(plan.mode, headers).end(
          JSON.stringify(
            plan.mode === 429
              ? { code: 20429, message: 'Too Many Requests', more_info: 'https://www.twilio.com/docs/errors/20429', status: 429 }
              : { code: 20500, message: 'Internal Server Error', more_info: 'https://www.twilio.com/docs/errors/20500', status: plan.mode },
          ),
        );
        return;
      }
      handle(req, Buffer.concat(chunks).toString('utf8'), res, accept);
    });
  });

  const started = new Promise<string>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });

  const base = {
    received,
    get attempts() {
      return attempts;
    },
    waitFor(count: number, timeoutMs = 5000): Promise<T[]> {
      if (received.length >= count) return Promise.resolve(received.slice());
      return new Promise<T[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`waited ${timeoutMs} ms for ${count} request(s), got ${received.length}`));
        }, timeoutMs);
        const waiter: Waiter<T> = { count, resolve, reject, timer };
        waiters.push(waiter);
      });
    },
    fail(mode: GatewayFailMode, times = 1, retryAfter?: string): void {
      plans.push({ mode, remaining: times, retryAfter });
    },
    async close(): Promise<void> {
      for (const res of hanging) res.destroy();
      hanging.clear();
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error('server closed'));
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return { started, base };
}

function twilioError(res: http.ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }));
}

/** Twilio's wording for the refusal codes tests use; other codes get a generic text. */
function twilioRefusalText(code: number, to: string): string {
  switch (code) {
    case 21211:
      return `The 'To' number ${to} is not a valid phone number.`;
    case 21614:
      return `'To' number is not a valid mobile number`;
    case 21610:
      return 'Attempt to send to unsubscribed recipient';
    case 21408:
      return `Permission to send an SMS has not been enabled for the region indicated by the 'To' number: ${to}.`;
    default:
      return `Refused (${code})`;
  }
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the text of a well-formed XML character-data run; undefined when a bare & or < makes it malformed. */
function decodeXmlText(text: string): string | undefined {
  if (text.includes('<')) return undefined;
  let ok = true;
  const out = text.replace(/&([^;]*);?/g, (match, name: string) => {
    if (!match.endsWith(';')) return ((ok = false), '');
    if (name in XML_ENTITIES) return XML_ENTITIES[name]!;
    const num = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(name);
    if (num) return String.fromCodePoint(num[1]!.startsWith('x') ? parseInt(num[1]!.slice(1), 16) : Number(num[1]));
    return ((ok = false), '');
  });
  return ok ? out : undefined;
}

/** `<Response><Say language="…">…</Say></Response>` → its language and text; undefined for anything else. */
export function parseSayTwiml(twiml: string): { language: string; text: string } | undefined {
  const m = /^<Response><Say language="([^"]*)">([^]*)<\/Say><\/Response>$/.exec(twiml);
  if (!m) return undefined;
  const language = decodeXmlText(m[1]!);
  const text = decodeXmlText(m[2]!);
  return language !== undefined && text !== undefined ? { language, text } : undefined;
}

export async function startTwilioServer(options: TwilioServerOptions): Promise<TwilioServer> {
  const refusals = new Map<string, number>();
  const expectedAuth = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  const { started, base } = loopbackServer<TwilioReceived>((req, body, res, accept) => {
    if (req.headers.authorization !== expectedAuth) return twilioError(res, 401, 20003, 'Authenticate');
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/(Messages|Calls)\.json$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m || m[1] !== options.accountSid) {
      return twilioError(res, 404, 20404, `The requested resource ${req.url ?? ''} was not found`);
    }
    if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return twilioError(res, 400, 20001, 'Expected a form-encoded body');
    }
    const form = new URLSearchParams(body);
    const kind = m[2] === 'Messages' ? 'sms' : 'call';
    const to = form.get('To');
    const from = form.get('From');
    if (!to) return twilioError(res, 400, 21604, "A 'To' phone number is required.");
    if (!from) return twilioError(res, 400, 21603, "A 'From' phone number is required.");
    if (kind === 'sms' && !form.get('Body')) return twilioError(res, 400, 21602, 'Message body is required.');
    if (kind === 'call' && !form.get('Twiml')) return twilioError(res, 400, 21200, 'A Url, Twiml or ApplicationSid parameter is required.');
    const refusal = refusals.get(to);
    if (refusal !== undefined) return twilioError(res, 400, refusal, twilioRefusalText(refusal, to));

    const sid = `${kind === 'sms' ? 'SM' : 'CA'}${randomBytes(16).toString('hex')}`;
    const item: TwilioReceived =
      kind === 'sms'
        ? { kind, sid, to, from, body: form.get('Body')! }
        : { kind, sid, to, from, twiml: form.get('Twiml')!, say: parseSayTwiml(form.get('Twiml')!) };
    accept(item);
    res.writeHead(201, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        sid,
        account_sid: options.accountSid,
        to,
        from,
        ...(kind === 'sms' ? { body: item.body, num_segments: '1', direction: 'outbound-api' } : { direction: 'outbound-api' }),
        status: 'queued',
        api_version: '2010-04-01',
        error_code: null,
        error_message: null,
        uri: `/2010-04-01/Accounts/${options.accountSid}/${m[2]}/${sid}.json`,
      }),
    );
  });
  const url = await started;
  return Object.assign(base, {
    url,
    refuse(number: string, code: number): void {
      refusals.set(number, code);
    },
  });
}

/** Checks `t=<unix>,v1=<hex>` against HMAC-SHA256(secret, t + "." + raw), written out here independently of mailgate's code. */
function signatureMatches(secret: string, header: string | undefined, raw: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${raw}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}

export async function startWebhookGatewayServer(options: WebhookGatewayServerOptions = {}): Promise<WebhookGatewayServer> {
  const answers: { status: number; body: string; remaining: number }[] = [];
  let served = 0;
  const { started, base } = loopbackServer<WebhookReceived>((req, raw, res, accept) => {
    const authorization = req.headers.authorization;
    const signatureHeader = req.headers['x-mailgate-signature'];
    const signature = Array.isArray(signatureHeader) ? signatureHeader[0] : signatureHeader;
    if (options.token !== undefined && authorization !== `Bearer ${options.token}`) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('bad bearer token');
      return;
    }
    const signatureValid = options.secret !== undefined ? signatureMatches(options.secret, signature, raw) : undefined;
    if (signatureValid === false) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('bad signature');
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('body is not JSON');
      return;
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('body is not a JSON object');
      return;
    }
    const planned = answers[0];
    if (planned && --planned.remaining <= 0) answers.shift();
    const status = planned?.status ?? 200;
    if (status >= 200 && status < 300) accept({ json: json as Record<string, unknown>, raw, authorization, signature, signatureValid });
    res.writeHead(status, { 'content-type': 'application/json' }).end(planned?.body ?? JSON.stringify({ id: `bridge-${++served}` }));
  });
  const url = await started;
  return Object.assign(base, {
    url,
    answerWith(status: number, body: string, times = 1): void {
      answers.push({ status, body, remaining: times });
    },
  });
}
