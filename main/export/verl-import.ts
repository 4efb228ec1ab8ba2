// Imports a cluster's rollout dump into a run, so the Rollouts and Ranking screens review and rank it.
// The dump is verl's (trainer.rollout_data_dir): one `{step}.jsonl` per step whose lines carry input,
// output, gts, score and step, plus whatever the reward function returned (our unirl_reward.py returns
// shapeeval, preference and human_rank). Each line names the image it drew: `image` (a path relative to
// the dump folder), or `output` when that is such a path. The lines of one step with the same prompt
// form one group, in file order.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { JsonValue, RewardComponent } from '../../contract/domain.ts';
import type { Store } from '../../db/index.ts';
import { resolveTrainConfig } from '../rl/config.ts';
import { decodePng, type RgbImage } from '../../db/png.ts';

export interface VerlImportOptions {
  dir: string;
  /** Add to this run; default: a new t2i run named after the folder. */
  runId?: number;
  name?: string;
}

export interface VerlImportResult {
  runId: number;
  steps: number[];
  groups: number;
  samples: number;
  /** Groups of two or more images, queued for people to rank. */
  queued: number;
}

interface DumpLine {
  prompt: string;
  groundTruth: string;
  image: RgbImage;
  text: string | null;
  rewards: RewardComponent[];
}

const STEP_FILE = /^(\d+)\.jsonl$/;
/** Keys of a verl dump line that are not reward components. */
const NOT_REWARDS = new Set(['input', 'output', 'gts', 'score', 'step', 'image', 'prompt']);

/** The user's words of a chat-templated input (verl dumps the decoded prompt, template tokens included). */
export function promptOfInput(input: string): string {
  const turns = [...input.matchAll(/<\|im_start\|>user\s*\n([\s\S]*?)(?:<\|im_end\|>|$)/g)];
  return (turns.length ? turns[turns.length - 1]![1]! : input).trim();
}

function imagePathOf(dir: string, value: unknown): string | null {
  if (typeof value !== 'string' || !/\.png$/i.test(value.trim())) return null;
  const path = isAbsolute(value.trim()) ? value.trim() : join(dir, value.trim());
  return existsSync(path) ? path : null;
}

function parseLine(dir: string, file: string, lineNo: number, raw: string): { step: number | null; line: DumpLine } {
  const where = `${file}:${lineNo}`;
  let row: Record<string, unknown>;
  try {
    row = JSON.parse(raw) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  const input = typeof row.prompt === 'string' ? row.prompt : row.input;
  if (typeof input !== 'string' || !input.trim()) throw new Error(`${where}: no "input" (the prompt)`);
  const imagePath = imagePathOf(dir, row.image) ?? imagePathOf(dir, row.output);
  if (!imagePath) {
    throw new Error(
      `${where}: no image: give "image" (a PNG path relative to ${dir}) or an "output" that is one; ` +
        `got image=${JSON.stringify(row.image)}, output=${JSON.stringify(String(row.output ?? '').slice(0, 60))}`,
    );
  }
  if (typeof row.score !== 'number' || !Number.isFinite(row.score))
    throw new Error(`${where}: "score" must be a number, got ${JSON.stringify(row.score)}`);
  let image: RgbImage;
  try {
    image = decodePng(readFileSync(imagePath));
  } catch (err) {
    throw new Error(`${where}: ${imagePath} is not a PNG image (${(err as Error).message})`);
  }
  const extras = Object.entries(row).filter(
    (e): e is [string, number] => !NOT_REWARDS.has(e[0]) && typeof e[1] === 'number' && Number.isFinite(e[1]),
  );
  return {
    step: typeof row.step === 'number' ? row.step : null,
    line: {
      prompt: typeof row.prompt === 'string' ? row.prompt : promptOfInput(input),
      groundTruth: typeof row.gts === 'string' ? row.gts : row.gts === undefined || row.gts === null ? '' : JSON.stringify(row.gts),
      image,
      text: typeof row.output === 'string' && imagePathOf(dir, row.output) === null ? row.output : null,
      // The cluster's score is the reward; the components it was made of are shown beside it (weight 0).
      rewards: [{ name: 'cluster', value: row.score, weight: 1 }, ...extras.map(([name, value]) => ({ name, value, weight: 0 }))],
    },
  };
}

function specOf(groundTruth: string): { task: string; spec: JsonValue } {
  try {
    const spec = JSON.parse(groundTruth) as JsonValue;
    const task = spec && typeof spec === 'object' && !Array.isArray(spec) && typeof spec.task === 'string' ? spec.task : 'verl';
    return { task, spec };
  } catch {
    return { task: 'verl', spec: groundTruth ? { ground_truth: groundTruth } : null };
  }
}

/** Reads the dump's step files (checked whole before anything is written) and writes its groups in one transaction. */
export function importVerlRollouts(store: Store, options: VerlImportOptions): VerlImportResult {
  const dir = resolve(options.dir);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${dir}: no such folder`);
  const files = readdirSync(dir)
    .filter((f) => STEP_FILE.test(f))
    .sort((a, b) => Number(STEP_FILE.exec(a)![1]) - Number(STEP_FILE.exec(b)![1]));
  if (files.length === 0) throw new Error(`${dir}: no {step}.jsonl files (verl writes them to trainer.rollout_data_dir)`);

  // step -> prompt -> lines, in file order
  const steps = new Map<number, Map<string, DumpLine[]>>();
  for (const file of files) {
    const fileStep = Number(STEP_FILE.exec(file)![1]);
    readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .forEach((raw, i) => {
        if (!raw.trim()) return;
        const { step, line } = parseLine(dir, file, i + 1, raw);
        const groups = steps.get(step ?? fileStep) ?? new Map<string, DumpLine[]>();
        steps.set(step ?? fileStep, groups);
        groups.set(line.prompt, [...(groups.get(line.prompt) ?? []), line]);
      });
  }

  return store.transaction(() => {
    const run =
      options.runId !== undefined
        ? store.runs.get(options.runId)
        : store.runs.create({
            name: options.name ?? `verl rollouts: ${basename(dir)}`,
            scenario: 't2i',
            config: resolveTrainConfig('t2i') as never,
          });
    if (run.status === 'created') store.runs.setStatus(run.id, 'running');
    const result: VerlImportResult = { runId: run.id, steps: [...steps.keys()].sort((a, b) => a - b), groups: 0, samples: 0, queued: 0 };
    for (const step of result.steps) {
      for (const [prompt, lines] of steps.get(step)!) {
        const promptId = store.prompts.ensure(run.id, { text: prompt, ...specOf(lines[0]!.groundTruth) }).id;
        const rankable = lines.length > 1;
        store.groups.insert({
          runId: run.id,
          step,
          promptId,
          ranking: rankable ? 'pending' : 'none',
          samples: lines.map((line, index) => ({ seed: index, text: line.text, image: line.image, rewards: line.rewards })),
        });
        result.groups++;
        result.samples += lines.length;
        if (rankable) result.queued++;
      }
    }
    store.runs.setStep(run.id, Math.max(run.step, ...result.steps));
    if (store.runs.get(run.id).status === 'running') store.runs.setStatus(run.id, 'completed');
    return result;
  });
}
