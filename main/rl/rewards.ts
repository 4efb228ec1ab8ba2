// Reward components: each turns one sample (its image, its text, its features) into a number; a run
// weighs them (config.rewards) and every component's value is stored per sample with its weight.
// Components are plain objects, so a caller can pass its own list (a custom scorer plugs in the same way).
import type { RewardComponent, Verdict } from '../../contract/domain.ts';
import { totalReward } from '../../db/repos/samples.ts';
import { scoreEdit, type Edit } from '../world/edits.ts';
import { score } from '../world/evaluate.ts';
import { imageSimilarity, type ImageRGB } from '../world/image.ts';
import { answerMatches } from '../world/questions.ts';
import type { PromptSpec } from '../world/spec.ts';
import { extractAnswer } from '../world/vague.ts';
import { preferenceReward, type PreferenceModel } from './preference.ts';

/** What the components may look at of one sample. */
export interface RewardSample {
  /** Store id (the human rank reward is keyed by it). */
  sampleId?: number;
  image?: ImageRGB;
  /** What the LM wrote (reasoning and answer, with its tags). */
  text?: string;
  /** Image features for the learned preference model (e.g. the vision encoder's pooled output). */
  features?: ArrayLike<number>;
  /** Cycle editing: the edited image edited back with the inverse instruction. */
  reconstruction?: ImageRGB;
  /** Reflection: the first image and every image the LM judged with its verdict; `image` is the cycle's final image. */
  reflection?: { firstImage: ImageRGB; judged: readonly { image: ImageRGB; verdict: Verdict }[] };
}

/** What the group's prompt asks for. */
export interface RewardTarget {
  /** ShapeEval constraints for the image. */
  spec?: PromptSpec;
  /** Expected answer to a question... */
  answer?: string;
  /** ...or a check of the answer (e.g. a concrete rewrite must satisfy a vague prompt's constraints). */
  answerCheck?: (answer: string) => boolean;
  /** Tags the LM's text must carry for the format reward. */
  format?: TextFormat;
  /** Editing: the edit (source and target scenes) and the rendered source image. */
  edit?: { edit: Edit; source: ImageRGB };
}

/** Rewards that arrive after the rollout. */
export interface RewardContext {
  /** sampleId -> human rank reward in [-1, 1] (ranking.ts humanRankRewards). */
  humanRanks?: ReadonlyMap<number, number>;
  /** sampleId -> people's marks on the member's critiques (reflection) or on its edit, mean of +1 right / -1 wrong. */
  critiqueMarks?: ReadonlyMap<number, number>;
  editMarks?: ReadonlyMap<number, number>;
  preference?: PreferenceModel | null;
}

export interface RewardComponentDef {
  name: string;
  /** The component's value, or null when it has nothing to say about this sample (yet): then it is not stored. */
  score(sample: RewardSample, target: RewardTarget, ctx: RewardContext): number | null;
}

/**
 * 'reasoned': reasoning, </think>, then <answer>…</answer>; 'answer': an answer closed by </answer>.
 * The opening tag may be the prompt's last token (models/formats.ts), so it is optional here.
 */
export type TextFormat = 'reasoned' | 'answer';

/** Non-empty text without tags. */
const PLAIN = '[^<]*[^<\\s][^<]*';
const FORMATS: Readonly<Record<TextFormat, RegExp>> = {
  reasoned: new RegExp(`^\\s*(<think>)?${PLAIN}</think>\\s*<answer>${PLAIN}</answer>\\s*(<eos>\\s*)?$`),
  answer: new RegExp(`^\\s*(<answer>)?${PLAIN}</answer>\\s*(<eos>\\s*)?$`),
};

function need<T>(value: T | undefined, what: string, component: string): T {
  if (value === undefined) throw new Error(`reward '${component}' needs ${what}`);
  return value;
}

/** ShapeEval's binary verdict on an image: what a critique's verdict is checked against. */
export function scorerVerdict(image: ImageRGB, spec: PromptSpec): Verdict {
  return score(image, spec).correct ? 'correct' : 'wrong';
}

export const REWARD_COMPONENT_DEFS: readonly RewardComponentDef[] = [
  {
    // ShapeEval's fractional reward: the mean of its count/colour/position/exclusion sub-rewards.
    name: 'shapeEval',
    score: (s, t) => score(need(s.image, 'an image', 'shapeEval'), need(t.spec, 'a prompt spec', 'shapeEval')).reward,
  },
  {
    name: 'format',
    score: (s, t) => (FORMATS[t.format ?? 'reasoned'].test(need(s.text, 'the LM text', 'format')) ? 1 : 0),
  },
  {
    name: 'answer',
    score: (s, t) => {
      const given = extractAnswer(need(s.text, 'the LM text', 'answer'));
      if (t.answerCheck) return t.answerCheck(given) ? 1 : 0;
      return answerMatches(given, need(t.answer, 'an expected answer (or an answer check)', 'answer')) ? 1 : 0;
    },
  },
  {
    name: 'humanRank',
    score: (s, _t, ctx) => (s.sampleId === undefined ? null : (ctx.humanRanks?.get(s.sampleId) ?? null)),
  },
  {
    // Reflection: people marked the member's critiques right (+1) or wrong (-1); the mean over rounds and annotators.
    name: 'critiqueMark',
    score: (s, _t, ctx) => (s.sampleId === undefined ? null : (ctx.critiqueMarks?.get(s.sampleId) ?? null)),
  },
  {
    // Editing: people marked the edit as following its instruction (+1) or not (-1); the mean over annotators.
    name: 'editMark',
    score: (s, _t, ctx) => (s.sampleId === undefined ? null : (ctx.editMarks?.get(s.sampleId) ?? null)),
  },
  {
    // 2σ(score) − 1 in (−1, 1): the Bradley-Terry chance of beating a score-0 image, rescaled like the human
    // rank reward. The raw score is an unbounded logit that grows as the model fits, and would drown the
    // other components once the group's rewards are mixed.
    name: 'preference',
    score: (s, _t, ctx) => (ctx.preference ? preferenceReward(ctx.preference, need(s.features, 'image features', 'preference')) : null),
  },
  {
    // Instruction compliance: target objects found where they belong (ShapeEval's edit object term).
    name: 'editCompliance',
    score: (s, t) => {
      const { edit, source } = need(t.edit, 'an edit', 'editCompliance');
      return scoreEdit(need(s.image, 'an image', 'editCompliance'), source, edit).objectTerm;
    },
  },
  {
    // Preservation: the pixels the edit must not change, against the source.
    name: 'editPreservation',
    score: (s, t) => {
      const { edit, source } = need(t.edit, 'an edit', 'editPreservation');
      return scoreEdit(need(s.image, 'an image', 'editPreservation'), source, edit).similarity;
    },
  },
  {
    // Cycle consistency: the reconstruction against the source image.
    name: 'cycle',
    score: (s, t) => imageSimilarity(need(s.reconstruction, 'a reconstruction', 'cycle'), need(t.edit, 'an edit', 'cycle').source),
  },
  {
    // Reflection: ShapeEval reward of the final image minus that of the first, in [-1, 1] (refining must help).
    name: 'improvement',
    score: (s, t) => {
      const spec = need(t.spec, 'a prompt spec', 'improvement');
      const { firstImage } = need(s.reflection, 'a reflection cycle', 'improvement');
      return score(need(s.image, 'the final image', 'improvement'), spec).reward - score(firstImage, spec).reward;
    },
  },
  {
    // Reflection: the fraction of critiques whose verdict agrees with the scorer's verdict on the judged image.
    name: 'critique',
    score: (s, t) => {
      const spec = need(t.spec, 'a prompt spec', 'critique');
      const { judged } = need(s.reflection, 'a reflection cycle', 'critique');
      if (judged.length === 0) return null;
      return judged.filter((j) => j.verdict === scorerVerdict(j.image, spec)).length / judged.length;
    },
  },
];

/**
 * The weighted reward components of each sample: every component with a non-zero weight is scored;
 * values it declines (null) are left out. A weighted name with no definition is an error.
 */
export function computeRewards(
  samples: readonly RewardSample[],
  target: RewardTarget,
  weights: Readonly<Record<string, number>>,
  ctx: RewardContext = {},
  components: readonly RewardComponentDef[] = REWARD_COMPONENT_DEFS,
): RewardComponent[][] {
  const active = Object.entries(weights)
    .filter(([, w]) => w !== 0)
    .map(([name, weight]) => {
      const def = components.find((c) => c.name === name);
      if (!def)
        throw new Error(`reward '${name}' has a weight but no component computes it (known: ${components.map((c) => c.name).join(', ')})`);
      return { def, weight };
    });
  return samples.map((sample, i) =>
    active.flatMap(({ def, weight }) => {
      const value = def.score(sample, target, ctx);
      if (value === null) return [];
      if (!Number.isFinite(value)) throw new Error(`reward '${def.name}' of sample ${i} is not finite (${value})`);
      return [{ name: def.name, value, weight }];
    }),
  );
}

/** Σ value·weight, the reward GRPO normalises. */
export { totalReward };
