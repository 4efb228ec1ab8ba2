// `unirl eval`: scores a generator on a ShapeEval suite, prints the per-task table, and optionally writes
// the summary (JSON) and the per-image results with reasons (JSONL). `--images DIR` scores a GenEval-layout
// folder another model drew instead (main/world/folder.ts); `--write-prompts DIR` writes a suite's prompts so.
// `--criterion NAME` also reports a hidden criterion's mean over the generated images (the scripted
// annotator's, world/criteria.ts).
// Edit tasks also edit every result back with the inverse instruction and report the reconstruction's
// similarity to the source (`cycle`, as the Cycle Edit RL reward); `--no-cycle` skips that second edit (half
// the edit requests). The `refine` suite runs whole reflection cycles (first image, then up to 2 critique ->
// refine rounds) and reports first and final accuracy, corrected/broken shares, critique agreement and rounds.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  buildSuite,
  createGenerator,
  CRITERION_NAMES,
  FOLDER_RULES,
  formatReport,
  isCriterion,
  listGenerators,
  runSuite,
  scoreImageFolder,
  SUITE_NAMES,
  writePromptFolder,
  type FolderRule,
  type SampleRecord,
  type SuiteReport,
} from '../world/index.ts';
import { EVAL, parseOptions, UsageError } from './args.ts';
// Registers the `model` generator (the unified model) beside ShapeWorld's oracle and noise.
import '../models/generator.ts';

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got "${value}"`);
  return n;
}

/** A mode's flags: any other option given with it would change nothing, so it is refused by name. */
function onlyWith(flags: Record<string, unknown>, mode: string, allowed: string[], what: string): void {
  const stray = Object.keys(flags).find((name) => flags[name] !== undefined && !allowed.includes(name));
  if (stray) throw new UsageError(`--${mode} ${what}; it takes no --${stray}`);
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`--${flag} must be an integer, got "${value}"`);
  return n;
}

/** The per-task table on stdout; the summary (--json) and the per-image records (--jsonl) as files. */
function writeResults(report: SuiteReport, records: SampleRecord[], flags: { json?: string; jsonl?: string }): void {
  process.stdout.write(formatReport(report) + '\n');
  if (flags.json) writeFileSync(flags.json, JSON.stringify(report, null, 2) + '\n');
  if (flags.jsonl) writeFileSync(flags.jsonl, records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
}

export async function evalCommand(args: string[]): Promise<number> {
  const flags = parseOptions(EVAL, args);
  if (flags.list) {
    const lines = ['Suites:'];
    for (const name of SUITE_NAMES) {
      const suite = buildSuite(name);
      const items = suite.tasks.reduce((s, t) => s + t.items.length, 0);
      lines.push(
        `  ${name.padEnd(14)} ${String(suite.tasks.length).padStart(2)} tasks ${String(items).padStart(4)} items  ${suite.description}`,
      );
    }
    lines.push('Generators:');
    for (const g of listGenerators()) lines.push(`  ${g.name.padEnd(14)} ${g.description}`);
    lines.push(`Criteria (--criterion): ${CRITERION_NAMES.join(', ')}`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  }
  if (flags.images !== undefined) {
    onlyWith(flags, 'images', ['images', 'rule', 'json', 'jsonl'], 'scores a folder of images');
    const rule = flags.rule ?? 'geneval';
    if (!FOLDER_RULES.includes(rule as FolderRule)) throw new UsageError(`--rule must be one of ${FOLDER_RULES.join(', ')}, got "${rule}"`);
    const records: SampleRecord[] = [];
    const report = scoreImageFolder(flags.images, { rule: rule as FolderRule, onRecord: flags.jsonl ? (r) => records.push(r) : undefined });
    writeResults(report, records, flags);
    return 0;
  }
  if (flags.rule !== undefined) throw new UsageError('--rule applies to --images');
  if (!flags.suite) throw new UsageError('--suite is required');
  if (!SUITE_NAMES.includes(flags.suite)) throw new UsageError(`unknown suite "${flags.suite}"; suites: ${SUITE_NAMES.join(', ')}`);
  if (flags['write-prompts'] !== undefined) {
    onlyWith(flags, 'write-prompts', ['write-prompts', 'suite', 'seed', 'limit', 'samples'], 'writes prompts for another model');
    const suite = buildSuite(flags.suite, { seed: integer(flags.seed, 'seed'), limit: positiveInt(flags.limit, 'limit') });
    const dir = resolve(flags['write-prompts']);
    const { prompts, tasks } = writePromptFolder(suite, dir);
    const samples = positiveInt(flags.samples, 'samples') ?? suite.samplesPerItem;
    process.stdout.write(
      `wrote ${prompts} prompts (${tasks.join(', ')}) to ${dir}\n` +
        `draw ${samples} images per prompt into NNNNN/samples/ (PNG, any size), then: unirl eval --images ${flags['write-prompts']}\n`,
    );
    return 0;
  }
  if (!flags.generator) throw new UsageError('--generator is required (or --write-prompts DIR, or --images DIR)');
  if (!listGenerators().some((g) => g.name === flags.generator)) {
    throw new UsageError(
      `unknown generator "${flags.generator}"; generators: ${listGenerators()
        .map((g) => g.name)
        .join(', ')}`,
    );
  }
  const size = positiveInt(flags.size, 'size');
  if (size !== undefined && size < 16) throw new UsageError(`--size must be at least 16, got ${size}`);
  const seed = integer(flags.seed, 'seed');
  const criterion = flags.criterion;
  if (criterion !== undefined && !isCriterion(criterion))
    throw new UsageError(`--criterion must be one of ${CRITERION_NAMES.join(', ')}, got "${criterion}"`);
  const suite = buildSuite(flags.suite, {
    seed,
    limit: positiveInt(flags.limit, 'limit'),
    samplesPerItem: positiveInt(flags.samples, 'samples'),
  });
  if (criterion !== undefined && !suite.tasks.some((t) => t.kind === 'text_to_image' || t.kind === 'edit' || t.kind === 'reflect')) {
    throw new UsageError(`--criterion scores generated images; suite "${suite.name}" generates none`);
  }
  const cfg = flags.cfg === undefined ? undefined : Number(flags.cfg);
  if (cfg !== undefined && !(cfg >= 0)) throw new UsageError(`--cfg must be a number >= 0, got "${flags.cfg}"`);
  const shift = flags.shift === undefined ? undefined : Number(flags.shift);
  if (shift !== undefined && !(shift > 0)) throw new UsageError(`--shift must be a number > 0, got "${flags.shift}"`);
  const temperature = flags.temperature === undefined ? undefined : Number(flags.temperature);
  if (temperature !== undefined && !(temperature >= 0))
    throw new UsageError(`--temperature must be a number >= 0, got "${flags.temperature}"`);
  // Options only the model generator reads: which weights, how many ODE steps, their time shift, guidance, reasoning first.
  const generator = await createGenerator(flags.generator, {
    ...(flags.checkpoint ? { checkpoint: flags.checkpoint } : {}),
    ...(flags.steps ? { steps: positiveInt(flags.steps, 'steps') } : {}),
    ...(cfg !== undefined ? { cfgScale: cfg } : {}),
    ...(shift !== undefined ? { shift } : {}),
    ...(flags.reasoning ? { reasoning: true } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(flags.threads ? { threads: positiveInt(flags.threads, 'threads') } : {}),
  });
  const records: SampleRecord[] = [];
  try {
    const report = await runSuite(suite, generator, {
      ...(size ? { width: size, height: size } : {}),
      ...(criterion !== undefined && isCriterion(criterion) ? { criterion } : {}),
      ...(flags['no-cycle'] ? { cycle: false } : {}),
      onRecord: flags.jsonl ? (r) => records.push(r) : undefined,
    });
    writeResults(report, records, flags);
  } finally {
    await generator.dispose?.();
  }
  return 0;
}
