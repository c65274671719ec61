// Records the text of every statement any `pg` client of this process sends, to count round trips on real
// PostgreSQL (issue 36). `stop()` (also safe to call twice) restores the driver's own `query`.
import pg from 'pg';

const clientQuery = pg.Client.prototype.query;

/** Starts recording; `stop()` returns the statements sent since, whitespace collapsed. */
export function recordStatements(): { stop(): string[]; sent: readonly string[]; names: ReadonlyMap<string, string> } {
  const sent: string[] = [];
  // Statement text -> the name it was sent under (a named statement is prepared once per connection).
  const names = new Map<string, string>();
  (pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0];
    const sql = typeof first === 'string' ? first : typeof (first as { text?: unknown })?.text === 'string' ? (first as { text: string }).text : String(first);
    const text = sql.replace(/\s+/g, ' ').trim();
    sent.push(text);
    const name = (first as { name?: unknown } | null)?.name;
    if (typeof name === 'string') names.set(text, name);
    return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  };
  return {
    sent,
    names,
    stop() {
      pg.Client.prototype.query = clientQuery;
      return sent;
    },
  };
}

/** Puts the driver's own `query` back (an `afterEach` guard for a test that failed while recording). */
export function restoreStatements(): void {
  pg.Client.prototype.query = clientQuery;
}
