// createChat: the server-side first step of the documented useChat flow (a chat needs its first message).
import type { ChatClient, ChatContent, DynamicTool } from '@chatd/client';
import type { Chat } from '@chatd/protocol';

/** What `createChat` takes: the first message and the chat's options, named as on the wire. */
export type CreateChatInput = { content: ChatContent; tools?: DynamicTool[]; system_prompt?: string; model_config_id?: string };

/** Creates a chat with its first message (`POST /`); `tools` are its client-executed tools (`unsafe_dynamic_tools`). */
export function createChat(client: ChatClient, input: CreateChatInput): Promise<Chat> {
  return client.create(input.content, {
    ...(input.tools !== undefined ? { unsafeDynamicTools: input.tools } : {}),
    ...(input.system_prompt !== undefined ? { systemPrompt: input.system_prompt } : {}),
    ...(input.model_config_id !== undefined ? { modelConfigId: input.model_config_id } : {}),
  });
}
