// What a person's mark on a group can still do, from the run's state: the trainer applies marks at the start
// of its next step and trains a group again only while it is at most human.stalenessLimit steps behind the
// last finished step (main/rl/human-feedback.ts, apply and expire); after that, or while the run is not
// training, a mark changes the group's stored reward only.
import type { Run } from '../../../contract/domain.ts';

export interface MarkReach {
  /** True when a mark made now is trained on at the run's next step. */
  trains: boolean;
  text: string;
}

export function markReach(
  run: Pick<Run, 'status' | 'step' | 'config'>,
  groupStep: number,
  weightName: 'critiqueMark' | 'editMark',
): MarkReach {
  const config = run.config as { rewards?: Record<string, number>; human?: { stalenessLimit?: number } };
  if ((config.rewards?.[weightName] ?? 0) === 0) return { trains: false, text: `kept only: ${weightName} weight 0` };
  if (run.status !== 'running') return { trains: false, text: `run ${run.status}: a mark changes the stored reward only` };
  const limit = config.human?.stalenessLimit ?? 4;
  const behind = run.step - groupStep;
  if (behind > limit) return { trains: false, text: `${behind} steps old (limit ${limit}): a mark changes the stored reward only` };
  const left = limit - behind + 1;
  return { trains: true, text: `a mark now trains this group again at the next step (for ${left} more step${left === 1 ? '' : 's'})` };
}
