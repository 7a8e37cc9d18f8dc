/**
 * An error the user can act on: its message names the problem and the fix, and the CLI prints it
 * as one line without a stack trace. Anything else reaching the CLI is a bug in xbar.
 */
export class XbarError extends Error {
  override name = 'XbarError';
}

export function fail(message: string): never {
  throw new XbarError(message);
}
