// Named errors weir's parts share: callers branch on the class, never on a message.
// Every message is shown to a person, so it names the field and says what was expected.

/** Bad input from whoever runs a command: a flag, a file, an argument. The CLI exits 2 and prints the message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An error that carries the HTTP status to answer with; its message goes to the client. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/**
 * A short, safe rendering of a client's value for an error message: numbers,
 * booleans and null as JSON, strings cut to 40 characters, and arrays or
 * objects named, never serialized (a hostile value may be deep or huge).
 */
export function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value !== null && typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint' || typeof value === 'symbol' || typeof value === 'function') return typeof value;
  return JSON.stringify(value) ?? String(value);
}
