-- Model providers and model configurations (chatd.md section 1.2 admin routes, 3.1). Exactly one
-- model configuration is the default while any exist; the store keeps that invariant.

CREATE TABLE chat_providers (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider      text NOT NULL UNIQUE CHECK (provider ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
  display_name  text NOT NULL DEFAULT '',
  base_url      text,
  api_key       text,
  enabled       boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL
);

CREATE TABLE chat_model_configs (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider               text NOT NULL REFERENCES chat_providers (provider) ON UPDATE CASCADE ON DELETE RESTRICT,
  model                  text NOT NULL CHECK (length(model) BETWEEN 1 AND 256),
  display_name           text NOT NULL DEFAULT '',
  enabled                boolean NOT NULL DEFAULT true,
  is_default             boolean NOT NULL DEFAULT false,
  context_limit          bigint NOT NULL CHECK (context_limit > 0),
  compression_threshold  integer NOT NULL DEFAULT 70 CHECK (compression_threshold BETWEEN 0 AND 100),
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL
);
CREATE UNIQUE INDEX chat_model_configs_one_default ON chat_model_configs (is_default) WHERE is_default;
CREATE INDEX chat_model_configs_provider ON chat_model_configs (provider);
