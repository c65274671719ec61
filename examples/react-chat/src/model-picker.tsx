import type { ModelConfig } from './model-configs';

type Props = { configs: ModelConfig[]; value: string; onChange: (id: string) => void };

/** A select over the model configurations; '' means the server's default. */
export function ModelPicker({ configs, value, onChange }: Props) {
  return (
    <label className="model-picker">
      model{' '}
      <select data-testid="model-picker" value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">server default</option>
        {configs.map((c) => (
          <option key={c.id} value={c.id}>
            {c.display_name || `${c.provider}/${c.model}`}
            {c.is_default ? ' (default)' : ''}
          </option>
        ))}
      </select>
    </label>
  );
}
