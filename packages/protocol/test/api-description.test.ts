// The API description (contract.md#api-description): both documents pass the standard validators from npm
// (@readme/openapi-parser for OpenAPI 3.1, @asyncapi/parser for AsyncAPI 3), are deterministic, describe every
// route of the table under both bases, and every reference in them resolves.
import { validate } from '@readme/openapi-parser';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';

/** The validators load large rule sets on first use: generous on a loaded machine. */
const VALIDATOR_TIMEOUT_MS = 60_000;
import { API_ROUTES, buildAsyncApiDocument, buildOpenApiDocument, chatStreamEventSchema, createChatRequestSchema } from '../src/index.js';

/** Every `$ref` of a document. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refs(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

const at = (doc: unknown, ref: string) =>
  ref
    .replace(/^#\//, '')
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], doc);

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 for @readme/openapi-parser', async () => {
    const result = await validate(structuredClone(buildOpenApiDocument()) as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  }, VALIDATOR_TIMEOUT_MS);

  it('is the same on every build, and every $ref resolves', () => {
    const doc = buildOpenApiDocument();
    expect(JSON.stringify(buildOpenApiDocument())).toBe(JSON.stringify(doc));
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(50);
    for (const r of new Set(all)) expect(at(doc, r), r).toBeDefined();
  });

  it('describes every route under both bases (root routes once), with the error body and the auth schemes', () => {
    const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>; components: { securitySchemes: Record<string, { in?: string; name?: string }> } };
    for (const route of API_ROUTES) {
      const bases = route.root ? [''] : ['/api/experimental/chats', '/api/v2/chats'];
      for (const base of bases) {
        const op = doc.paths[`${base}${route.path}`]?.[route.method];
        expect(op, `${route.method} ${base}${route.path}`).toBeDefined();
        expect(op!.responses['default']).toEqual({ $ref: '#/components/responses/Error' });
      }
    }
    expect(doc.paths['/api/v2/notifications/inbox/watch']?.['get']).toBeDefined();
    expect(doc.paths['/api/v2/chats/{chat}/messages']?.['post']?.operationId).toBe('sendMessageV2');
    expect(Object.values(doc.components.securitySchemes).map((s) => `${s.in ?? 'http'}:${s.name ?? 'bearer'}`).sort()).toEqual(['cookie:coder_session_token', 'header:Coder-Session-Token', 'http:bearer', 'query:ticket']);
  });

  it('takes its bodies from the protocol schemas', () => {
    const doc = buildOpenApiDocument() as { components: { schemas: Record<string, { required?: string[]; oneOf?: unknown[] }> } };
    expect(doc.components.schemas['CreateChatRequest']?.required).toEqual(['content']);
    expect(Object.keys(createChatRequestSchema.shape)).toContain('unsafe_dynamic_tools');
    expect(doc.components.schemas['ChatStreamEvent']?.oneOf).toHaveLength(chatStreamEventSchema.options.length);
  });
});

describe('the AsyncAPI document', () => {
  it('is valid AsyncAPI 3 for @asyncapi/parser (no error or warning)', async () => {
    const { document, diagnostics } = await new Parser().parse(JSON.stringify(buildAsyncApiDocument()));
    // Severity 0 is an error, 1 a warning; 2 and 3 are information and hints (such as "a newer AsyncAPI exists").
    expect(diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`)).toEqual([]);
    expect(document).toBeDefined();
    expect(document!.channels().all().map((c) => c.address()).sort()).toEqual([
      '/api/experimental/chats/watch',
      '/api/experimental/chats/{chat}/stream',
      '/api/experimental/replica-link',
      '/api/v2/chats/watch',
      '/api/v2/chats/{chat}/stream',
      '/api/v2/notifications/inbox/watch',
    ]);
  }, VALIDATOR_TIMEOUT_MS);

  it('describes the replica link: control frames sent, data frames received, behind the replica credential', () => {
    const doc = buildAsyncApiDocument() as {
      operations: Record<string, { action: string; channel: { $ref: string } }>;
      servers: Record<string, { security: { $ref: string }[] }>;
      components: { schemas: Record<string, { oneOf?: { properties?: Record<string, unknown> }[] }> };
    };
    expect(doc.operations['sendReplicaLinkControl']).toMatchObject({ action: 'send', channel: { $ref: '#/channels/replicaLink' } });
    expect(doc.operations['receiveReplicaLinkFrame']).toMatchObject({ action: 'receive', channel: { $ref: '#/channels/replicaLink' } });
    expect(doc.servers['replicaLink']?.security).toEqual([{ $ref: '#/components/securitySchemes/replicaCredential' }]);
    const ops = (doc.components.schemas['ReplicaLinkControl']?.oneOf ?? []).map((o) => (o.properties?.['op'] as { const?: string } | undefined)?.const);
    expect(ops.sort()).toEqual(['sub', 'unsub']);
    // Not a client route: the OpenAPI document (REST) does not carry the link's schemas.
    expect(Object.keys((buildOpenApiDocument() as { components: { schemas: object } }).components.schemas)).not.toContain('ReplicaLinkControl');
  });

  it('is the same on every build, and every $ref resolves', () => {
    const doc = buildAsyncApiDocument();
    expect(JSON.stringify(buildAsyncApiDocument())).toBe(JSON.stringify(doc));
    for (const r of new Set(refs(doc))) expect(at(doc, r), r).toBeDefined();
  });
});
