// The commands' options, one table per command, and the strict parser that reads them. `--help`, the
// short usage printed on a bad option (main/cli/help.ts) and README's command-line section all come from
// these tables, so what a command accepts, what it documents and what the README shows cannot drift.
import { EXPORT_FORMATS } from '../../contract/media.ts';

export interface OptionSpec {
  /** 'string' takes a value; 'boolean' does not. */
  readonly kind: 'string' | 'boolean';
  /** The value's placeholder in help (string options), e.g. "DIR", "N", "t2i|cot". */
  readonly value?: string;
  readonly help: string;
}

export interface CommandSpec<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  /** As typed after `unirl`: "eval", "model info". */
  readonly name: string;
  readonly summary: string;
  /** The short usage: one line per way of calling it (options only, without "unirl NAME"). */
  readonly synopsis: readonly string[];
  /** Longer explanation for `--help` (optional). */
  readonly details?: string;
  readonly options: O;
  /** README examples: arguments after "unirl NAME", and a comment. */
  readonly examples: readonly (readonly [args: string, comment: string])[];
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function command<const O extends Record<string, OptionSpec>>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

const str = (value: string, help: string) => ({ kind: 'string', value, help }) as const;
const bool = (help: string) => ({ kind: 'boolean', help }) as const;
const dataDir = str('DIR', 'where runs and the database live (default: $UNIRL_DATA_DIR, else the user data dir)');

export const SERVE = command({
  name: 'serve',
  summary: 'Serve the app headless to a browser',
  synopsis: ['[--host HOST] [--port N] [--data-dir DIR] [--token T] [--reward-service [--reward-run ID]]'],
  details: [
    'Prints "listening on http://HOST:PORT". Any host but loopback requires an access token (generated unless --token), ' +
      'printed as a URL with ?token=...',
    "--reward-service adds POST /reward/score, behind the same token: a cluster's images scored with ShapeEval, the learned",
    "preference model and people's ranks (docs/scale-out.md).",
  ].join('\n'),
  options: {
    host: str('HOST', 'interface to bind (default 127.0.0.1)'),
    port: str('N', 'port (default 5175; 0 picks a free one)'),
    'data-dir': dataDir,
    token: str('T', 'require this access token (one is generated anyway off loopback)'),
    'reward-service': bool('also serve rewards to a cluster at POST /reward/score'),
    'reward-run': str('ID', 'with --reward-service: the run whose preference model scores (default: the newest model)'),
  },
  examples: [
    ['[--host 127.0.0.1] [--port N|0] [--data-dir DIR]', 'headless mode; prints "listening on http://HOST:PORT"'],
    ['--host 0.0.0.0 --reward-service', "+ POST /reward/score: the app's rewards for a cluster"],
  ],
});

export const EVAL = command({
  name: 'eval',
  summary: "Score a generator, or a folder of anyone's images, on ShapeEval",
  synopsis: [
    '--suite NAME --generator oracle|noise|model [--checkpoint PATH] [--json out.json] [--jsonl per-image.jsonl]',
    '--images DIR [--rule geneval|strict] [--json out.json] [--jsonl per-image.jsonl]',
    '--suite NAME --write-prompts DIR [--limit N] [--seed N] [--samples N]',
    '--list',
  ],
  details: [
    'Prints the per-task table. --images scores a GenEval-layout folder written by any model: NNNNN/metadata.jsonl',
    '(the prompt and its include/exclude clauses) and NNNNN/samples/*.png of any size. --write-prompts writes a',
    "suite's prompts in that layout for another model to draw. Edit tasks also edit each result back with the",
    'inverse instruction (cycle); the refine suite runs critique -> refine rounds.',
  ].join('\n'),
  options: {
    list: bool('list the suites, generators and criteria'),
    suite: str('NAME', 'the suite to run (see --list)'),
    generator: str('NAME', 'oracle (exact renders), noise, or model (the unified model)'),
    images: str('DIR', 'score the images in a GenEval-layout folder instead of running a generator'),
    rule: str('geneval|strict', 'with --images: geneval fails only objects the prompt names (default); strict also fails any extra object'),
    'write-prompts': str('DIR', "write the suite's prompts as a GenEval-layout folder (metadata.jsonl per prompt)"),
    checkpoint: str('PATH', 'model weights (default: the shipped base weights)'),
    steps: str('N', 'model: ODE steps per image (default 40)'),
    cfg: str('S', 'model: classifier-free guidance scale'),
    shift: str('S', 'model: ODE time shift'),
    reasoning: bool('model: the LM reasons before drawing'),
    temperature: str('T', 'model: LM sampling temperature (0 = greedy)'),
    threads: str('N', 'model: onnxruntime threads'),
    criterion: str('larger|greener', "also report a hidden criterion's mean over the generated images"),
    'no-cycle': bool('edit tasks skip editing each result back (no cycle column; half the edit requests)'),
    json: str('PATH', 'write the summary as JSON'),
    jsonl: str('PATH', 'write one JSON line per image, with the reasons'),
    size: str('PX', 'image size for generators (default 32, at least 16)'),
    limit: str('N', 'at most N items per task'),
    samples: str('N', 'samples per item (default 4; refine: 2)'),
    seed: str('N', 'suite seed'),
  },
  examples: [
    ['--list', 'ShapeEval suites and generators'],
    ['--suite geneval --generator model [--checkpoint PATH] [--json out.json]', 'the shipped model on GenEval-style tasks'],
    ['--suite vague --generator model --reasoning', 'vague prompts, the LM reasons first'],
    ['--suite rewrite --generator model --temperature 1', "text reasoning: the LM's rewrites, sampled"],
    ['--suite rewrite-hard --generator model --temperature 1', 'riddles composed as pretraining never showed them'],
    ['--suite single_object --generator model --criterion larger', "+ a hidden criterion's mean"],
    ['--suite geneval --write-prompts prompts/', "prompts for another model, in GenEval's layout"],
    ['--images prompts/ [--json out.json]', 'score the images another model drew into that layout'],
  ],
});

export const PRETRAIN = command({
  name: 'pretrain',
  summary: 'Supervised pretraining of the unified model on ShapeWorld',
  synopsis: ['--preset nano|base (--minutes N | --steps N) [--resume | --from PATH] [--mix NAME] [--data-dir DIR] [--out PATH]'],
  details: 'Checkpoint: --out, or <data dir>/models/<preset>/pretrain.safetensors; the loss curve is written beside it.',
  options: {
    preset: str('nano|base', 'model size (default base)'),
    minutes: str('N', 'train for N minutes'),
    steps: str('N', 'train for N steps'),
    resume: bool('continue from the checkpoint'),
    from: str('PATH', 'start a new stage from these weights (fresh optimizer and schedule)'),
    mix: str('balanced|relations', 'what the data emphasises (default balanced)'),
    'data-dir': dataDir,
    out: str('PATH', 'checkpoint path'),
    threads: str('N', 'onnxruntime threads (default 2)'),
    seed: str('N', 'data and initialisation seed'),
    'dm-batch': str('N', 'diffusion examples per step'),
    'lm-batch': str('N', 'language examples per step'),
    lr: str('X', 'learning rate'),
  },
  examples: [
    ['--preset base --minutes 170 [--resume]', 'stages 1-2 of the shipped weights (v2)'],
    [
      '--preset base --from v2.safetensors --mix relations --minutes 70 --lr 3e-4 --seed 2',
      'stage 3 from them, on positions and relations (v3)',
    ],
  ],
});

export const MODEL_INFO = command({
  name: 'model info',
  summary: 'Parameters per part and FLOPs per sample of a preset or checkpoint',
  synopsis: ['[--preset nano|base] [--checkpoint PATH] [--json]'],
  details: "FLOPs count the MatMul/Gemm nodes of the model's own ONNX graphs.",
  options: {
    preset: str('nano|base', 'model preset (default base)'),
    checkpoint: str('PATH', 'read the model from a checkpoint instead'),
    json: bool('print JSON'),
  },
  examples: [['--preset base', 'parameters per part, FLOPs per sample']],
});

export const MODEL_WEIGHTS = command({
  name: 'model weights',
  summary: "Write a checkpoint's weights alone (no optimizer state), keeping its metadata",
  synopsis: ['--checkpoint PATH --out PATH [--cfg-scale S] [--time-shift S]'],
  details:
    'Optionally records the guidance scale and ODE time shift the model generator uses by default ' +
    '(how assets/models/base/model.safetensors is made).',
  options: {
    checkpoint: str('PATH', 'the checkpoint to read'),
    out: str('PATH', 'where to write the weights'),
    'cfg-scale': str('S', 'record this guidance scale as the default'),
    'time-shift': str('S', 'record this ODE time shift as the default'),
  },
  examples: [],
});

export const MODEL_SPEED = command({
  name: 'model speed',
  summary: 'Sampling speed on this machine',
  synopsis: ['[--checkpoint PATH] [--threads N] [--repeats N] [--json]'],
  details:
    'A group of 8 images at 10 SDE steps (RL rollout), 40-step ODE images, and KV-cached LM tokens/s (shipped base weights by default).',
  options: {
    checkpoint: str('PATH', 'model weights (default: the shipped base weights)'),
    threads: str('N', 'onnxruntime threads (default 2; 0 = all)'),
    repeats: str('N', 'runs to take the median of (default 5)'),
    json: bool('print JSON'),
  },
  examples: [['', 'sampling speed on this machine']],
});

export const MODEL_IMPORT = command({
  name: 'model import',
  summary: 'Register a unified model brought as ONNX graphs for evaluation and training',
  synopsis: ['DIR [--name NAME] [--check] [--data-dir DIR]'],
  details:
    'DIR holds unirl-model.json and vision, queries, lm, lm_step, lm_head, connector and dit .onnx ' +
    '(docs/model.md, "Bring your own unified model"). The model is copied to <data dir>/models/imported/NAME/ ' +
    'with its first checkpoint, model.safetensors: pass its path to unirl eval and unirl train as their checkpoint.',
  options: {
    name: str('NAME', "register under this name (default: the manifest's)"),
    check: bool('only report what is missing or mismatched'),
    'data-dir': dataDir,
  },
  examples: [['path/to/model', 'register a model exported from PyTorch; prints its checkpoint']],
});

export const TRAIN = command({
  name: 'train',
  summary: 'GRPO on the unified model',
  synopsis: [
    '--scenario t2i|cot|text|vqa|edit|reflect [--steps N | --minutes M] [--config file.json] [--human sync|async|off]',
    '--scenario NAME --resume RUN_ID [--steps N | --minutes M]',
  ],
  details: [
    'Starts from --checkpoint, else the pretrained weights in the data dir (models/<preset>/pretrain.safetensors),',
    'else the shipped base weights. --preset nano also shrinks the rollout sizes for a quick smoke run (and starts',
    'from random weights when nothing is pretrained). --steps N trains until step N (also when resuming).',
    'Ctrl-C pauses the run after its current step (a checkpoint is written); --resume RUN_ID continues it.',
    '--config is a JSON object of TrainConfig fields (main/rl/config.ts); flags override it. edit trains Cycle',
    'Edit RL ({"edit": {"cycle": false}} turns the cycle term off); reflect trains critique -> refinement cycles',
    '({"reflect": {"rounds": K}}).',
  ].join('\n'),
  options: {
    scenario: str('t2i|cot|text|vqa|edit|reflect', 'what to train'),
    steps: str('N', 'train until step N'),
    minutes: str('M', 'train for M minutes'),
    config: str('FILE', 'JSON object of TrainConfig fields'),
    human: str('sync|async|off', 'human rankings as rewards: wait for them, use them when they come, or none'),
    'data-dir': dataDir,
    preset: str('nano|base', 'model preset (nano: quick smoke run)'),
    checkpoint: str('PATH', 'start from these weights'),
    resume: str('RUN_ID', 'continue a paused, killed or completed run'),
    name: str('NAME', "the run's name"),
    threads: str('N', 'onnxruntime threads'),
    seed: str('N', 'run seed'),
    annotator: str('larger|greener', 'rank the ranking queue with a scripted annotator by a hidden criterion (with --human)'),
  },
  examples: [
    ['--scenario t2i|cot|text|vqa|edit|reflect [--minutes M | --steps N] [--human sync|async|off] [--config FILE]', ''],
    ['--scenario reflect --resume ID [--steps N]', 'a paused, killed or completed run goes on'],
  ],
});

export const EXPORT = command({
  name: 'export',
  summary: "Write a run's records to files: rollouts and preference pairs (Parquet), rankings, reflections, edits, verl dataset",
  synopsis: [`--run ID --format ${EXPORT_FORMATS.join('|')} --out DIR [--data-dir DIR]`],
  details:
    "manifest.json states every file's columns. Rollouts, pairs and Pick-a-Pic rows are Parquet with the images inside; " +
    "verl writes the run's prompts for a cluster (docs/scale-out.md).",
  options: {
    run: str('ID', 'the run id'),
    format: str(EXPORT_FORMATS.join('|'), 'what to write (default all)'),
    out: str('DIR', 'output folder (with manifest.json)'),
    'data-dir': dataDir,
  },
  examples: [['--run ID --format all --out DIR', 'rollouts, TRL pairs, Pick-a-Pic rows, rankings...']],
});

export const PRUNE = command({
  name: 'prune',
  summary: 'Shrink a finished run to its storage policy (checkpoints, kept latents) and give the space back',
  synopsis: ['--run ID [--keep latest=N,best,every=K,latents=viewed|all] [--data-dir DIR]'],
  details:
    "Without --keep the run's own policy (config.storage) applies. With --keep, what it names: latest=N checkpoints\n" +
    'with optimizer state, best (the best held-out evaluation, weights only), every=K (a weights-only snapshot every\n' +
    'K steps), latents=viewed (only ranked and sampled groups keep theirs; the rest are re-drawn on demand) or all.',
  options: {
    run: str('ID', 'the run id (not training)'),
    keep: str('latest=N,best,every=K,latents=viewed|all', "what to keep (default: the run's storage policy)"),
    'data-dir': dataDir,
  },
  examples: [['--run ID --keep latest=1,best,every=500', 'checkpoints and latents by policy; prints the space freed']],
});

export const IMPORT = command({
  name: 'import',
  summary: "Import a cluster's verl rollout dump ({step}.jsonl + PNGs) into a run, to review and rank",
  synopsis: ['--rollouts DIR [--run ID | --name NAME] [--data-dir DIR]'],
  details: "Groups are a step's lines with the same prompt; groups of two or more images wait in the Ranking queue (docs/scale-out.md).",
  options: {
    rollouts: str('DIR', "verl's trainer.rollout_data_dir, with the images its lines name"),
    run: str('ID', 'add to this run (default: a new t2i run)'),
    name: str('NAME', 'name of the new run'),
    'data-dir': dataDir,
  },
  examples: [['--rollouts DIR [--run ID | --name NAME]', "a cluster's verl rollout dump, to review and rank"]],
});

/** Every command, in the order `unirl --help` and the README list them. */
export const COMMANDS: readonly CommandSpec[] = [
  SERVE,
  EVAL,
  TRAIN,
  PRETRAIN,
  MODEL_INFO,
  MODEL_WEIGHTS,
  MODEL_SPEED,
  MODEL_IMPORT,
  EXPORT,
  IMPORT,
  PRUNE,
];

type Kind = OptionSpec['kind'];
type KindOf<V> = V extends OptionSpec ? V['kind'] : V;
/** Options by name: a command's OptionSpec table, or bare kinds (the bench scripts' flags). */
type OptionKinds = Record<string, Kind | OptionSpec>;
export type Flags<O extends OptionKinds> = { [K in keyof O]?: KindOf<O[K]> extends 'boolean' ? boolean : string };

/** Strict flag parsing: unknown options, missing values and values given to switches name the option. */
export function parseFlags<O extends OptionKinds>(args: readonly string[], options: O): { flags: Flags<O>; positional: string[] } {
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inlineValue] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const option = Object.hasOwn(options, name) ? options[name] : undefined;
    if (!option) throw new UsageError(`unknown option --${name}`);
    const kind = typeof option === 'string' ? option : option.kind;
    if (kind === 'boolean') {
      if (inlineValue !== undefined) throw new UsageError(`option --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = inlineValue ?? args[++i];
    if (value === undefined || (inlineValue === undefined && value.startsWith('--'))) {
      const placeholder = typeof option === 'string' ? '' : ` (${option.value ?? 'VALUE'})`;
      throw new UsageError(`option --${name} needs a value${placeholder}`);
    }
    flags[name] = value;
  }
  return { flags: flags as Flags<O>, positional };
}

/** Parses `args` against a command's table. */
export function parseCommand<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  args: readonly string[],
): { flags: Flags<O>; positional: string[] } {
  return parseFlags(args, spec.options);
}

/** parseCommand, and no positional arguments allowed. */
export function parseOptions<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>, args: readonly string[]): Flags<O> {
  const { flags, positional } = parseCommand(spec, args);
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  return flags;
}

export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer 0-65535, got "${value}"`);
  return port;
}
