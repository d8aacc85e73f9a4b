/**
 * Flag values of the browser benchmarks' CLIs (`run.ts`, `idle.ts`)
 */

/** A flag's value is not what it should be */
export class InvalidFlagError extends Error {
  static name = 'InvalidFlagError'
  name = 'InvalidFlagError'
}

/** A number ≥ 0 given as `--name`, or `fallback` when the flag is absent */
export function parseNumber (name: string, text: string | undefined, fallback: number): number {
  if (text == null) {
    return fallback
  }
  const value = Number(text)
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidFlagError(`--${name} wants a number ≥ 0, not ${text}`)
  }
  return value
}
