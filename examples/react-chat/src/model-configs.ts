// The model picker's choices: GET /model-configs (contract.md#routes), enabled ones only.
import { useEffect, useState } from 'react';

/** The fields of a ChatModelConfig the picker shows. */
export type ModelConfig = { id: string; provider: string; model: string; display_name: string; enabled: boolean; is_default: boolean };

/** Loads the enabled model configurations once; `[]` until they arrive (or when the request fails). */
export function useModelConfigs(): ModelConfig[] {
  const [configs, setConfigs] = useState<ModelConfig[]>([]);
  useEffect(() => {
    let live = true;
    fetch('/api/experimental/chats/model-configs')
      .then((res) => (res.ok ? (res.json() as Promise<ModelConfig[]>) : []))
      .then((list) => live && setConfigs(list.filter((c) => c.enabled)))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  return configs;
}
