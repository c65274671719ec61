// How a chatd tool call and its result read in a UIMessage: one static tool part `tool-<name>` per call,
// `input-available` with the stored `args`, then `output-available` (or `output-error` for `is_error`).

/** The `errorText` of an `is_error` result: a string result as it is, anything else as compact JSON. */
export function toolErrorText(result: unknown): string {
  if (typeof result === 'string') return result;
  if (result && typeof result === 'object' && typeof (result as { error?: unknown }).error === 'string') return (result as { error: string }).error;
  return JSON.stringify(result ?? null);
}
