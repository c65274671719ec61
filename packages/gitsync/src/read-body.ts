// Reads a fetch Response body up to a byte cap, cancelling the stream past it, so a hostile or huge
// response can neither exhaust memory nor keep a socket busy. Decoding is UTF-8.

/** A body read up to a cap. */
export type CappedBody = { text: string; bytes: number; exceeded: boolean };

/** Reads at most `maxBytes` of the body; `exceeded` is true when more was available. */
export async function readBodyCapped(response: Response, maxBytes: number): Promise<CappedBody> {
  if (!response.body) return { text: '', bytes: 0, exceeded: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let exceeded = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = maxBytes - total;
    if (value.byteLength > room) {
      if (room > 0) chunks.push(value.subarray(0, room));
      total += Math.max(0, room);
      exceeded = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    total += value.byteLength;
  }
  return { text: new TextDecoder('utf-8').decode(Buffer.concat(chunks)), bytes: total, exceeded };
}
