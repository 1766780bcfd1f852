// The admin API's contract, put on every route as it is registered: the docs of api-docs.ts
// (summary, description, success schema, ErrorAnswer for every 4xx/5xx), the shared schemas of
// api-schemas.ts, and "no query parameters beyond the listed ones". In check mode (tests) every
// answer is validated against its schema before it is sent, with objects closed: a field the
// schema lacks, or a wrong type, fails the request (500) instead of being dropped or coerced.
import type { FastifyInstance } from 'fastify';
import { Ajv } from 'ajv';
import { API_DOCS } from './api-docs.js';
import { API_SCHEMAS, ref } from './api-schemas.js';

export class ResponseSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResponseSchemaError';
  }
}

type Schema = Record<string, unknown>;

/** A copy of `schema` where every object that lists properties takes no others (unless it says so). */
export function closed<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(closed) as T;
  if (!schema || typeof schema !== 'object') return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, closed(s)])) : closed(v);
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out as T;
}

/** A checker of answers against `schema` (closed), knowing the shared schemas; throws ResponseSchemaError. */
export function responseChecker(): (schema: object, where: string) => (data: unknown) => string {
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const s of API_SCHEMAS) ajv.addSchema(closed(s) as Schema);
  return (schema, where) => {
    const validate = ajv.compile(closed(schema) as Schema);
    return (data) => {
      if (!validate(data)) throw new ResponseSchemaError(`${where}: the answer does not match its schema: ${ajv.errorsText(validate.errors, { dataVar: 'answer' })}`);
      return JSON.stringify(data);
    };
  };
}

/** Registers the shared schemas (once per app: a plugin scope sees its parent's). */
export function addApiSchemas(app: FastifyInstance): void {
  for (const s of API_SCHEMAS) if (!app.getSchema(s.$id)) app.addSchema(s);
}

export function installApiContract(api: FastifyInstance, opts: { checkResponses?: boolean }): void {
  addApiSchemas(api);
  api.addHook('onRoute', (route) => {
    const schema = (route.schema ??= {}) as Schema & { querystring?: Schema; hide?: boolean };
    // A route without a query schema takes no query parameters; one without additionalProperties takes only its own.
    schema.querystring ??= { type: 'object', properties: {}, additionalProperties: false };
    schema.querystring.additionalProperties ??= false;
    if (schema.hide) return;
    const path = route.url.replace(/^\/api\/v1/, '');
    const method = route.method === 'HEAD' ? 'GET' : String(route.method);
    const doc = API_DOCS[`${method} ${path}`];
    if (!doc) return; // test/openapi.test.ts names operations without docs
    schema.summary ??= doc.summary;
    schema.description ??= doc.description;
    const ok = Object.fromEntries(Object.entries(doc.ok).map(([status, s]) => [status, s ?? { type: 'null', description: 'No content' }]));
    schema.response ??= { ...ok, '4xx': ref('ErrorAnswer'), '5xx': ref('ErrorAnswer') };
  });
  if (opts.checkResponses) {
    const checker = responseChecker();
    api.setSerializerCompiler(({ schema, method, url, httpStatus }) => checker(schema, `${method} ${url} ${httpStatus}`));
  }
}
