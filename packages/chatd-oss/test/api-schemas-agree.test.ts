// The routes parse their bodies with their own zod schemas (lenient, each field then checked with the original's
// error texts); the API description takes @chatd/protocol's (contract.md#api-description). This checks the two agree:
// the same fields, and a field the route requires is required in the description and the other way round (a field
// the route reads as `unknown` is checked by code after the parse, so only the description says whether it is required).
import { z } from 'zod';
import {
  createChatRequestSchema,
  deploymentConfigPatchSchema,
  editMessageRequestSchema,
  gitPushRequestSchema,
  modelConfigRequestSchema,
  patchChatRequestSchema,
  providerRequestSchema,
  sendMessageRequestSchema,
  spendLimitRequestSchema,
  toolResultsRequestSchema,
} from '@chatd/protocol';
import { describe, expect, it } from 'vitest';
import { createChatBody, editMessageBody, modelConfigBody, patchChatBody, postMessageBody, providerBody, toolResultsBody } from '../src/server/chat-routes.js';
import { configBody } from '../src/server/compaction-routes.js';
import { gitRefBodySchema } from '../src/server/git-routes.js';
import { spendLimitBody } from '../src/cost/cost-routes.js';

type Shape = Record<string, z.ZodType>;
const required = (field: z.ZodType) => !field.safeParse(undefined).success;
const isUnknown = (field: z.ZodType) => (field as unknown as { _zod: { def: { type: string } } })._zod.def.type === 'unknown';

const pairs: [string, { shape: Shape }, { shape: Shape }][] = [
  ['POST /', createChatBody, createChatRequestSchema],
  ['PATCH /{chat}', patchChatBody, patchChatRequestSchema],
  ['POST /{chat}/messages', postMessageBody, sendMessageRequestSchema],
  ['PATCH /{chat}/messages/{message}', editMessageBody, editMessageRequestSchema],
  ['POST /{chat}/tool-results', toolResultsBody, toolResultsRequestSchema],
  ['POST /model-configs', modelConfigBody, modelConfigRequestSchema],
  ['POST /providers', providerBody, providerRequestSchema],
  ['PATCH /config', configBody, deploymentConfigPatchSchema],
  ['PUT /users/{user}/spend-limit', spendLimitBody, spendLimitRequestSchema],
  ['PUT /{chat}/git', gitRefBodySchema, gitPushRequestSchema],
];

describe('route body schemas agree with the API description\'s (contract.md#api-description)', () => {
  it.each(pairs)('%s: the same fields, the same required ones', (_route, server, described) => {
    expect(Object.keys(server.shape).sort()).toEqual(Object.keys(described.shape).sort());
    for (const [name, field] of Object.entries(server.shape)) {
      const other = described.shape[name]!;
      if (isUnknown(field)) continue;
      expect(required(field), name).toBe(required(other));
    }
  });

  it('the tool results\' entries agree too', () => {
    const entry = (s: { shape: { results: z.ZodType } }) => (s.shape.results as unknown as z.ZodArray<z.ZodObject<Shape>>).element.shape;
    expect(Object.keys(entry(toolResultsBody)).sort()).toEqual(Object.keys(entry(toolResultsRequestSchema)).sort());
  });
});
