// `npx unirl <command>`: the command-line face of the app. Each command lives in its own module.
import { UsageError } from './args.ts';

const HELP = `unirl — UniRL Studio from the command line

Usage: unirl <command> [options]

Commands:
  serve     Serve the app headless to a browser
              --host HOST       interface to bind (default 127.0.0.1; others require the printed token)
              --port N          port (default 5175; 0 picks a free one)
              --data-dir DIR    where runs and the database live (default: $UNIRL_DATA_DIR or the user data dir)
              --token T         require this access token (one is generated anyway off loopback)
              --reward-service  also score images for a cluster at POST /reward/score [--reward-run ID]
  eval      Score a generator on a ShapeEval suite
              --list            list the suites
              --suite NAME --generator oracle|noise|model [--checkpoint PATH] [--json out.json]
              [--jsonl per-image.jsonl] [--limit N] [--samples N] [--size PX] [--seed N]
  pretrain  Supervised pretraining of the unified model on ShapeWorld
              --preset nano|base [--minutes N | --steps N] [--resume] [--data-dir DIR]
  model     Model facts: "model info --preset base" (parameters, FLOPs), "model speed" (sampling speed)
  export    Export a run: rollouts (JSONL), preference pairs (TRL, Pick-a-Pic; Parquet), rankings, reflections, edits, verl dataset
              --run ID --format rollouts|pairs|pickapic|rankings|reflections|edits|verl|all --out DIR [--data-dir DIR]
  train     GRPO on the unified model (run "unirl train --help" for all options)
              --scenario t2i|cot|text|vqa|edit|reflect [--steps N | --minutes M] [--config file.json]
              [--human sync|async|off] [--data-dir DIR]
  import    A cluster's verl rollout dump ({step}.jsonl + PNGs) into a run, to review and rank
              --rollouts DIR [--run ID | --name NAME] [--data-dir DIR]
  help      Show this help (also --help, -h)
`;

const commands: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  serve: async () => (await import('./serve.ts')).serveCommand,
  eval: async () => (await import('./eval.ts')).evalCommand,
  train: async () => (await import('./train.ts')).trainCommand,
  pretrain: async () => (await import('./pretrain.ts')).pretrainCommand,
  model: async () => (await import('./model.ts')).modelCommand,
  export: async () => (await import('./export.ts')).exportCommand,
  import: async () => (await import('./import.ts')).importCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(HELP);
    return command ? 0 : 1;
  }
  const load = commands[command];
  if (!load) {
    process.stderr.write(`unirl: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`unirl ${command}: ${err.message}\n(see "unirl --help")\n`);
      return 2;
    }
    process.stderr.write(`unirl ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
