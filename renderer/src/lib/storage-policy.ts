// A run's storage policy (config.storage, main/rl/config.ts) in words, for the run's details.
import type { JsonValue } from '../../../contract/domain.ts';

/** Lines describing what the run keeps; a config without a storage section (older runs) says so. */
export function storagePolicyLines(config: { [key: string]: JsonValue }): string[] {
  const s = config.storage;
  if (!s || typeof s !== 'object' || Array.isArray(s))
    return ["No storage policy in this run's config (it predates them): every latent and checkpoint it wrote is kept."];
  const kept =
    s.trajectories === 'all'
      ? 'every sample (with the SDE means)'
      : s.trajectories === 'none'
        ? 'no sample'
        : `groups sent to ranking and ${Number(s.sampledFraction) * 100}% of the others`;
  const rollout = config.rollout;
  const off = rollout && typeof rollout === 'object' && !Array.isArray(rollout) && rollout.storeLatents === false;
  const weightsOnly = [
    ...(s.keepBest ? ['the best by held-out evaluation'] : []),
    ...(Number(s.snapshotEvery) > 0 ? [`a snapshot every ${s.snapshotEvery} steps`] : []),
  ];
  return [
    `Latents: ${off ? 'none (rollout.storeLatents is off)' : `${kept}, stored as ${s.encoding}`}; ` +
      'the other filmstrips are re-drawn from their seeds on demand.',
    `Checkpoints: the latest ${s.keepLatest} with optimizer state` +
      `${weightsOnly.length ? `; as weights only ${weightsOnly.join(' and ')}` : ''}; the rest are pruned as the run goes.`,
  ];
}
