/** A configuration variable with a bad value. The message names it, never a secret's value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}
