/** A failure the user can act on; the CLI prints its message alone. */
export class RemoteCommandError extends Error {
  override readonly name = 'RemoteCommandError';
}
