-- Cost and limits (contract.md#cost; issue 33).
-- Prices of a model configuration: micro-units per million input, output, cached-input and reasoning tokens, as one
-- JSON object `{input, output, cached_input?, reasoning?}`; null: unpriced (its calls cost nothing and are counted
-- as unpriced).
ALTER TABLE chat_model_configs
  ADD COLUMN pricing jsonb;

-- The ledger: one row per model call that reported usage (every attempt of a step, retries included), with the
-- tokens it reported and its cost (null when its configuration had no prices). Spend is summed from here.
CREATE TABLE chat_model_calls (
  id                   bigserial PRIMARY KEY,
  chat_id              uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  owner_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  run_id               uuid,
  model_config_id      uuid REFERENCES chat_model_configs (id) ON DELETE SET NULL,
  input_tokens         bigint NOT NULL DEFAULT 0,
  output_tokens        bigint NOT NULL DEFAULT 0,
  cached_input_tokens  bigint NOT NULL DEFAULT 0,
  reasoning_tokens     bigint NOT NULL DEFAULT 0,
  cost_micros          bigint CHECK (cost_micros >= 0),
  runtime_ms           bigint NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL
);
CREATE INDEX chat_model_calls_chat ON chat_model_calls (chat_id);
CREATE INDEX chat_model_calls_owner ON chat_model_calls (owner_id, created_at);

-- Spend limits per user (admin-set; none by default): refused once the period's spend reaches `limit_micros`.
CREATE TABLE chat_spend_limits (
  user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  period        text NOT NULL CHECK (period IN ('day', 'week', 'month')),
  limit_micros  bigint NOT NULL CHECK (limit_micros >= 0),
  updated_at    timestamptz NOT NULL
);

-- A pending chat the acquisition passed over because its owner already had the cap running (contract.md#cost).
-- Only meaningful while the chat is pending.
ALTER TABLE chats
  ADD COLUMN queued_for_capacity boolean NOT NULL DEFAULT false;
