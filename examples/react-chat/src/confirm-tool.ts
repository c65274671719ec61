// The client tool the example offers: the model asks, the person answers Yes or No in the page, and the answer
// goes back as the tool's output (addToolOutput), which continues the turn.

/** Name of the client tool. */
export const CONFIRM_TOOL = 'confirm';

/** Its declaration, stored with the chat when it is created (contract.md#client-tools). */
export const CONFIRM_TOOL_DECLARATION = {
  name: CONFIRM_TOOL,
  description: 'Ask the user a yes/no question and wait for the answer.',
  input_schema: { type: 'object', properties: { question: { type: 'string' } }, required: ['question'] },
};

/** The question of a confirm call's input, or a plain prompt when it has none. */
export function confirmQuestion(input: unknown): string {
  if (input && typeof input === 'object' && 'question' in input && typeof input.question === 'string') return input.question;
  return 'Confirm?';
}
