// An error that carries the HTTP status to answer with. Its message is shown to
// the client, so it must name the field and say what was expected.

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
