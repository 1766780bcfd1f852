// The API's errors, all in one shape: { error: CODE, message: "…" } (a few add fields, such as
// `issues`). A route throws ApiError(code, message) (or the queue's SubmitError, the directory's
// DirectoryError) and one handler answers with the status the error table gives the code. Fastify's
// own errors are put in the same shape: schema validation (unknown parameters named), bad JSON,
// a body too large or of an unknown type, an unknown route, and anything unexpected (500).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { httpStatusFor, type ErrorCode } from '../error-codes.js';
import { SubmitError } from '../queue/queue.js';
import { DirectoryError } from '../tenants/directory.js';

export class ApiError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Sends an error answer directly (for hooks and routes that answer with more fields than the error). */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(httpStatusFor(code)).send({ error: code, message, ...extra });
}

/** The body and status of one of our errors; undefined for any other. */
export function errorAnswer(err: unknown): { status: number; body: Record<string, unknown> } | undefined {
  if (err instanceof ApiError) return { status: httpStatusFor(err.code), body: { error: err.code, message: err.message, ...err.extra } };
  if (err instanceof DirectoryError) return { status: httpStatusFor(err.code), body: { error: err.code, message: err.message, issues: err.issues } };
  if (err instanceof SubmitError) return { status: httpStatusFor(err.code), body: { error: err.code, message: err.message } };
  return undefined;
}

type Part = 'querystring' | 'body' | 'params' | 'headers';
const PART_NAMES: Record<Part, string> = { querystring: 'query parameter', body: 'body field', params: 'path parameter', headers: 'header' };

/** The names given in `part` of the request that the route's schema does not list. */
export function unknownNames(req: FastifyRequest, part: Part): string[] {
  const schema = (req.routeOptions.schema as Record<string, { properties?: Record<string, unknown> } | undefined> | undefined)?.[part];
  const given = part === 'querystring' ? req.query : part === 'body' ? req.body : part === 'params' ? req.params : undefined;
  if (!schema?.properties || !given || typeof given !== 'object' || Array.isArray(given)) return [];
  return Object.keys(given).filter((k) => !Object.hasOwn(schema.properties!, k));
}

interface SchemaNode { properties?: Record<string, SchemaNode>; items?: SchemaNode; anyOf?: SchemaNode[]; oneOf?: SchemaNode[] }

/** The properties of the object schema at `path` (array indexes step into `items`; the first alternative of anyOf/oneOf with properties). */
function propertiesAt(schema: SchemaNode | undefined, path: string[]): Record<string, SchemaNode> {
  const object = (s: SchemaNode | undefined) => (s && !s.properties ? [...(s.anyOf ?? []), ...(s.oneOf ?? [])].find((x) => x.properties || x.items) ?? s : s);
  let node = object(schema);
  for (const seg of path) node = object(/^\d+$/.test(seg) ? node?.items : node?.properties?.[seg]);
  return node?.properties ?? {};
}

/** A schema validation failure in the API's words. */
function validationAnswer(err: FastifyError, req: FastifyRequest): { error: ErrorCode; message: string } {
  const part = (err.validationContext ?? 'body') as Part;
  // A misspelt field inside an object (`limits.messagesPerMinut`): named with its path.
  const nested = err.validation?.find((v) => v.keyword === 'additionalProperties' && v.instancePath !== '');
  if (nested) {
    const at = nested.instancePath.slice(1).split('/');
    const name = String((nested.params as { additionalProperty?: unknown }).additionalProperty ?? '');
    const known = Object.keys(propertiesAt((req.routeOptions.schema as Record<string, SchemaNode> | undefined)?.[part], at));
    return { error: 'UNKNOWN_PARAMETER', message: `unknown ${PART_NAMES[part]}: ${[...at, name].join('.')}; ${at.join('.')} takes ${known.length ? known.join(', ') : 'none'}` };
  }
  if (err.validation?.some((v) => v.keyword === 'additionalProperties')) {
    const names = unknownNames(req, part);
    const known = Object.keys((req.routeOptions.schema as Record<string, { properties?: object }> | undefined)?.[part]?.properties ?? {});
    const what = `${PART_NAMES[part]}${names.length === 1 ? '' : 's'}`;
    return { error: 'UNKNOWN_PARAMETER', message: `unknown ${what}: ${names.join(', ')}; this route takes ${known.length ? known.join(', ') : 'none'}` };
  }
  return { error: 'INVALID', message: err.message };
}

/** Fastify's own errors (body parsing, limits) by status. */
const BY_STATUS: Record<number, ErrorCode> = { 413: 'TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 404: 'NOT_FOUND', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN' };

/**
 * `log`: where a failure inside mailgate (500) is written, with the method, the route's pattern and
 * the error's message and stack; never the query string or the body, which may hold tokens or
 * buyers' addresses. The client gets a plain answer that points to this log.
 */
export function installErrorHandler(app: FastifyInstance, log?: Logger): void {
  const logFailure = (err: Error, req: FastifyRequest) =>
    log?.error({ method: req.method, route: req.routeOptions?.url ?? req.url.split('?')[0], err }, 'admin API request failed');
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const answer = errorAnswer(err);
    if (answer) return reply.code(answer.status).send(answer.body);
    if (err.validation) return reply.code(400).send(validationAnswer(err, req));
    if (err.name === 'ResponseSchemaError') {
      logFailure(err, req);
      return reply.code(500).send({ error: 'INTERNAL', message: err.message });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: BY_STATUS[status] ?? 'INVALID', message: err.message });
    logFailure(err, req);
    return reply.code(500).send({ error: 'INTERNAL', message: 'the request failed inside mailgate; the server log has the details' });
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
}
