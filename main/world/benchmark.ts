// Runs a suite against a generator: batches requests, scores every sample, and summarises per task
// (accuracy, mean reward; accuracy+ for question pairs; mean words of text rewrites; the cycle score of
// edits; first-image accuracy, corrected/broken shares, critique agreement and rounds of reflection cycles;
// optionally the mean hidden-criterion score of the generated images) and overall (unweighted mean of task
// accuracies).
import { CRITERIA, type Criterion } from './criteria.ts';
import { scoreEdit } from './edits.ts';
import type { Generator, ReflectResult } from './generators.ts';
import { renderScene, DEFAULT_RESOLUTION } from './render.ts';
import { answerMatches } from './questions.ts';
import { critiqueMentions, type CritiqueVerdict } from './reflection.ts';
import { poolCounts, ratio, reflectionCounts } from './reflection-stats.ts';
import { mixSeeds, seedFromText } from './rng.ts';
import { score } from './evaluate.ts';
import type { Suite, SuiteTask } from './suites.ts';
import { imageSimilarity, type ImageRGB } from './image.ts';
import { extractAnswer, rewriteSatisfies } from './vague.ts';

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
  /** Text outputs (answers, critiques, rewrites with their reasoning). */
  output?: string;
  /** The run's hidden criterion on the generated image (RunOptions.criterion). */
  criterion?: number;
  /** Edit tasks with the cycle on: the edited image edited back with the inverse instruction, its similarity to the source. */
  cycle?: number;
  /** Reflect tasks (correct/reward/reason are the final image's): the first image's score and every round, each
   *  critique with ShapeEval's verdict on the image it judged. */
  reflection?: {
    firstCorrect: boolean;
    firstReward: number;
    rounds: { critique: string; verdict: CritiqueVerdict; fix?: string; judgedCorrect: boolean; agrees: boolean }[];
  };
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
  /** Rewrite tasks: mean number of words of the whole output (reasoning and rewrite, tags left out). */
  meanWords?: number;
  /** Image tasks, with RunOptions.criterion: the criterion's mean over the generated images. */
  criterion?: number;
  /** Edit tasks with the cycle on: mean similarity of the reconstruction (edit, then the inverse edit) to the source. */
  cycle?: number;
  /** Reflect tasks (accuracy and meanReward are the final images'): accuracy of the first images. */
  firstAccuracy?: number;
  /** Reflect tasks: share of wrong first images whose cycle ends right (null: no first image was wrong). */
  corrected?: number | null;
  /** Reflect tasks: share of right first images whose cycle ends wrong (null: no first image was right). */
  broken?: number | null;
  /** Reflect tasks: share of critiques whose verdict (right/wrong) agrees with ShapeEval's on the judged image (null: none written). */
  critiqueAgreement?: number | null;
  /** Reflect tasks: mean critique rounds per cycle (a round: one critique, and a refinement when it says wrong). */
  meanRounds?: number;
  /** Set when the generator lacks the capability; the task is left out of the overall score. */
  skipped?: string;
}

export interface SuiteReport {
  suite: string;
  generator: string;
  /** Image size; 0 for a folder of images of several sizes (scoreImageFolder). */
  width: number;
  height: number;
  tasks: TaskReport[];
  /** Unweighted mean of the accuracies of the tasks that ran. */
  overall: number;
  /** Rewrite tasks: mean words of the outputs, all rewrite samples pooled. */
  meanWords?: number;
  /** With RunOptions.criterion: its mean over every generated image of the suite (all image tasks pooled). */
  criterion?: { name: Criterion; mean: number; images: number };
  /** Edit tasks with the cycle on: mean reconstruction similarity, all edit samples pooled. */
  cycle?: number;
  /** Reflect tasks: first-image accuracy as `overall` averages (unweighted over tasks); the rest pooled over
   *  all cycles (corrected, broken, rounds) or all critiques (agreement). */
  reflection?: {
    firstAccuracy: number;
    corrected: number | null;
    broken: number | null;
    critiqueAgreement: number | null;
    meanRounds: number;
  };
  elapsedMs: number;
}

export interface RunOptions {
  width?: number;
  height?: number;
  /** Requests per generator call (the generator's maxBatch caps it). */
  batchSize?: number;
  /** Every scored sample, with the image it judged (generated, edited, or the one asked about; none for rewrites). */
  onRecord?: (record: SampleRecord, image: ImageRGB | undefined) => void;
  /** A hidden criterion (criteria.ts) to score every generated image with (text-to-image, edit and reflect tasks; final images). */
  criterion?: Criterion;
  /** Edit tasks: also edit every result back with the inverse instruction and report the reconstruction's
   *  similarity to the source (`cycle`; default on: it doubles the edit requests). */
  cycle?: boolean;
  /** After every generator call: requests answered so far, of all the suite's requests. Throwing stops the run
   *  (the compute worker's cancellation check goes here). */
  onProgress?: (done: number, total: number, task: string) => void;
}

/** Requests a task sends to the generator (questions come in pairs; critiques and rewrites one per item; an
 *  edit and its way back two per sample with the cycle on; a reflection cycle is one request). */
function requestsOf(task: SuiteTask, samplesPerItem: number, cycle: boolean): number {
  return (
    task.items.length *
    (task.kind === 'question'
      ? 2
      : task.kind === 'critique' || task.kind === 'rewrite'
        ? 1
        : task.kind === 'edit' && cycle
          ? 2 * samplesPerItem
          : samplesPerItem)
  );
}

/** Checks a reflection cycle's shape (see ReflectResult): a round per judged image, a refinement after each 'wrong'. */
function checkCycle(result: ReflectResult, maxRounds: number, generator: string): void {
  const { images, rounds } = result;
  const bad = (why: string) => new Error(`generator "${generator}" returned a malformed reflection cycle: ${why}`);
  if (images.length < 1) throw bad('no first image');
  if (rounds.length > maxRounds) throw bad(`${rounds.length} rounds, at most ${maxRounds} asked`);
  rounds.forEach((r, k) => {
    if (r.verdict !== 'correct' && r.verdict !== 'wrong') throw bad(`round ${k + 1} verdict "${String(r.verdict)}"`);
    if (r.verdict === 'correct' && k < rounds.length - 1) throw bad(`round ${k + 1} says correct but the cycle goes on`);
  });
  const refinements = rounds.filter((r) => r.verdict === 'wrong').length;
  if (images.length !== 1 + refinements)
    throw bad(`${images.length} images for ${refinements} 'wrong' verdicts (expected ${1 + refinements})`);
}

/** Words of a text output, tags left out. */
function wordCount(text: string): number {
  return text
    .replace(/<[^>]+>/g, ' ')
    .split(/\s+/)
    .filter(Boolean).length;
}

export async function runSuite(suite: Suite, generator: Generator, options: RunOptions = {}): Promise<SuiteReport> {
  const started = Date.now();
  const width = options.width ?? DEFAULT_RESOLUTION;
  const height = options.height ?? width;
  const batch = Math.max(1, Math.min(options.batchSize ?? 64, generator.maxBatch ?? 64));
  const reports: TaskReport[] = [];
  const cycleOn = options.cycle ?? true;
  const total = suite.tasks.reduce((s, task) => s + requestsOf(task, suite.samplesPerItem, cycleOn), 0);
  let done = 0;
  const criterion = options.criterion === undefined ? undefined : CRITERIA[options.criterion];
  if (options.criterion !== undefined && !criterion)
    throw new Error(`runSuite: unknown criterion "${options.criterion}"; criteria: ${Object.keys(CRITERIA).join(', ')}`);
  let criterionSum = 0;
  let criterionImages = 0;
  // Reflect tasks, pooled over the suite: [numerator, denominator].
  const pooled = reflectionCounts([]);
  const inBatches = async <R, O>(requests: R[], taskName: string, run: (batch: R[]) => Promise<O[]>): Promise<O[]> => {
    const out: O[] = [];
    for (let i = 0; i < requests.length; i += batch) {
      const chunk = requests.slice(i, i + batch);
      const result = await run(chunk);
      if (result.length !== chunk.length)
        throw new Error(`generator "${generator.name}" returned ${result.length} outputs for ${chunk.length} requests`);
      out.push(...result);
      done += chunk.length;
      options.onProgress?.(done, total, taskName);
    }
    return out;
  };
  for (const task of suite.tasks) {
    const records: SampleRecord[] = [];
    const recordImages: (ImageRGB | undefined)[] = [];
    /** A generated image's record: with the criterion's score when the run measures one. */
    const generated = (record: SampleRecord, image: ImageRGB) => {
      if (criterion) record.criterion = criterion(image);
      records.push(record);
      recordImages.push(image);
    };
    const base = { suite: suite.name, task: task.name };
    // Seeded by task name: a task's samples are the same whether it runs alone or inside `geneval` (a reflect
    // task by its seed task's name: its first images are that task's single-shot images).
    const seedName = task.kind === 'reflect' ? task.seedTask : task.name;
    const seedOf = (item: number, sample: number) => mixSeeds(suite.seed, seedFromText(seedName), item, sample);
    let accuracyPlus: number | undefined;
    let skipped: string | undefined;
    if (task.kind === 'text_to_image') {
      if (!generator.textToImage) skipped = 'generator has no textToImage';
      else {
        const jobs = task.items.flatMap((item, i) =>
          Array.from({ length: suite.samplesPerItem }, (_, s) => ({ item, s, seed: seedOf(i, s) })),
        );
        const images = await inBatches(jobs, task.name, (b) =>
          generator.textToImage!(b.map((j) => ({ prompt: j.item.prompt, seed: j.seed, width, height, truth: j.item.spec }))),
        );
        jobs.forEach((j, k) => {
          const result = score(images[k]!, j.item.spec);
          generated(
            {
              ...base,
              item: j.item.id,
              sample: j.s,
              seed: j.seed,
              input: j.item.prompt,
              correct: result.correct,
              reward: result.reward,
              reason: result.reason,
            },
            images[k]!,
          );
        });
      }
    } else if (task.kind === 'edit') {
      if (!generator.edit) skipped = 'generator has no edit';
      else {
        const sources = new Map<string, ImageRGB>(task.items.map((item) => [item.id, renderScene(item.edit.source, { width, height })]));
        const jobs = task.items.flatMap((item, i) =>
          Array.from({ length: suite.samplesPerItem }, (_, s) => ({ item, s, seed: seedOf(i, s) })),
        );
        const images = await inBatches(jobs, task.name, (b) =>
          generator.edit!(
            b.map((j) => ({
              source: sources.get(j.item.id)!,
              instruction: j.item.edit.instruction,
              seed: j.seed,
              truth: j.item.edit.target,
            })),
          ),
        );
        // The cycle: each result edited back with the inverse instruction (Cycle Edit RL's second edit, its seed
        // as the RL rollout's second turn), compared with the source as the RL `cycle` reward does.
        const back = cycleOn
          ? await inBatches(
              jobs.map((j, k) => ({ j, edited: images[k]! })),
              task.name,
              (b) =>
                generator.edit!(
                  b.map(({ j, edited }) => ({
                    source: edited,
                    instruction: j.item.edit.inverse,
                    seed: mixSeeds(j.seed, 1),
                    truth: j.item.edit.source,
                  })),
                ),
            )
          : undefined;
        jobs.forEach((j, k) => {
          const result = scoreEdit(images[k]!, sources.get(j.item.id)!, j.item.edit);
          generated(
            {
              ...base,
              item: j.item.id,
              sample: j.s,
              seed: j.seed,
              input: j.item.edit.instruction,
              correct: result.correct,
              reward: result.reward,
              reason: result.reason,
              ...(back ? { cycle: imageSimilarity(back[k]!, sources.get(j.item.id)!) } : {}),
            },
            images[k]!,
          );
        });
      }
    } else if (task.kind === 'reflect') {
      if (!generator.reflect) skipped = 'generator has no reflect';
      else {
        const jobs = task.items.flatMap((item, i) =>
          Array.from({ length: suite.samplesPerItem }, (_, s) => ({ item, s, seed: seedOf(i, s) })),
        );
        const cycles = await inBatches(jobs, task.name, (b) =>
          generator.reflect!(
            b.map((j) => ({ prompt: j.item.prompt, seed: j.seed, width, height, rounds: task.rounds, truth: j.item.spec })),
          ),
        );
        jobs.forEach((j, k) => {
          const cycle = cycles[k]!;
          checkCycle(cycle, task.rounds, generator.name);
          // ShapeEval scores every image of the cycle itself; the generator only says what its critiques concluded.
          const scores = cycle.images.map((image) => score(image, j.item.spec));
          const first = scores[0]!;
          const last = scores[scores.length - 1]!;
          const rounds = cycle.rounds.map((r, n) => {
            const judgedCorrect = scores[n]!.correct;
            return {
              critique: r.critique,
              verdict: r.verdict,
              ...(r.fix !== undefined ? { fix: r.fix } : {}),
              judgedCorrect,
              agrees: (r.verdict === 'correct') === judgedCorrect,
            };
          });
          generated(
            {
              ...base,
              item: j.item.id,
              sample: j.s,
              seed: j.seed,
              input: j.item.prompt,
              correct: last.correct,
              reward: last.reward,
              reason:
                `${last.reason} (first image: ${first.correct ? 'right' : 'wrong'}, ` +
                `${rounds.length} critique round${rounds.length === 1 ? '' : 's'})`,
              output: cycle.rounds.map((r) => r.critique).join(' | '),
              reflection: { firstCorrect: first.correct, firstReward: first.reward, rounds },
            },
            cycle.images[cycle.images.length - 1]!,
          );
        });
      }
    } else if (task.kind === 'question') {
      if (!generator.answer) skipped = 'generator has no answer';
      else {
        const images = task.items.map((item) => renderScene(item.pair.scene, { width, height }));
        const jobs = task.items.flatMap((item, i) => [item.pair.yes, item.pair.no].map((q, s) => ({ item, i, s, q })));
        const answers = await inBatches(jobs, task.name, (b) =>
          generator.answer!(b.map((j) => ({ image: images[j.i]!, question: j.q.text, truth: j.q.answer }))),
        );
        let bothRight = 0;
        jobs.forEach((j, k) => {
          const correct = answerMatches(answers[k]!, j.q.answer);
          records.push({
            ...base,
            item: j.item.id,
            sample: j.s,
            seed: 0,
            input: j.q.text,
            correct,
            reward: correct ? 1 : 0,
            reason: correct ? 'ok' : `expected "${j.q.answer}"`,
            output: answers[k]!,
          });
          recordImages.push(images[j.i]!);
          if (j.s === 1 && correct && records[records.length - 2]!.correct) bothRight++;
        });
        accuracyPlus = task.items.length ? bothRight / task.items.length : 0;
      }
    } else if (task.kind === 'rewrite') {
      if (!generator.rewrite) skipped = 'generator has no rewrite';
      else {
        const outputs = await inBatches(task.items, task.name, (b) =>
          generator.rewrite!(b.map((item) => ({ prompt: item.prompt, truth: item.reference }))),
        );
        task.items.forEach((item, i) => {
          // The RL `text` scenario's answer reward: the answer of the completion must satisfy the constraints.
          const answer = extractAnswer(outputs[i]!);
          const correct = rewriteSatisfies(answer, item.spec);
          records.push({
            ...base,
            item: item.id,
            sample: 0,
            seed: 0,
            input: item.prompt,
            correct,
            reward: correct ? 1 : 0,
            reason: correct ? 'ok' : `rewrite "${answer}" does not satisfy the prompt (one right rewrite: "${item.reference}")`,
            output: outputs[i]!,
          });
          recordImages.push(undefined);
        });
      }
    } else {
      if (!generator.critique) skipped = 'generator has no critique';
      else {
        const images = task.items.map((item) => renderScene(item.example.wrongScene, { width, height }));
        const critiques = await inBatches(
          task.items.map((item, i) => ({ item, i })),
          task.name,
          (b) =>
            generator.critique!(b.map((j) => ({ image: images[j.i]!, prompt: j.item.example.prompt, truth: j.item.example.critique }))),
        );
        task.items.forEach((item, i) => {
          const correct = critiqueMentions(critiques[i]!, item.example);
          records.push({
            ...base,
            item: item.id,
            sample: 0,
            seed: 0,
            input: item.example.prompt,
            correct,
            reward: correct ? 1 : 0,
            reason: correct ? 'ok' : `critique should mention: ${item.example.mentions.join(', ')}`,
            output: critiques[i]!,
          });
          recordImages.push(images[i]!);
        });
      }
    }
    records.forEach((r, i) => options.onRecord?.(r, recordImages[i]));
    const n = records.length;
    const cycled = records.filter((r) => r.cycle !== undefined);
    let reflectStats: Partial<TaskReport> = {};
    if (task.kind === 'reflect' && !skipped) {
      const counts = reflectionCounts(
        records.flatMap((r) =>
          r.reflection
            ? [{ firstCorrect: r.reflection.firstCorrect, finalCorrect: r.correct, agreements: r.reflection.rounds.map((c) => c.agrees) }]
            : [],
        ),
      );
      poolCounts(pooled, counts);
      reflectStats = {
        firstAccuracy: n ? counts.first[0] / n : 0,
        corrected: ratio(counts.corrected),
        broken: ratio(counts.broken),
        critiqueAgreement: ratio(counts.agreement),
        meanRounds: ratio(counts.rounds) ?? 0,
      };
    }
    const scored = records.filter((r) => r.criterion !== undefined);
    const taskCriterion = scored.reduce((sum, r) => sum + r.criterion!, 0);
    criterionSum += taskCriterion;
    criterionImages += scored.length;
    reports.push({
      task: task.name,
      kind: task.kind,
      items: task.items.length,
      samples: n,
      accuracy: n ? records.filter((r) => r.correct).length / n : 0,
      meanReward: n ? records.reduce((s, r) => s + r.reward, 0) / n : 0,
      ...(accuracyPlus !== undefined ? { accuracyPlus } : {}),
      ...(task.kind === 'rewrite' && n ? { meanWords: records.reduce((sum, r) => sum + wordCount(r.output ?? ''), 0) / n } : {}),
      ...(scored.length ? { criterion: taskCriterion / scored.length } : {}),
      ...(cycled.length ? { cycle: cycled.reduce((sum, r) => sum + r.cycle!, 0) / cycled.length } : {}),
      ...reflectStats,
      ...(skipped ? { skipped } : {}),
    });
    if (skipped) {
      done += requestsOf(task, suite.samplesPerItem, cycleOn);
      options.onProgress?.(done, total, task.name);
    }
  }
  const ran = reports.filter((r) => !r.skipped);
  const worded = ran.filter((r) => r.meanWords !== undefined);
  const wordedSamples = worded.reduce((s, r) => s + r.samples, 0);
  const cycledTasks = ran.filter((r) => r.cycle !== undefined);
  const cycledSamples = cycledTasks.reduce((s, r) => s + r.samples, 0);
  const reflectTasks = ran.filter((r) => r.kind === 'reflect');
  return {
    suite: suite.name,
    generator: generator.name,
    width,
    height,
    tasks: reports,
    overall: ran.length ? ran.reduce((s, r) => s + r.accuracy, 0) / ran.length : 0,
    ...(wordedSamples ? { meanWords: worded.reduce((s, r) => s + r.meanWords! * r.samples, 0) / wordedSamples } : {}),
    ...(cycledSamples ? { cycle: cycledTasks.reduce((s, r) => s + r.cycle! * r.samples, 0) / cycledSamples } : {}),
    ...(reflectTasks.length
      ? {
          reflection: {
            firstAccuracy: reflectTasks.reduce((s, r) => s + r.firstAccuracy!, 0) / reflectTasks.length,
            corrected: ratio(pooled.corrected),
            broken: ratio(pooled.broken),
            critiqueAgreement: ratio(pooled.agreement),
            meanRounds: ratio(pooled.rounds) ?? 0,
          },
        }
      : {}),
    ...(options.criterion !== undefined
      ? { criterion: { name: options.criterion, mean: criterionImages ? criterionSum / criterionImages : 0, images: criterionImages } }
      : {}),
    elapsedMs: Date.now() - started,
  };
}

/** The summary as a fixed-width table (a `words` column when rewrite tasks ran, `cycle` when edits were edited
 *  back, first/corrected/broken/agree/rounds when reflection cycles ran (n/a: nothing to take a share of), one
 *  for the criterion when measured). */
export function formatReport(report: SuiteReport): string {
  const showWords = report.tasks.some((t) => t.meanWords !== undefined);
  const showCycle = report.tasks.some((t) => t.cycle !== undefined);
  const showReflect = report.tasks.some((t) => t.firstAccuracy !== undefined);
  const crit = report.criterion;
  const share = (v: number | null | undefined) => (v === undefined ? '' : v === null ? 'n/a' : v.toFixed(3));
  const reflectCells = (
    r:
      | {
          firstAccuracy?: number;
          corrected?: number | null;
          broken?: number | null;
          critiqueAgreement?: number | null;
          meanRounds?: number;
        }
      | undefined,
  ) =>
    r?.firstAccuracy === undefined
      ? ['', '', '', '', '']
      : [share(r.firstAccuracy), share(r.corrected), share(r.broken), share(r.critiqueAgreement), r.meanRounds!.toFixed(2)];
  const extra = (t: TaskReport) => [
    ...(showWords ? [t.meanWords !== undefined ? t.meanWords.toFixed(1) : ''] : []),
    ...(showCycle ? [t.cycle !== undefined ? t.cycle.toFixed(3) : ''] : []),
    ...(showReflect ? reflectCells(t) : []),
    ...(crit ? [t.criterion !== undefined ? t.criterion.toFixed(4) : ''] : []),
  ];
  const rows = report.tasks.map((t) => [
    t.task,
    String(t.items),
    String(t.samples),
    t.skipped ? 'skipped' : t.accuracy.toFixed(3),
    t.skipped ? '' : t.meanReward.toFixed(3),
    t.accuracyPlus !== undefined ? t.accuracyPlus.toFixed(3) : '',
    ...extra(t),
  ]);
  const header = [
    'task',
    'items',
    'samples',
    'accuracy',
    'reward',
    'acc+',
    ...(showWords ? ['words'] : []),
    ...(showCycle ? ['cycle'] : []),
    ...(showReflect ? ['first', 'corrected', 'broken', 'agree', 'rounds'] : []),
    ...(crit ? [crit.name] : []),
  ];
  const overall = [
    'overall',
    '',
    '',
    report.overall.toFixed(3),
    '',
    '',
    ...(showWords ? [report.meanWords?.toFixed(1) ?? ''] : []),
    ...(showCycle ? [report.cycle?.toFixed(3) ?? ''] : []),
    ...(showReflect ? reflectCells(report.reflection) : []),
    ...(crit ? [crit.images ? crit.mean.toFixed(4) : ''] : []),
  ];
  const all = [header, ...rows, overall];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [
    `ShapeEval suite "${report.suite}", generator "${report.generator}", ` +
      `${report.width ? `${report.width}x${report.height}, ` : ''}${(report.elapsedMs / 1000).toFixed(1)} s` +
      (crit ? `; criterion "${crit.name}": mean over ${crit.images} generated images` : ''),
    line(header),
    ...rows.map(line),
    line(overall),
  ].join('\n');
}
