// `npx unirl <command>`: the command-line face of the app. Each command lives in its own module; their
// options, help and usage come from one table per command (args.ts, help.ts).
import { COMMANDS, UsageError, type CommandSpec } from './args.ts';
import { commandGroup, commandHelp, overviewHelp, readmeCommands, shortUsage } from './help.ts';

type Run = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Run>> = {
  serve: async () => (await import('./serve.ts')).serveCommand,
  eval: async () => (await import('./eval.ts')).evalCommand,
  train: async () => (await import('./train.ts')).trainCommand,
  pretrain: async () => (await import('./pretrain.ts')).pretrainCommand,
  'model info': async () => (await import('./model.ts')).modelInfoCommand,
  'model weights': async () => (await import('./model.ts')).modelWeightsCommand,
  'model speed': async () => (await import('./model.ts')).modelSpeedCommand,
  'model import': async () => (await import('./model-import.ts')).modelImportCommand,
  export: async () => (await import('./export.ts')).exportCommand,
  import: async () => (await import('./import.ts')).importCommand,
  prune: async () => (await import('./prune.ts')).pruneCommand,
};

const wantsHelp = (args: string[]) => args.includes('--help') || args.includes('-h');

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(rest[0] === '--markdown' ? readmeCommands() : overviewHelp());
    return name ? 0 : 1;
  }
  const group = commandGroup(name);
  if (group.length > 0) {
    const spec = group.find((c) => c.name === `${name} ${rest[0]}`);
    if (spec) return runCommand(spec, rest.slice(1));
    const list = group.map((c) => `  unirl ${c.name.padEnd(16)}${c.summary}`).join('\n');
    if (wantsHelp(rest)) {
      process.stdout.write(`unirl ${name} <subcommand> [options]     unirl ${name} <subcommand> --help for its options\n\n${list}\n`);
      return 0;
    }
    process.stderr.write(`unirl ${name}: ${rest[0] ? `unknown subcommand "${rest[0]}"` : 'a subcommand is required'}\n${list}\n`);
    return 2;
  }
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) {
    process.stderr.write(`unirl: unknown command "${name}"\n\n${overviewHelp()}`);
    return 2;
  }
  return runCommand(spec, rest);
}

async function runCommand(spec: CommandSpec, args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    process.stdout.write(commandHelp(spec));
    return 0;
  }
  try {
    return await (await commands[spec.name]!())(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`unirl ${spec.name}: ${err.message}\n${shortUsage(spec)}\n(run "unirl ${spec.name} --help" for all options)\n`);
      return 2;
    }
    process.stderr.write(`unirl ${spec.name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
