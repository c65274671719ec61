// Checks real traffic against the API description (contract.md#api-description): an HTTP response against the
// OpenAPI document's answer for its route and status, a socket frame against the AsyncAPI document's message of its
// channel. The JSON Schemas are read from the documents themselves (Ajv, draft 2020-12 for OpenAPI, draft 7 for
// AsyncAPI), never from the zod schemas they were built from: the point is that the DOCUMENT matches reality.
// Validators are compiled once per schema and kept for the process (every test file of a worker shares them).
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Ajv, type ValidateFunction } from 'ajv';

type Json = Record<string, unknown>;

/** One HTTP exchange as a client saw it. */
export type ObservedResponse = { method: string; url: string; status: number; contentType: string | null; body: string };

/** Checks traffic against the documents; each check answers the problems it found (none: conforms). */
export interface ApiConformance {
  /** Problems of one response; a path the document does not describe is not checked (empty). */
  checkResponse(observed: ObservedResponse): string[];
  /** Problems of one text frame received on a socket at `url`; a socket the document does not describe: none. */
  checkFrame(url: string, text: string): string[];
}

type ResponseObject = { $ref?: string; content?: Record<string, { schema?: unknown }> };
type Parameter = { name: string; in: string; schema?: { pattern?: string } };
type Operation = { parameters?: Parameter[]; responses?: Record<string, ResponseObject> };
/** One operation's path: `strict` holds its path parameters to their patterns (a `{chat}` is a UUID), `loose` does not. */
type PathMatcher = { template: string; verb: string; strict: RegExp; loose: RegExp; literals: number };

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A JSON pointer segment. */
const ptr = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

function pathRegex(template: string, patterns: Map<string, string>): RegExp {
  const segments = template.split('/').map((s) => {
    const param = /^\{([^}]+)\}$/.exec(s)?.[1];
    if (param === undefined) return escapeRe(s);
    const pattern = patterns.get(param);
    return pattern ? `(?:${pattern.replace(/^\^/, '').replace(/\$$/, '')})` : '[^/]+';
  });
  return new RegExp(`^${segments.join('/')}$`);
}

function pathMatchers(openapi: Json): PathMatcher[] {
  const paths = (openapi['paths'] ?? {}) as Record<string, Record<string, Operation>>;
  return Object.entries(paths)
    .flatMap(([template, item]) =>
      Object.entries(item).map(([verb, op]) => {
        const patterns = new Map((op.parameters ?? []).filter((p) => p.in === 'path' && p.schema?.pattern).map((p) => [p.name, p.schema!.pattern!]));
        return { template, verb, strict: pathRegex(template, patterns), loose: pathRegex(template, new Map()), literals: template.split('/').filter((s) => !s.startsWith('{')).length };
      }),
    )
    .sort((a, b) => b.literals - a.literals || a.template.localeCompare(b.template));
}

/** The value at a JSON pointer (`/a/b~1c`) of `doc`. */
function resolvePointer(doc: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
}

const bareMediaType = (contentType: string | null) => (contentType ?? '').split(';')[0]!.trim().toLowerCase();

function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`)
    .join('; ');
}

/**
 * Frame channels of the AsyncAPI document: an address template and the schema of the message a client receives on
 * it (its `receive` operation's; a channel without one has a single message, the server's).
 */
function frameChannels(asyncapi: Json): { re: RegExp; schemaRef: string; address: string }[] {
  const channels = (asyncapi['channels'] ?? {}) as Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
  const messages = ((asyncapi['components'] as Json | undefined)?.['messages'] ?? {}) as Record<string, { payload: { $ref: string } }>;
  const operations = Object.values((asyncapi['operations'] ?? {}) as Record<string, { action: string; channel: { $ref: string }; messages?: { $ref: string }[] }>);
  return Object.entries(channels).map(([id, c]) => {
    const received = operations.find((o) => o.action === 'receive' && o.channel.$ref === `#/channels/${id}`)?.messages?.[0];
    const messageName = (received ?? Object.values(c.messages)[0]!).$ref.split('/').pop()!;
    const re = new RegExp(`^${c.address.split('/').map((s) => (/^\{[^}]+\}$/.test(s) ? '[^/]+' : escapeRe(s))).join('/')}$`);
    return { re, address: c.address, schemaRef: messages[messageName]!.payload.$ref };
  });
}

/** Creates a checker of traffic against the two documents (parsed JSON). */
export function createApiConformance(documents: { openapi: Json; asyncapi: Json }): ApiConformance {
  // `strict: false`: the documents carry keywords JSON Schema does not know (OpenAPI's own fields around the schemas).
  const ajv2020 = new Ajv2020({ strict: false, validateFormats: false, validateSchema: false, allErrors: true });
  ajv2020.addSchema(documents.openapi, 'openapi.json');
  const ajv7 = new Ajv({ strict: false, validateFormats: false, validateSchema: false, allErrors: true });
  ajv7.addSchema(documents.asyncapi, 'asyncapi.json');
  const compiled = new Map<string, ValidateFunction>();
  const validator = (ajv: Ajv | Ajv2020, ref: string) => {
    let v = compiled.get(ref);
    if (!v) {
      v = ajv.compile({ $ref: ref });
      compiled.set(ref, v);
    }
    return v;
  };
  const matchers = pathMatchers(documents.openapi);
  const channels = frameChannels(documents.asyncapi);

  return {
    checkResponse({ method, url, status, contentType, body }) {
      const pathname = new URL(url).pathname;
      const verb = method.toLowerCase();
      // The most literal operation whose path parameters match their patterns. A path whose parameter does not (a
      // chat id that is no UUID) is still the route the server ran, but only its refusal is described: a success
      // there is another route (one a test mounts of its own), not this one.
      const strict = matchers.find((p) => p.verb === verb && p.strict.test(pathname));
      const m = strict ?? (status >= 400 ? matchers.find((p) => p.verb === verb && p.loose.test(pathname)) : undefined);
      if (!m) return [];
      const what = `${method.toUpperCase()} ${pathname} -> ${status}`;
      const operation = (documents.openapi['paths'] as Record<string, Record<string, Operation>>)[m.template]![verb]!;
      const responses = operation.responses ?? {};
      const key = String(status) in responses ? String(status) : 'default' in responses ? 'default' : undefined;
      if (!key) return [`${what}: status ${status} is not documented for ${method.toUpperCase()} ${m.template}`];
      // A shared answer (`$ref: #/components/responses/Error`) is read, and its schema addressed, where it is defined.
      let responsePointer = `/paths/${ptr(m.template)}/${verb}/responses/${ptr(key)}`;
      let response = responses[key]!;
      if (typeof response.$ref === 'string') {
        responsePointer = response.$ref.replace(/^#/, '');
        response = resolvePointer(documents.openapi, responsePointer) as typeof response;
      }
      const content = response.content;
      const media = bareMediaType(contentType);
      if (!content) return body === '' ? [] : [`${what}: the document says no body, got ${body.length} bytes (${media || 'no content-type'})`];
      if (!(media in content)) return [`${what}: content-type ${media || '(none)'} is not documented (${Object.keys(content).join(', ')})`];
      if (media !== 'application/json' || !content[media]!.schema) return [];
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch {
        return [`${what}: the body is not JSON`];
      }
      const ref = `openapi.json#${responsePointer}/content/${ptr(media)}/schema`;
      const validate = validator(ajv2020, ref);
      const named = (content[media]!.schema as { $ref?: string; items?: { $ref?: string } }).$ref ?? (content[media]!.schema as { items?: { $ref?: string } }).items?.$ref;
      return validate(value) ? [] : [`${what}: the body does not match ${named ?? ref.replace('openapi.json#', '')}: ${describeErrors(validate)}`];
    },
    checkFrame(url, text) {
      const pathname = new URL(url).pathname;
      const channel = channels.find((c) => c.re.test(pathname));
      if (!channel) return [];
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return [`frame on ${pathname}: not JSON`];
      }
      const validate = validator(ajv7, `asyncapi.json${channel.schemaRef}`);
      return validate(value) ? [] : [`frame on ${pathname} does not match ${channel.schemaRef} (${channel.address}): ${describeErrors(validate)}`];
    },
  };
}
