// The DM objectives a run can choose (config.loss.dm.objective), by name; the LM trains with the token objective.
import { flowGrpo } from './flow-grpo.ts';
import { nft } from './nft.ts';
import type { DmObjective } from './objective.ts';

export const DM_OBJECTIVES = { flowGrpo, nft } as const satisfies Record<string, DmObjective>;

export { lmToken } from './lm-token.ts';
