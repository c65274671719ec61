// The id of a turn's assistant UIMessage (contract.md#ai-sdk): derived from the id of the user message that
// started the turn, so the live stream, a resumed stream and loadUIMessages all name the same message.

/** Prefix of every assistant UIMessage id the package makes. */
export const TURN_MESSAGE_ID_PREFIX = 'chatd-turn-';

/** The assistant UIMessage id of the turn started by user message `userMessageId` (an int64 id). */
export function turnMessageId(userMessageId: number | string | bigint): string {
  return `${TURN_MESSAGE_ID_PREFIX}${String(userMessageId)}`;
}

/** The user message id a turn message id derives from, or undefined when `id` is not one. */
export function userMessageIdOfTurn(id: string): string | undefined {
  if (!id.startsWith(TURN_MESSAGE_ID_PREFIX)) return undefined;
  const rest = id.slice(TURN_MESSAGE_ID_PREFIX.length);
  return /^[1-9][0-9]*$/.test(rest) ? rest : undefined;
}
