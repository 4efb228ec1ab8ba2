// A small, strict flag parser shared by the subcommands: unknown flags and missing values are
// errors that name the flag, not silently ignored.

export interface FlagSpec {
  /** 'string' takes a value; 'boolean' does not. */
  [flag: string]: 'string' | 'boolean';
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseFlags<S extends FlagSpec>(
  args: string[],
  spec: S,
): { flags: { [K in keyof S]?: S[K] extends 'boolean' ? boolean : string }; positional: string[] } {
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inlineValue] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'boolean') {
      flags[name] = true;
      continue;
    }
    const value = inlineValue ?? args[++i];
    if (value === undefined || (inlineValue === undefined && value.startsWith('--'))) {
      throw new UsageError(`option --${name} needs a value`);
    }
    flags[name] = value;
  }
  return { flags: flags as never, positional };
}

export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer 0-65535, got "${value}"`);
  return port;
}
