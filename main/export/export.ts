// Exports a run's records for outside tools: rollouts (long-format JSONL, one row per member sample),
// preference pairs as TRL rows and as Pick-a-Pic rows, raw per-annotator rankings, reflection cycles
// and edits (JSONL), images as PNG files under images/, and a manifest.json describing it all.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPORT_FORMATS, type ExportedFile, type ExportFileFormat, type ExportFormat, type ExportManifest } from '../../contract/api.ts';
import type { GroupDetail, Ranking, RolloutGroup, Sample } from '../../contract/domain.ts';
import type { Store } from '../../db/index.ts';

export { EXPORT_FORMATS } from '../../contract/api.ts';
export type { ExportFormat, ExportManifest } from '../../contract/api.ts';
type FileFormat = ExportFileFormat;

const DESCRIPTIONS: Record<FileFormat, string> = {
  rollouts: 'one row per group member: run, step, group, prompt, task, sample, seed, reward components, reward, advantage, zero_std, human ranks, image',
  pairs: 'TRL preference rows {prompt, chosen, rejected, images}: chosen/rejected are image paths (images = [chosen, rejected]); one row per ordered pair of a ranking, ties dropped',
  pickapic: 'Pick-a-Pic rows {caption, jpg_0, jpg_1, label_0, label_1} (+ user_id, group_id): every pair of a ranking, 0.5/0.5 = tie; images are PNG despite the column names',
  rankings: 'raw per-annotator rankings and skips: annotator, group, per-sample rank (1 = best, equal = tie), duration',
  reflections: 'reflection cycles: per round the judged image, critique, verdict vs the scorer, reward, refined image and human marks',
  edits: 'cycle edits: source | instruction | edited | inverse instruction | reconstruction, with compliance, preservation and cycle scores',
};

const FILE_NAMES: Record<FileFormat, string> = {
  rollouts: 'rollouts.jsonl', pairs: 'pairs.trl.jsonl', pickapic: 'pickapic.jsonl', rankings: 'rankings.jsonl',
  reflections: 'reflections.jsonl', edits: 'edits.jsonl',
};

export function isExportFormat(value: string): value is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(value);
}

/** Writes images on first use and hands back their relative paths. */
class ImageWriter {
  private readonly written = new Set<string>();
  constructor(private readonly dir: string, private readonly store: Store) {}

  get count(): number {
    return this.written.size;
  }

  sample(id: number | null): string | null {
    return id === null ? null : this.write(`sample-${id}.png`, () => this.store.samples.imagePng(id));
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
  const pageSize = 500;
  for (let offset = 0; ; offset += pageSize) {
    const page = store.groups.list({ runId, offset, limit: pageSize, order: 'asc' });
    for (const group of page.items) yield store.groups.detail(group.id);
    if (offset + pageSize >= page.total) return;
  }
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

function rolloutRow(group: GroupDetail, sample: Sample, image: string | null): Row {
  const humanRanks = group.rankings.filter((r) => !r.skipped).flatMap((r) =>
    r.ranks.filter((e) => e.sampleId === sample.id).map((e) => ({ annotator: r.annotator, rank: e.rank })));
  return {
    ...groupColumns(group),
    sample_id: sample.id, sample_index: sample.index, seed: sample.seed,
    rewards: Object.fromEntries(sample.rewards.map((c) => [c.name, c.value])),
    reward_weights: Object.fromEntries(sample.rewards.map((c) => [c.name, c.weight])),
    reward: sample.reward, advantage: sample.advantage, zero_std: group.zeroStd,
    human_ranks: humanRanks,
    human_rank_mean: humanRanks.length ? humanRanks.reduce((s, r) => s + r.rank, 0) / humanRanks.length : null,
    text: sample.text, image,
  };
}

/**
 * Exports `runId` into `outDir` (created). `format: 'all'` writes every file. Throws (naming the run)
 * when the run does not exist. Runs synchronously: large runs block the caller while PNGs are written.
 */
export function exportRun(store: Store, options: { runId: number; format: ExportFormat; outDir: string; now?: () => Date }): ExportManifest {
  const run = store.runs.get(options.runId);
  const formats: FileFormat[] = options.format === 'all'
    ? EXPORT_FORMATS.filter((f): f is FileFormat => f !== 'all')
    : [options.format];
  mkdirSync(options.outDir, { recursive: true });
  const images = new ImageWriter(options.outDir, store);
  const rows: Record<FileFormat, Row[]> = { rollouts: [], pairs: [], pickapic: [], rankings: [], reflections: [], edits: [] };
  const wants = new Set(formats);

  for (const group of groupsOf(store, run.id)) {
    const base = groupColumns(group);
    if (wants.has('rollouts')) {
      for (const sample of group.samples) rows.rollouts.push(rolloutRow(group, sample, images.sample(sample.image ? sample.id : null)));
    }
    for (const ranking of group.rankings) {
      if (wants.has('rankings')) {
        rows.rankings.push({
          ...base, ranking_id: ranking.id, annotator: ranking.annotator, skipped: ranking.skipped,
          duration_ms: ranking.durationMs, created_at: new Date(ranking.createdAt).toISOString(),
          ranks: ranking.ranks.map((e) => ({ sample_id: e.sampleId, rank: e.rank, image: images.sample(e.sampleId) })),
        });
      }
      if (ranking.skipped) continue;
      for (const [a, b] of rankedPairs(ranking)) {
        const [imageA, imageB] = [images.sample(a.sampleId), images.sample(b.sampleId)];
        if (wants.has('pairs') && a.rank !== b.rank) {
          const [chosen, rejected] = a.rank < b.rank ? [imageA, imageB] : [imageB, imageA];
          rows.pairs.push({ prompt: group.prompt, chosen, rejected, images: [chosen, rejected], annotator: ranking.annotator, group_id: group.id });
        }
        if (wants.has('pickapic')) {
          const [label0, label1] = a.rank === b.rank ? [0.5, 0.5] : a.rank < b.rank ? [1, 0] : [0, 1];
          rows.pickapic.push({ caption: group.prompt, jpg_0: imageA, jpg_1: imageB, label_0: label0, label_1: label1, user_id: ranking.annotator, group_id: group.id });
        }
      }
    }
    if (wants.has('reflections')) {
      for (const cycle of store.reflections.forGroup(group.id)) {
        rows.reflections.push({
          ...base, cycle_id: cycle.id, sample_id: cycle.sampleId,
          rounds: cycle.rounds.map((r) => ({
            round: r.round, judged_image: images.sample(r.judgedSampleId), critique: r.critique, verdict: r.verdict,
            scorer_verdict: r.scorerVerdict, critique_correct: r.verdict === r.scorerVerdict, reward: r.reward,
            refined_image: images.sample(r.refinedSampleId),
            marks: r.marks.map((m) => ({ annotator: m.annotator, correct: m.correct })),
          })),
        });
      }
    }
    if (wants.has('edits')) {
      for (const edit of store.edits.forGroup(group.id)) {
        rows.edits.push({
          ...base, edit_id: edit.id, edited_sample_id: edit.editedSampleId,
          source_image: edit.sourceSampleId !== null ? images.sample(edit.sourceSampleId) : edit.hasSourceImage ? images.editSource(edit.id) : null,
          instruction: edit.instruction, edited_image: images.sample(edit.editedSampleId),
          inverse_instruction: edit.inverseInstruction, reconstruction_image: images.sample(edit.reconstructionSampleId),
          compliance: edit.compliance, preservation: edit.preservation, cycle_score: edit.cycleScore,
        });
      }
    }
  }

  const files = formats.map((format): ExportedFile => {
    const path = FILE_NAMES[format];
    writeFileSync(join(options.outDir, path), rows[format].map((r) => JSON.stringify(r) + '\n').join(''));
    return { path, format, rows: rows[format].length, description: DESCRIPTIONS[format] };
  });
  const manifest: ExportManifest = {
    dir: options.outDir,
    run: { id: run.id, name: run.name, scenario: run.scenario, step: run.step, status: run.status },
    formats, files, images: images.count, imageFormat: 'png',
    createdAt: (options.now?.() ?? new Date()).toISOString(),
  };
  writeFileSync(join(options.outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
