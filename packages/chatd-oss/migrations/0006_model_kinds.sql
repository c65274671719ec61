-- Models through the AI SDK (contract.md#models, contract.md#provider-admin; issue 25): a provider row names its kind and
-- where its key comes from; a model configuration carries call options and provider options; a chat
-- remembers the reasoning effort its turns asked for.

-- The kind a provider name implies: the rows made before this migration, and rows inserted by a replica
-- that does not know the column yet (a rolling upgrade), get it from here. `openai` keeps today's
-- behaviour (chat completions), so it is openai-compatible, not the Responses API.
CREATE FUNCTION chat_provider_kind_of(name text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE name WHEN 'demo' THEN 'demo' WHEN 'anthropic' THEN 'anthropic' ELSE 'openai-compatible' END
$$;

ALTER TABLE chat_providers
  ADD COLUMN kind text,
  ADD COLUMN api_key_env text CHECK (api_key_env ~ '^[A-Z_][A-Z0-9_]{0,127}$');
UPDATE chat_providers SET kind = chat_provider_kind_of(provider);
ALTER TABLE chat_providers
  ALTER COLUMN kind SET NOT NULL,
  ADD CONSTRAINT chat_providers_kind_check CHECK (kind IN ('demo', 'openai', 'anthropic', 'openai-compatible'));

CREATE FUNCTION chat_providers_default_kind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.kind IS NULL THEN
    NEW.kind := chat_provider_kind_of(NEW.provider);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER chat_providers_default_kind BEFORE INSERT ON chat_providers
  FOR EACH ROW EXECUTE FUNCTION chat_providers_default_kind();

-- call_options: {max_output_tokens?, temperature?, top_p?, reasoning_effort?}; the store validates ranges,
-- the database keeps the shape. provider_options: an object of objects keyed by provider, or null.
ALTER TABLE chat_model_configs
  ADD COLUMN call_options jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(call_options) = 'object'
      AND (call_options - ARRAY['max_output_tokens', 'temperature', 'top_p', 'reasoning_effort']) = '{}'::jsonb
      AND (NOT call_options ? 'max_output_tokens' OR jsonb_typeof(call_options -> 'max_output_tokens') = 'number')
      AND (NOT call_options ? 'temperature' OR jsonb_typeof(call_options -> 'temperature') = 'number')
      AND (NOT call_options ? 'top_p' OR jsonb_typeof(call_options -> 'top_p') = 'number')
      AND (NOT call_options ? 'reasoning_effort'
        OR call_options ->> 'reasoning_effort' IN ('none', 'minimal', 'low', 'medium', 'high', 'max'))),
  ADD COLUMN provider_options jsonb
    CHECK (provider_options IS NULL OR jsonb_typeof(provider_options) = 'object');

-- null: the model configuration's own reasoning effort.
ALTER TABLE chats
  ADD COLUMN reasoning_effort text CHECK (reasoning_effort IN ('none', 'minimal', 'low', 'medium', 'high', 'max'));
