// Exports a run's records for outside tools: rollouts (long format, one row per member sample) and
// preference pairs as TRL rows and as Pick-a-Pic rows (Parquet, images embedded as bytes), raw
// per-annotator rankings, reflection cycles and edits (JSONL, images as PNG files under images/), the
// run's prompts as a verl dataset, and a manifest.json stating every file's schema.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPORT_FORMATS, type ExportedFile, type ExportFileFormat, type ExportFormat, type ExportManifest } from '../../contract/api.ts';
import type { GroupDetail, Ranking, RolloutGroup, Sample } from '../../contract/domain.ts';
import type { Store } from '../../db/index.ts';
import { describeSchema, writeParquet, type ImageCell, type TableSchema } from './parquet.ts';
import { VERL_REWARD_FILE, VERL_SCHEMA, verlRows, writeVerlReward } from './verl.ts';

export { EXPORT_FORMATS } from '../../contract/api.ts';
export type { ExportFormat, ExportManifest } from '../../contract/api.ts';
type FileFormat = ExportFileFormat;

const DESCRIPTIONS: Record<FileFormat, string> = {
  rollouts:
    'long format, one row per group member: run, step, group, prompt, task, sample, seed, ' +
    'reward components (name, value, weight), reward, advantage, zero_std, human ranks, image (embedded)',
  pairs:
    'TRL-style preference rows {prompt, chosen, rejected}: chosen and rejected are images embedded as bytes ' +
    '(datasets Image feature); one row per ordered pair of a ranking, ties dropped',
  pickapic:
    'Pick-a-Pic v2 rows {caption, jpg_0, jpg_1, label_0, label_1}: every pair of a ranking, 0.5/0.5 = tie; ' +
    'jpg_0/jpg_1 are raw image bytes like the dataset on the Hub (PNG bytes despite the names), ready for Diffusion-DPO',
  rankings: 'raw per-annotator rankings and skips: annotator, group, per-sample rank (1 = best, equal = tie), duration',
  reflections: 'reflection cycles: per round the judged image, critique, verdict vs the scorer, reward, refined image and human marks',
  edits:
    'cycle edits: source | instruction | edited | inverse instruction | reconstruction, with compliance, preservation and cycle scores',
  verl:
    "the run's prompts as a verl RL dataset (data_source, chat prompt, ability, reward_model.ground_truth = the ShapeEval spec, " +
    `extra_info); ${VERL_REWARD_FILE} has the compute_score(...) that asks the app's reward service (unirl serve --reward-service)`,
};

const FILE_NAMES: Record<FileFormat, string> = {
  rollouts: 'rollouts.parquet',
  pairs: 'pairs.trl.parquet',
  pickapic: 'pickapic.parquet',
  rankings: 'rankings.jsonl',
  reflections: 'reflections.jsonl',
  edits: 'edits.jsonl',
  verl: 'verl.train.parquet',
};

/** Column types of every file: what the Parquet writer writes, and what the manifest states. */
type FileSchema = { parquet: TableSchema } | { jsonl: Record<string, string> };

const SCHEMAS: Record<FileFormat, FileSchema> = {
  rollouts: {
    parquet: {
      run_id: 'int32',
      step: 'int32',
      group_id: 'int32',
      prompt: 'string',
      task: 'string',
      sample_id: 'int32',
      sample_index: 'int32',
      seed: 'int64',
      rewards: { list: { struct: { name: 'string', value: 'float64', weight: 'float64' } } },
      reward: 'float64',
      advantage: 'float64',
      zero_std: 'bool',
      human_ranks: { list: { struct: { annotator: 'string', rank: 'int32' } } },
      human_rank_mean: 'float64',
      text: 'string',
      image: 'image',
    },
  },
  pairs: { parquet: { prompt: 'string', chosen: 'image', rejected: 'image', annotator: 'string', group_id: 'int32' } },
  pickapic: {
    parquet: {
      caption: 'string',
      jpg_0: 'binary',
      jpg_1: 'binary',
      label_0: 'float64',
      label_1: 'float64',
      image_0_uid: 'string',
      image_1_uid: 'string',
      user_id: 'string',
      group_id: 'int32',
    },
  },
  rankings: {
    jsonl: {
      run_id: 'int',
      step: 'int',
      group_id: 'int',
      prompt: 'string',
      task: 'string',
      ranking_id: 'int',
      annotator: 'string',
      skipped: 'bool',
      duration_ms: 'int',
      created_at: 'string (ISO time)',
      ranks: 'list<{sample_id: int, rank: int, image: string (PNG path)}>',
    },
  },
  reflections: {
    jsonl: {
      run_id: 'int',
      step: 'int',
      group_id: 'int',
      prompt: 'string',
      task: 'string',
      cycle_id: 'int',
      sample_id: 'int',
      rounds:
        'list<{round: int, judged_image: string, critique: string, verdict: string, scorer_verdict: string, ' +
        'critique_correct: bool, reward: float64 | null, refined_image: string | null, marks: list<{annotator: string, correct: bool}>}>',
    },
  },
  edits: {
    jsonl: {
      run_id: 'int',
      step: 'int',
      group_id: 'int',
      prompt: 'string',
      task: 'string',
      edit_id: 'int',
      edited_sample_id: 'int',
      source_image: 'string | null',
      instruction: 'string',
      edited_image: 'string',
      inverse_instruction: 'string',
      reconstruction_image: 'string | null',
      compliance: 'float64 | null',
      preservation: 'float64 | null',
      cycle_score: 'float64 | null',
    },
  },
  verl: { parquet: VERL_SCHEMA },
};

export function isExportFormat(value: string): value is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(value);
}

/** Writes images on first use and hands back their relative paths. */
class ImageWriter {
  private readonly written = new Set<string>();
  constructor(
    private readonly dir: string,
    private readonly store: Store,
  ) {}

  get count(): number {
    return this.written.size;
  }

  sample(id: number | null): string | null {
    return id === null ? null : this.write(`sample-${id}.png`, () => this.store.samples.imagePng(id));
  }

  /** A sample's PNG for a Parquet image column (datasets' Image feature keeps a file name beside the bytes). */
  cell(id: number): ImageCell | null {
    const png = this.store.samples.imagePng(id);
    return png ? { bytes: png, path: `sample-${id}.png` } : null;
  }

  editSource(id: number): string | null {
    return this.write(`edit-source-${id}.png`, () => this.store.edits.sourcePng(id));
  }

  private write(name: string, png: () => Buffer | null): string | null {
    const path = `images/${name}`;
    if (this.written.has(path)) return path;
    const bytes = png();
    if (!bytes) return null;
    if (this.written.size === 0) mkdirSync(join(this.dir, 'images'), { recursive: true });
    writeFileSync(join(this.dir, path), bytes);
    this.written.add(path);
    return path;
  }
}

/** Every group of a run with its members and rankings, oldest step first, a page at a time. */
function* groupsOf(store: Store, runId: number): Generator<GroupDetail> {
  for (const group of store.groups.each({ runId, order: 'asc' })) yield store.groups.detail(group.id);
}

type Row = Record<string, unknown>;

/** Pairs (a, b) of a ranking's entries with a before b in sample index order. */
function rankedPairs(ranking: Ranking): [{ sampleId: number; rank: number }, { sampleId: number; rank: number }][] {
  const out: [{ sampleId: number; rank: number }, { sampleId: number; rank: number }][] = [];
  for (let i = 0; i < ranking.ranks.length; i++) {
    for (let j = i + 1; j < ranking.ranks.length; j++) out.push([ranking.ranks[i]!, ranking.ranks[j]!]);
  }
  return out;
}

function groupColumns(group: RolloutGroup): Row {
  return { run_id: group.runId, step: group.step, group_id: group.id, prompt: group.prompt, task: group.task };
}

function rolloutRow(group: GroupDetail, sample: Sample, image: ImageCell | null): Row {
  const humanRanks = group.rankings
    .filter((r) => !r.skipped)
    .flatMap((r) => r.ranks.filter((e) => e.sampleId === sample.id).map((e) => ({ annotator: r.annotator, rank: e.rank })));
  return {
    ...groupColumns(group),
    sample_id: sample.id,
    sample_index: sample.index,
    seed: sample.seed,
    rewards: sample.rewards.map((c) => ({ name: c.name, value: c.value, weight: c.weight })),
    reward: sample.reward,
    advantage: sample.advantage,
    zero_std: group.zeroStd,
    human_ranks: humanRanks,
    human_rank_mean: humanRanks.length ? humanRanks.reduce((s, r) => s + r.rank, 0) / humanRanks.length : null,
    text: sample.text,
    image,
  };
}

/**
 * Exports `runId` into `outDir` (created). `format: 'all'` writes every file. Throws (naming the run)
 * when the run does not exist. Runs synchronously: large runs block the caller while PNGs are written.
 */
export function exportRun(
  store: Store,
  options: { runId: number; format: ExportFormat; outDir: string; now?: () => Date },
): ExportManifest {
  const run = store.runs.get(options.runId);
  const formats: FileFormat[] = options.format === 'all' ? EXPORT_FORMATS.filter((f): f is FileFormat => f !== 'all') : [options.format];
  mkdirSync(options.outDir, { recursive: true });
  const images = new ImageWriter(options.outDir, store);
  const rows: Record<FileFormat, Row[]> = { rollouts: [], pairs: [], pickapic: [], rankings: [], reflections: [], edits: [], verl: [] };
  const wants = new Set(formats);

  // The verl dataset reads the run's prompts, not its groups.
  const groups = formats.some((f) => f !== 'verl') ? groupsOf(store, run.id) : [];
  for (const group of groups) {
    const base = groupColumns(group);
    if (wants.has('rollouts')) {
      for (const sample of group.samples) rows.rollouts.push(rolloutRow(group, sample, sample.image ? images.cell(sample.id) : null));
    }
    for (const ranking of group.rankings) {
      if (wants.has('rankings')) {
        rows.rankings.push({
          ...base,
          ranking_id: ranking.id,
          annotator: ranking.annotator,
          skipped: ranking.skipped,
          duration_ms: ranking.durationMs,
          created_at: new Date(ranking.createdAt).toISOString(),
          ranks: ranking.ranks.map((e) => ({ sample_id: e.sampleId, rank: e.rank, image: images.sample(e.sampleId) })),
        });
      }
      if (ranking.skipped) continue;
      for (const [a, b] of rankedPairs(ranking)) {
        const [imageA, imageB] = [images.cell(a.sampleId), images.cell(b.sampleId)];
        if (wants.has('pairs') && a.rank !== b.rank) {
          const [chosen, rejected] = a.rank < b.rank ? [imageA, imageB] : [imageB, imageA];
          rows.pairs.push({ prompt: group.prompt, chosen, rejected, annotator: ranking.annotator, group_id: group.id });
        }
        if (wants.has('pickapic')) {
          const [label0, label1] = a.rank === b.rank ? [0.5, 0.5] : a.rank < b.rank ? [1, 0] : [0, 1];
          rows.pickapic.push({
            caption: group.prompt,
            jpg_0: imageA?.bytes ?? null,
            jpg_1: imageB?.bytes ?? null,
            label_0: label0,
            label_1: label1,
            image_0_uid: String(a.sampleId),
            image_1_uid: String(b.sampleId),
            user_id: ranking.annotator,
            group_id: group.id,
          });
        }
      }
    }
    if (wants.has('reflections')) {
      for (const cycle of store.reflections.forGroup(group.id)) {
        rows.reflections.push({
          ...base,
          cycle_id: cycle.id,
          sample_id: cycle.sampleId,
          rounds: cycle.rounds.map((r) => ({
            round: r.round,
            judged_image: images.sample(r.judgedSampleId),
            critique: r.critique,
            verdict: r.verdict,
            scorer_verdict: r.scorerVerdict,
            critique_correct: r.verdict === r.scorerVerdict,
            reward: r.reward,
            refined_image: images.sample(r.refinedSampleId),
            marks: r.marks.map((m) => ({ annotator: m.annotator, correct: m.correct })),
          })),
        });
      }
    }
    if (wants.has('edits')) {
      for (const edit of store.edits.forGroup(group.id)) {
        rows.edits.push({
          ...base,
          edit_id: edit.id,
          edited_sample_id: edit.editedSampleId,
          source_image:
            edit.sourceSampleId !== null ? images.sample(edit.sourceSampleId) : edit.hasSourceImage ? images.editSource(edit.id) : null,
          instruction: edit.instruction,
          edited_image: images.sample(edit.editedSampleId),
          inverse_instruction: edit.inverseInstruction,
          reconstruction_image: images.sample(edit.reconstructionSampleId),
          compliance: edit.compliance,
          preservation: edit.preservation,
          cycle_score: edit.cycleScore,
        });
      }
    }
  }

  if (wants.has('verl')) rows.verl = verlRows(store, run);

  const files = formats.flatMap((format): ExportedFile[] => {
    const path = FILE_NAMES[format];
    const schema = SCHEMAS[format];
    if ('parquet' in schema) writeParquet(join(options.outDir, path), schema.parquet, rows[format]);
    else writeFileSync(join(options.outDir, path), rows[format].map((r) => JSON.stringify(r) + '\n').join(''));
    const file: ExportedFile = {
      path,
      format,
      rows: rows[format].length,
      description: DESCRIPTIONS[format],
      fileFormat: 'parquet' in schema ? 'parquet' : 'jsonl',
      schema: 'parquet' in schema ? describeSchema(schema.parquet) : schema.jsonl,
    };
    return format === 'verl' ? [file, writeVerlReward(options.outDir)] : [file];
  });
  const manifest: ExportManifest = {
    dir: options.outDir,
    run: { id: run.id, name: run.name, scenario: run.scenario, step: run.step, status: run.status },
    formats,
    files,
    images: images.count,
    imageFormat: 'png',
    createdAt: (options.now?.() ?? new Date()).toISOString(),
  };
  writeFileSync(join(options.outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
