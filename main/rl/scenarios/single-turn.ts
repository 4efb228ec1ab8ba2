// The single-turn scenarios (t2i, CoT, text, VQA): one LM completion and/or one image per sample, from one
// formatted prompt. A CoT image is conditioned on the prompt and the reasoning just written, in one sequence
// whose completion tokens get the LM term and whose queries condition the DiT.
import { dmTrajectory, lmTrajectory, storedImage } from '../records.ts';
import { firstImage, firstText, type TaskItem, type Turn } from '../policy.ts';
import type { ScenarioModule } from './scenario.ts';

type Specifics = Pick<ScenarioModule, 'name' | 'writes' | 'draws' | 'taskKinds' | 'task' | 'prompt' | 'evaluate' | 'imagePrompts'>;

export function singleTurnScenario(specifics: Specifics): ScenarioModule {
  const { writes, draws, prompt } = specifics;
  return {
    ...specifics,

    async rollout(model, rows, o) {
      const prompts = rows.map((r) => prompt(r.item));
      const written = writes
        ? await model.write(
            rows.map((r, b) => ({ text: prompts[b]!, ...(r.item.image ? { image: r.item.image } : {}) })),
            o,
            o.seed,
          )
        : undefined;
      const turns: Turn[][] = rows.map((_, b) =>
        written ? [{ kind: 'text', role: draws ? 'reasoning' : 'answer', text: written.texts[b]!, lm: written.records[b]! }] : [],
      );
      if (draws) {
        const requests = rows.map((_, b) => ({
          ids: [...model.encode(prompts[b]!), ...(written?.tokens[b] ?? [])],
          querySet: 'generate' as const,
        }));
        (await model.draw(requests, rows, o, 0)).forEach((drawn, b) => turns[b]!.push({ kind: 'image', role: 'image', ...drawn }));
      }
      return rows.map((r, b) => ({ seed: r.seed, turns: turns[b]! }));
    },

    episode(encode, { item, sample }) {
      const ids = encode(prompt(item));
      const text = firstText(sample);
      const image = firstImage(sample);
      if (writes && !text) throw new Error(`${specifics.name}: sample ${sample.seed} has no LM tokens`);
      if (draws && !image) throw new Error(`${specifics.name}: sample ${sample.seed} has no DM trajectory`);
      return {
        sequences: [
          {
            ids: text ? [...ids, ...text.lm.tokenIds] : ids,
            ...(item.image ? { image: item.image } : {}),
            ...(draws ? { querySet: 'generate' as const } : {}),
          },
        ],
        lm: text ? [{ seq: 0, promptLength: ids.length, record: text.lm }] : [],
        dm: image ? [{ seq: 0, trajectory: image.dm }] : [],
      };
    },

    rewardSample(s) {
      const image = firstImage(s)?.image;
      const text = firstText(s)?.text;
      return { ...(image ? { image } : {}), ...(text !== undefined ? { text } : {}) };
    },

    member(s, base, storage) {
      const text = firstText(s);
      const image = firstImage(s);
      return {
        ...base,
        seed: s.seed,
        text: text?.text ?? null,
        image: image ? storedImage(image.image) : null,
        trajectories: [...(text ? [lmTrajectory(text.lm)] : []), ...(image ? [dmTrajectory(image.dm, storage)] : [])],
      };
    },
  };
}

/** The items' prompts as evaluation images drawn from the prompt. */
export function promptImages(prompt: (item: TaskItem) => string) {
  return async (_model: unknown, items: readonly TaskItem[]) => items.map((it) => ({ text: prompt(it), querySet: 'generate' as const }));
}
