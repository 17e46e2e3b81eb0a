// Errors a user can act on: the CLI prints the message as one line and exits non-zero.
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
