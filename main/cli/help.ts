// Help text generated from the option tables (main/cli/args.ts): `unirl --help`, `unirl COMMAND --help`,
// the short usage after a bad option, and README's command-line section (`unirl help --markdown`).
import { COMMANDS, type CommandSpec } from './args.ts';

/** Commands with subcommands ("model") answer --help with their subcommands' summaries. */
export function commandGroup(name: string): CommandSpec[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${name} `));
}

export function overviewHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'unirl — UniRL Studio from the command line',
    '',
    'Usage: unirl <command> [options]     unirl <command> --help for its options',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    `  ${'help'.padEnd(width)}Show this help (also --help, -h); help --markdown prints README's command list`,
    '',
  ].join('\n');
}

export function shortUsage(spec: CommandSpec): string {
  return spec.synopsis.map((line, i) => `${i === 0 ? 'usage: ' : '       '}unirl ${spec.name} ${line}`.trimEnd()).join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(
    ([name, o]) => [`--${name}${o.kind === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`, o.help] as const,
  );
  const width = Math.min(34, Math.max(...rows.map(([flag]) => flag.length))) + 2;
  return [
    `unirl ${spec.name} — ${spec.summary}`,
    '',
    shortUsage(spec),
    ...(spec.details ? ['', spec.details] : []),
    '',
    'Options:',
    ...rows.map(([flag, help]) => (flag.length < width ? `  ${flag.padEnd(width)}${help}` : `  ${flag}\n  ${''.padEnd(width)}${help}`)),
    `  ${'--help'.padEnd(width)}show this help`,
    '',
  ].join('\n');
}

/** README's command-line block: every command's examples, commented. */
export function readmeCommands(): string {
  const lines: [string, string][] = [['npx unirl --help', 'every command; "npx unirl COMMAND --help" for its options']];
  for (const spec of COMMANDS)
    for (const [args, comment] of spec.examples) lines.push([`npx unirl ${spec.name} ${args}`.trimEnd(), comment]);
  const width = 67;
  return [
    '```sh',
    ...lines.map(([cmd, comment]) => (comment ? `${cmd.length < width ? cmd.padEnd(width) : `${cmd}  `}# ${comment}` : cmd)),
    '```',
    '',
  ].join('\n');
}
