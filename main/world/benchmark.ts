// Runs a suite against a generator: batches requests, scores every sample, and summarises per task
// (accuracy, mean reward; accuracy+ for question pairs) and overall (unweighted mean of task accuracies).
import { scoreEdit } from './edits.ts';
import type { Generator } from './generators.ts';
import { renderScene, DEFAULT_RESOLUTION } from './render.ts';
import { answerMatches } from './questions.ts';
import { critiqueMentions } from './reflection.ts';
import { mixSeeds, seedFromText } from './rng.ts';
import { score } from './evaluate.ts';
import type { Suite, SuiteTask } from './suites.ts';
import type { ImageRGB } from './image.ts';

/** One scored sample: a line of the per-image JSONL. */
export interface SampleRecord {
  suite: string;
  task: string;
  item: string;
  sample: number;
  seed: number;
  /** The prompt, instruction, question or (for critiques) the prompt the image should show. */
  input: string;
  correct: boolean;
  reward: number;
  reason: string;
  /** Text outputs (answers, critiques). */
  output?: string;
}

export interface TaskReport {
  task: string;
  kind: SuiteTask['kind'];
  items: number;
  samples: number;
  accuracy: number;
  meanReward: number;
  /** Question tasks: share of images with both questions of the pair right (MME accuracy+). */
  accuracyPlus?: number;
  /** Set when the generator lacks the capability; the task is left out of the overall score. */
  skipped?: string;
}

export interface SuiteReport {
  suite: string;
  generator: string;
  width: number;
  height: number;
  tasks: TaskReport[];
  /** Unweighted mean of the accuracies of the tasks that ran. */
  overall: number;
  elapsedMs: number;
}

export interface RunOptions {
  width?: number;
  height?: number;
  /** Requests per generator call (the generator's maxBatch caps it). */
  batchSize?: number;
  /** Every scored sample, with the image it judged (generated, edited, or the one asked about). */
  onRecord?: (record: SampleRecord, image: ImageRGB) => void;
  /** After every generator call: requests answered so far, of all the suite's requests. Throwing stops the run
   *  (the compute worker's cancellation check goes here). */
  onProgress?: (done: number, total: number, task: string) => void;
}

/** Requests a task sends to the generator (questions come in pairs; critiques one per item). */
function requestsOf(task: SuiteTask, samplesPerItem: number): number {
  return task.items.length * (task.kind === 'question' ? 2 : task.kind === 'critique' ? 1 : samplesPerItem);
}

export async function runSuite(suite: Suite, generator: Generator, options: RunOptions = {}): Promise<SuiteReport> {
  const started = Date.now();
  const width = options.width ?? DEFAULT_RESOLUTION;
  const height = options.height ?? width;
  const batch = Math.max(1, Math.min(options.batchSize ?? 64, generator.maxBatch ?? 64));
  const reports: TaskReport[] = [];
  const total = suite.tasks.reduce((s, task) => s + requestsOf(task, suite.samplesPerItem), 0);
  let done = 0;
  const inBatches = async <R, O>(requests: R[], taskName: string, run: (batch: R[]) => Promise<O[]>): Promise<O[]> => {
    const out: O[] = [];
    for (let i = 0; i < requests.length; i += batch) {
      const chunk = requests.slice(i, i + batch);
      const result = await run(chunk);
      if (result.length !== chunk.length) throw new Error(`generator "${generator.name}" returned ${result.length} outputs for ${chunk.length} requests`);
      out.push(...result);
      done += chunk.length;
      options.onProgress?.(done, total, taskName);
    }
    return out;
  };
  for (const task of suite.tasks) {
    const records: SampleRecord[] = [];
    const recordImages: ImageRGB[] = [];
    const base = { suite: suite.name, task: task.name };
    // Seeded by task name: a task's samples are the same whether it runs alone or inside `geneval`.
    const seedOf = (item: number, sample: number) => mixSeeds(suite.seed, seedFromText(task.name), item, sample);
    let accuracyPlus: number | undefined;
    let skipped: string | undefined;
    if (task.kind === 'text_to_image') {
      if (!generator.textToImage) skipped = 'generator has no textToImage';
      else {
        const jobs = task.items.flatMap((item, i) => Array.from({ length: suite.samplesPerItem }, (_, s) => ({ item, s, seed: seedOf(i, s) })));
        const images = await inBatches(jobs, task.name, (b) =>
          generator.textToImage!(b.map((j) => ({ prompt: j.item.prompt, seed: j.seed, width, height, truth: j.item.spec }))));
        jobs.forEach((j, k) => {
          const result = score(images[k]!, j.item.spec);
          records.push({ ...base, item: j.item.id, sample: j.s, seed: j.seed, input: j.item.prompt, correct: result.correct, reward: result.reward, reason: result.reason });
          recordImages.push(images[k]!);
        });
      }
    } else if (task.kind === 'edit') {
      if (!generator.edit) skipped = 'generator has no edit';
      else {
        const sources = new Map<string, ImageRGB>(task.items.map((item) => [item.id, renderScene(item.edit.source, { width, height })]));
        const jobs = task.items.flatMap((item, i) => Array.from({ length: suite.samplesPerItem }, (_, s) => ({ item, s, seed: seedOf(i, s) })));
        const images = await inBatches(jobs, task.name, (b) =>
          generator.edit!(b.map((j) => ({ source: sources.get(j.item.id)!, instruction: j.item.edit.instruction, seed: j.seed, truth: j.item.edit.target }))));
        jobs.forEach((j, k) => {
          const result = scoreEdit(images[k]!, sources.get(j.item.id)!, j.item.edit);
          records.push({ ...base, item: j.item.id, sample: j.s, seed: j.seed, input: j.item.edit.instruction, correct: result.correct, reward: result.reward, reason: result.reason });
          recordImages.push(images[k]!);
        });
      }
    } else if (task.kind === 'question') {
      if (!generator.answer) skipped = 'generator has no answer';
      else {
        const images = task.items.map((item) => renderScene(item.pair.scene, { width, height }));
        const jobs = task.items.flatMap((item, i) => [item.pair.yes, item.pair.no].map((q, s) => ({ item, i, s, q })));
        const answers = await inBatches(jobs, task.name, (b) => generator.answer!(b.map((j) => ({ image: images[j.i]!, question: j.q.text, truth: j.q.answer }))));
        let bothRight = 0;
        jobs.forEach((j, k) => {
          const correct = answerMatches(answers[k]!, j.q.answer);
          records.push({ ...base, item: j.item.id, sample: j.s, seed: 0, input: j.q.text, correct, reward: correct ? 1 : 0, reason: correct ? 'ok' : `expected "${j.q.answer}"`, output: answers[k]! });
          recordImages.push(images[j.i]!);
          if (j.s === 1 && correct && records[records.length - 2]!.correct) bothRight++;
        });
        accuracyPlus = task.items.length ? bothRight / task.items.length : 0;
      }
    } else {
      if (!generator.critique) skipped = 'generator has no critique';
      else {
        const images = task.items.map((item) => renderScene(item.example.wrongScene, { width, height }));
        const critiques = await inBatches(task.items.map((item, i) => ({ item, i })), task.name, (b) =>
          generator.critique!(b.map((j) => ({ image: images[j.i]!, prompt: j.item.example.prompt, truth: j.item.example.critique }))));
        task.items.forEach((item, i) => {
          const correct = critiqueMentions(critiques[i]!, item.example);
          records.push({
            ...base, item: item.id, sample: 0, seed: 0, input: item.example.prompt, correct, reward: correct ? 1 : 0,
            reason: correct ? 'ok' : `critique should mention: ${item.example.mentions.join(', ')}`, output: critiques[i]!,
          });
          recordImages.push(images[i]!);
        });
      }
    }
    records.forEach((r, i) => options.onRecord?.(r, recordImages[i]!));
    const n = records.length;
    reports.push({
      task: task.name, kind: task.kind, items: task.items.length, samples: n,
      accuracy: n ? records.filter((r) => r.correct).length / n : 0,
      meanReward: n ? records.reduce((s, r) => s + r.reward, 0) / n : 0,
      ...(accuracyPlus !== undefined ? { accuracyPlus } : {}),
      ...(skipped ? { skipped } : {}),
    });
    if (skipped) {
      done += requestsOf(task, suite.samplesPerItem);
      options.onProgress?.(done, total, task.name);
    }
  }
  const ran = reports.filter((r) => !r.skipped);
  return {
    suite: suite.name, generator: generator.name, width, height, tasks: reports,
    overall: ran.length ? ran.reduce((s, r) => s + r.accuracy, 0) / ran.length : 0,
    elapsedMs: Date.now() - started,
  };
}


/** The summary as a fixed-width table. */
export function formatReport(report: SuiteReport): string {
  const rows = report.tasks.map((t) => [
    t.task, String(t.items), String(t.samples),
    t.skipped ? 'skipped' : t.accuracy.toFixed(3), t.skipped ? '' : t.meanReward.toFixed(3),
    t.accuracyPlus !== undefined ? t.accuracyPlus.toFixed(3) : '',
  ]);
  const header = ['task', 'items', 'samples', 'accuracy', 'reward', 'acc+'];
  const all = [header, ...rows, ['overall', '', '', report.overall.toFixed(3), '', '']];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [
    `ShapeEval suite "${report.suite}", generator "${report.generator}", ${report.width}x${report.height}, ${(report.elapsedMs / 1000).toFixed(1)} s`,
    line(header), ...rows.map(line), line(all[all.length - 1]!),
  ].join('\n');
}
