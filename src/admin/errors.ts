// The API's errors: a route throws ApiError(code, message) (or the queue's SubmitError, the
// directory's DirectoryError) and one handler answers { error, message, … } with the status the
// error table gives the code. Fastify's own errors (schema 400s) keep their handling.
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
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

/** The body and status of one of our errors; undefined for any other (fastify handles those). */
export function errorAnswer(err: unknown): { status: number; body: Record<string, unknown> } | undefined {
  if (err instanceof ApiError) return { status: httpStatusFor(err.code), body: { error: err.code, message: err.message, ...err.extra } };
  if (err instanceof DirectoryError) return { status: httpStatusFor(err.code), body: { error: err.code, message: err.message, issues: err.issues } };
  if (err instanceof SubmitError) return { status: httpStatusFor(err.code), body: { error: err.code, message: err.message } };
  return undefined;
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const answer = errorAnswer(err);
    if (!answer) throw err; // fastify's own handling: schema 400s, 500s
    return reply.code(answer.status).send(answer.body);
  });
}
