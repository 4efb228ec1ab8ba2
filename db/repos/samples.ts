// Samples (a group's G members and the images derived from them), their images, rewards and trajectories.
import type { DrawSeeds, RewardComponent, Sample, Tensor, Trajectory, TrajectoryKind } from '../../contract/domain.ts';
import { trajectoryTensorProblems } from '../../contract/tensors.ts';
import { invalid, notFound, requireFiniteNumber, requireInteger, requireText } from '../errors.ts';
import { encodePng } from '../png.ts';
import type { RgbImage } from '../png.ts';
import type { RewardComponentRow, SampleMetaRow, TrajectoryRow, TrajectoryTensorRow } from '../rows.ts';
import { decodeTensor, encodeTensor, type CompactEncoding } from '../tensor.ts';
import type { RepoContext } from './context.ts';
import { cachedStatement, groupBy, placeholders } from './context.ts';

export interface TrajectoryInput {
  kind: TrajectoryKind;
  /** Tells several trajectories of one sample apart; defaults to the kind. */
  label?: string;
  /** Described in contract/tensors.ts (checked here). */
  tensors: Record<string, Tensor>;
  /** DM: the seeds that draw it again. */
  seeds?: DrawSeeds;
  /** Store the float32 tensors of rank >= 2 (latents, means) compactly (db/tensor.ts). */
  compact?: CompactEncoding;
}

export interface SampleInput {
  seed: number;
  text?: string | null;
  image?: RgbImage | null;
  rewards?: RewardComponent[];
  advantage?: number | null;
  trajectories?: TrajectoryInput[];
}

const META_COLUMNS = 'id, group_id, role, idx, parent_sample_id, seed, text, image_width, image_height, advantage';

export function totalReward(rewards: readonly RewardComponent[]): number {
  return rewards.reduce((sum, r) => sum + r.value * r.weight, 0);
}

function toSample(row: SampleMetaRow, rewards: RewardComponent[]): Sample {
  return {
    id: row.id,
    groupId: row.group_id,
    role: row.role,
    index: row.idx,
    parentSampleId: row.parent_sample_id,
    seed: row.seed,
    text: row.text,
    image: row.image_width === null || row.image_height === null ? null : { width: row.image_width, height: row.image_height },
    rewards,
    reward: totalReward(rewards),
    advantage: row.advantage,
  };
}

function checkRewards(field: string, rewards: readonly RewardComponent[]): void {
  const names = new Set<string>();
  rewards.forEach((r, i) => {
    requireText(`${field}[${i}].name`, r.name);
    if (names.has(r.name)) throw invalid(`${field}[${i}].name`, `duplicate reward component '${r.name}'`);
    names.add(r.name);
    requireFiniteNumber(`${field}[${i}].value`, r.value);
    requireFiniteNumber(`${field}[${i}].weight`, r.weight);
  });
}

export class SamplesRepo {
  constructor(private readonly ctx: RepoContext) {}

  /** Inserts one sample with its image, rewards and trajectories; callers hold the transaction. */
  insertRow(
    field: string,
    groupId: number,
    role: 'member' | 'derived',
    index: number,
    parentSampleId: number | null,
    input: SampleInput,
  ): number {
    requireInteger(`${field}.seed`, input.seed);
    if (input.text != null && typeof input.text !== 'string') throw invalid(`${field}.text`, 'must be a string or null');
    if (input.advantage != null) requireFiniteNumber(`${field}.advantage`, input.advantage);
    const rewards = input.rewards ?? [];
    checkRewards(`${field}.rewards`, rewards);
    const image = input.image ?? null;
    const png = image ? encodePng(image.rgb, image.width, image.height) : null;
    const { lastInsertRowid } = cachedStatement(
      this.ctx.db,
      `INSERT INTO samples (group_id, role, idx, parent_sample_id, seed, text, image_png, image_width, image_height, advantage)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      groupId,
      role,
      index,
      parentSampleId,
      input.seed,
      input.text ?? null,
      png,
      image?.width ?? null,
      image?.height ?? null,
      input.advantage ?? null,
    );
    const sampleId = Number(lastInsertRowid);
    this.upsertRewards(sampleId, rewards);
    (input.trajectories ?? []).forEach((t, i) => this.insertTrajectory(`${field}.trajectories[${i}]`, sampleId, t));
    return sampleId;
  }

  /** Adds an image made from `parentSampleId` (an edit's reconstruction, a reflection's refinement). */
  insertDerived(parentSampleId: number, input: SampleInput): number {
    return this.ctx.db.transaction(() => {
      const parent = this.ctx.db.prepare('SELECT group_id FROM samples WHERE id = ?').get(parentSampleId) as
        | { group_id: number }
        | undefined;
      if (!parent) throw notFound('sample', parentSampleId);
      const { n } = this.ctx.db.prepare('SELECT count(*) AS n FROM samples WHERE parent_sample_id = ?').get(parentSampleId) as {
        n: number;
      };
      return this.insertRow('sample', parent.group_id, 'derived', n, parentSampleId, input);
    })();
  }

  insertTrajectory(field: string, sampleId: number, input: TrajectoryInput): number {
    if (input.kind !== 'lm' && input.kind !== 'dm') throw invalid(`${field}.kind`, `must be 'lm' or 'dm', got '${input.kind}'`);
    const label = input.label ?? input.kind;
    const blobs = Object.entries(input.tensors).map(
      ([name, t]) => [name, encodeTensor(`${field}.tensors.${name}`, t, input.compact)] as const,
    );
    if (input.seeds) for (const key of ['noise', 'sde'] as const) requireInteger(`${field}.seeds.${key}`, input.seeds[key], 0);
    const problems = trajectoryTensorProblems(input.kind, input.tensors);
    if (problems.length) throw invalid(`${field}.tensors`, problems.join('; '));
    const { lastInsertRowid } = cachedStatement(
      this.ctx.db,
      'INSERT INTO trajectories (sample_id, kind, label, noise_seed, sde_seed) VALUES (?, ?, ?, ?, ?)',
    ).run(sampleId, input.kind, label, input.seeds?.noise ?? null, input.seeds?.sde ?? null);
    const insertTensor = cachedStatement(
      this.ctx.db,
      'INSERT INTO trajectory_tensors (trajectory_id, name, dtype, shape, data, encoding) VALUES (?, ?, ?, ?, ?, ?)',
    );
    for (const [name, blob] of blobs) insertTensor.run(lastInsertRowid, name, blob.dtype, blob.shape, blob.data, blob.encoding);
    return Number(lastInsertRowid);
  }

  /** Sets (or replaces, by name) reward components of a sample. */
  upsertRewards(sampleId: number, rewards: readonly RewardComponent[]): void {
    checkRewards('rewards', rewards);
    const upsert = cachedStatement(
      this.ctx.db,
      `INSERT INTO reward_components (sample_id, name, value, weight) VALUES (?, ?, ?, ?)
       ON CONFLICT (sample_id, name) DO UPDATE SET value = excluded.value, weight = excluded.weight`,
    );
    for (const r of rewards) upsert.run(sampleId, r.name, r.value, r.weight);
  }

  get(id: number): Sample {
    const row = this.ctx.db.prepare(`SELECT ${META_COLUMNS} FROM samples WHERE id = ?`).get(id) as SampleMetaRow | undefined;
    if (!row) throw notFound('sample', id);
    return this.withRewards([row])[0]!;
  }

  /** The G members of a group, by index. */
  members(groupId: number): Sample[] {
    return this.withRewards(
      this.ctx.db
        .prepare(`SELECT ${META_COLUMNS} FROM samples WHERE group_id = ? AND role = 'member' ORDER BY idx`)
        .all(groupId) as SampleMetaRow[],
    );
  }

  /** Images derived from a sample, in the order they were added. */
  derived(parentSampleId: number): Sample[] {
    return this.withRewards(
      this.ctx.db
        .prepare(`SELECT ${META_COLUMNS} FROM samples WHERE parent_sample_id = ? ORDER BY idx`)
        .all(parentSampleId) as SampleMetaRow[],
    );
  }

  /** The sample's image as PNG bytes (for the media route), or null when it has none. */
  imagePng(id: number): Buffer | null {
    const row = this.ctx.db.prepare('SELECT image_png FROM samples WHERE id = ?').get(id) as { image_png: Buffer | null } | undefined;
    if (!row) throw notFound('sample', id);
    return row.image_png;
  }

  trajectories(sampleId: number): Trajectory[] {
    const rows = this.ctx.db.prepare('SELECT * FROM trajectories WHERE sample_id = ? ORDER BY id').all(sampleId) as TrajectoryRow[];
    const tensorsOf = this.ctx.db.prepare('SELECT * FROM trajectory_tensors WHERE trajectory_id = ?');
    return rows.map((row) => ({
      id: row.id,
      sampleId: row.sample_id,
      kind: row.kind,
      label: row.label,
      seeds: row.noise_seed !== null && row.sde_seed !== null ? { noise: row.noise_seed, sde: row.sde_seed } : null,
      tensors: Object.fromEntries((tensorsOf.all(row.id) as TrajectoryTensorRow[]).map((t) => [t.name, decodeTensor(t)])),
    }));
  }

  setAdvantage(sampleId: number, advantage: number | null): void {
    if (advantage !== null) requireFiniteNumber('advantage', advantage);
    const { changes } = this.ctx.db.prepare('UPDATE samples SET advantage = ? WHERE id = ?').run(advantage, sampleId);
    if (changes === 0) throw notFound('sample', sampleId);
  }

  /** Maps rows to samples, loading all their reward components in one query. */
  private withRewards(rows: SampleMetaRow[]): Sample[] {
    if (rows.length === 0) return [];
    const components = this.ctx.db
      .prepare(`SELECT * FROM reward_components WHERE sample_id IN (${placeholders(rows.length)}) ORDER BY sample_id, name`)
      .all(...rows.map((r) => r.id)) as RewardComponentRow[];
    const bySample = groupBy(
      components,
      (c) => c.sample_id,
      (c): RewardComponent => ({ name: c.name, value: c.value, weight: c.weight }),
    );
    return rows.map((r) => toSample(r, bySample.get(r.id) ?? []));
  }
}
