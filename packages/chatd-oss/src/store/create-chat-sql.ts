// The statement behind `ChatStore.createChat` (issue 36): the organization and model configuration look-ups,
// the chat (inserted `pending`), its optional system message and its first user message, in one round trip.
// A single statement is its own transaction, so nothing is written when a look-up finds nothing: the result
// row then says which one failed and the store raises the same errors as before. It does not NOTIFY; the caller
// publishes the change.
import { CHAT_COLUMNS, type ChatRow, type MessageRow } from './chat-rows.js';
import { MESSAGE_COLUMNS } from './chat-tx.js';

const messageColumns = MESSAGE_COLUMNS.split(', ');

/**
 * Parameters: $1 owner, $2 organization (null: the default one), $3 model configuration (null: the default one),
 * $4 workspace, $5 title, $6 labels, $7 client type, $8 reasoning effort, $9 dynamic tools, $10 now, $11 the
 * system message's content (null: none), $12 the user message's content, $13 the traceparent to store.
 * Both messages come from one ordered INSERT, so the system message keeps the lower id, as when they were two.
 */
export const CREATE_CHAT_SQL = `WITH org AS (
  SELECT o.id FROM organizations o JOIN organization_members m ON m.organization_id = o.id AND m.user_id = $1::uuid
   WHERE CASE WHEN $2::uuid IS NULL THEN o.is_default ELSE o.id = $2::uuid END
   LIMIT 1
), cfg AS (
  SELECT id FROM chat_model_configs WHERE CASE WHEN $3::uuid IS NULL THEN is_default ELSE id = $3::uuid END LIMIT 1
), chat AS (
  INSERT INTO chats (organization_id, owner_id, workspace_id, last_model_config_id, title, status, labels, client_type, reasoning_effort, dynamic_tools, created_at, updated_at)
  SELECT org.id, $1::uuid, $4::uuid, cfg.id, $5::text, 'pending', $6::jsonb, $7::text, $8::text, $9::jsonb, $10::timestamptz, $10::timestamptz FROM org, cfg
  RETURNING ${CHAT_COLUMNS}
), msg AS (
  INSERT INTO chat_messages (chat_id, role, content, visibility, model_config_id, created_by, created_at, traceparent)
  SELECT chat.id, v.role, v.content, v.visibility, CASE WHEN v.role = 'user' THEN chat.last_model_config_id END,
         CASE WHEN v.role = 'user' THEN $1::uuid END, $10::timestamptz, COALESCE($13::text, chatd_current_traceparent())
    FROM chat, (VALUES (1, 'system', $11::jsonb, 'model'), (2, 'user', $12::jsonb, 'both')) AS v (ord, role, content, visibility)
   WHERE v.content IS NOT NULL
   ORDER BY v.ord
  RETURNING ${MESSAGE_COLUMNS}
)
SELECT EXISTS (SELECT 1 FROM org) AS org_found, EXISTS (SELECT 1 FROM cfg) AS config_found, chat.*,
       ${messageColumns.map((c) => `m.${c} AS m_${c}`).join(', ')}
  FROM (SELECT 1) AS one LEFT JOIN chat ON true LEFT JOIN msg AS m ON m.role = 'user'`;

/** The statement's one result row: the look-ups' outcome, the chat's columns and the user message's (`m_`). */
export type CreatedChatRow = ChatRow & { org_found: boolean; config_found: boolean } & { [K in `m_${keyof MessageRow}`]: unknown };

/** The chat row and the user message row of a result whose look-ups both succeeded. */
export function splitCreatedRow(r: CreatedChatRow): { row: ChatRow; message: MessageRow } {
  const { org_found: _org, config_found: _cfg, ...rest } = r;
  const row: Record<string, unknown> = {};
  const message: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    if (k.startsWith('m_')) message[k.slice(2)] = v;
    else row[k] = v;
  }
  return { row: row as ChatRow, message: message as MessageRow };
}
