/** Option parsers shared by subcommands: a bad value is a usage error (exit 2), named by its option. */
import { InvalidArgumentError } from 'commander';

/** Thrown by a command's action for a combination of options that cannot work. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^[0-9]+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected ${min}..${max}, got ${n}`);
    return n;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
