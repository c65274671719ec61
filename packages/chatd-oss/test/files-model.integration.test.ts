// The 50-newest rule of file parts (contract.md#files) through a real provider package: a chat whose user message
// holds 51 files (50 images and, newest, a text file) runs one turn against the testkit's OpenAI chat-completions
// stand-in. The request carries exactly the 49 newest images as `image_url` data URLs, the text file as text, and
// the oldest image as a one-line mention; the stored message keeps the parts, never the bytes.
import { createMockClock } from '@chatd/clock';
import { createMemoryPubSub } from '@chatd/pubsub';
import { startModelStandIn, type ModelStandIn } from '@chatd/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { resolveFileParts } from '../src/server/file-parts.js';
import { createChatStore } from '../src/store/chat-store.js';
import { createFileStore } from '../src/store/file-store.js';
import { MAX_MODEL_FILES } from '../src/model/language-model-prompt.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { createModelConfigResolver, type ResolverModelConfig, type ResolverProviderSettings } from '../src/worker/model-config-resolver.js';
import { useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
const standIns: ModelStandIn[] = [];
afterEach(async () => {
  await Promise.all(standIns.splice(0).map((s) => s.close()));
});

describe('file parts to the model', () => {
  it('sends exactly the 50 newest file parts (images as files, text as text) and mentions the older one', async () => {
    const standIn = await startModelStandIn({ wire: 'openai-chat' });
    standIns.push(standIn);
    const clock = createMockClock();
    const store = createChatStore({ pool: bed.pool, clock });
    const files = createFileStore({ pool: bed.pool, clock });
    const pubsub = createMemoryPubSub();
    const config: ResolverModelConfig = { id: '99999999-9999-4999-8999-999999999999', provider: 'standin', model: 'llama3.2', callOptions: {}, providerOptions: null };
    const settings: ResolverProviderSettings = { provider: 'standin', kind: 'openai-compatible', baseUrl: standIn.baseUrl, apiKey: 'sk-test', apiKeyEnv: null, enabled: true };
    const resolver = createModelConfigResolver({ configs: { resolveModelConfig: async () => config, getProviderSettings: async () => settings }, clock, env: {} });

    const images: { id: string; bytes: Buffer }[] = [];
    for (let i = 0; i < MAX_MODEL_FILES; i++) {
      const bytes = Buffer.from(`png bytes number ${i}`);
      images.push({ id: (await files.insertFile({ ownerId: bed.ownerId, mediaType: 'image/png', name: `shot-${i}.png`, data: bytes })).id, bytes });
    }
    const notes = await files.insertFile({ ownerId: bed.ownerId, mediaType: 'text/plain', name: 'notes.txt', data: Buffer.from('the build is green') });
    const content = await resolveFileParts(
      [{ type: 'text', text: 'look at these' }, ...images.map((f) => ({ type: 'file' as const, file_id: f.id })), { type: 'file', file_id: notes.id }],
      bed.ownerId,
      files,
    );
    const { chat } = await store.createChat({ ownerId: bed.ownerId, content });

    const worker = createChatWorker({ store, pubsub, publisher: createChatPublisher({ pubsub, clock }), live: createLiveStreams(), clock, workerId: 'worker-files', model: resolver, files });
    bed.workers.push(worker);
    const ended = worker.waitForRunEnd(chat.id);
    worker.start();
    expect((await ended).outcome).toBe('finished');

    expect(standIn.requests).toHaveLength(1);
    const user = (standIn.requests[0]!.body.messages as { role: string; content: unknown }[]).find((m) => m.role === 'user')!;
    const parts = user.content as ({ type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } })[];
    const sentImages = parts.flatMap((p) => (p.type === 'image_url' ? [p.image_url.url] : []));
    // The oldest image is the 51st newest file part: mentioned, not sent.
    expect(sentImages).toEqual(images.slice(1).map((f) => `data:image/png;base64,${f.bytes.toString('base64')}`));
    const texts = parts.flatMap((p) => (p.type === 'text' ? [p.text] : []));
    expect(texts).toEqual(['look at these', '[file shot-0.png (image/png) omitted]', '[file notes.txt (text/plain)]\nthe build is green']);

    // Stored: the parts with type and name from the rows, no bytes.
    const stored = (await store.listMessages({ chatId: chat.id, limit: 10 })).messages.find((m) => m.role === 'user')!;
    expect(stored.content![1]).toEqual({ type: 'file', file_id: images[0]!.id, media_type: 'image/png', name: 'shot-0.png' });
    expect(JSON.stringify(stored.content)).not.toContain(images[0]!.bytes.toString('base64'));
  });
});
