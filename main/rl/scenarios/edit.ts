// Instructional editing, Cycle Edit RL: a rendered source scene and an instruction -> the edited image (the
// source shown to the LM and given to the DiT as reference); with the cycle on, the edited image is edited
// back with the inverse instruction. DM term on both trajectories with the sample's advantage (the
// reverse edit reads the edited image as it was drawn: a fixed input, no gradient through it). Rewards:
// compliance and preservation of the edit, cycle consistency of the reconstruction, people's edit marks.
import { formats } from '../../models/formats.ts';
import { EDIT_KINDS, sampleEdit, scoreEdit } from '../../world/edits.ts';
import { imageSimilarity } from '../../world/image.ts';
import { renderScene } from '../../world/render.ts';
import { imageTurns, type SampleResult, type TaskItem } from '../policy.ts';
import { dmTrajectory, storedImage } from '../records.ts';
import { mean } from '../stats.ts';
import { json } from './json.ts';
import { need, type Episode, type ScenarioModule } from './scenario.ts';

const editOf = (it: TaskItem) => need(it.target.edit, `edit item '${it.text}' has no edit target`);
const sourceOf = (it: TaskItem) => need(it.image, `edit item '${it.text}' has no source image`);
/** The edited image and, with the cycle on, its reconstruction. */
const editTurns = (s: SampleResult) => {
  const [edited, reverse] = imageTurns(s);
  return { edited: need(edited, `edit sample ${s.seed} has no edited image`), reverse };
};

export const edit: ScenarioModule = {
  name: 'edit',
  writes: false,
  draws: true,
  taskKinds: EDIT_KINDS.length,

  task: (rng, index) => {
    const e = sampleEdit(rng, EDIT_KINDS[index % EDIT_KINDS.length]!);
    const source = renderScene(e.source);
    return {
      task: `edit_${e.kind}`,
      text: e.instruction,
      spec: json({ kind: e.kind, instruction: e.instruction, inverse: e.inverse, source: e.source, target: e.target }),
      target: { edit: { edit: e, source } },
      image: source,
    };
  },

  prompt: (it) => formats.edit(it.text),

  async rollout(model, rows, o) {
    const edited = await model.draw(
      rows.map((r) => ({
        ids: model.encode(formats.edit(editOf(r.item).edit.instruction)),
        querySet: 'edit',
        source: sourceOf(r.item),
      })),
      rows,
      o,
      0,
    );
    const samples: SampleResult[] = rows.map((r, b) => ({ seed: r.seed, turns: [{ kind: 'image', role: 'edit', ...edited[b]! }] }));
    if (o.editCycle) {
      const reverse = await model.draw(
        rows.map((r, b) => ({
          ids: model.encode(formats.edit(editOf(r.item).edit.inverse)),
          querySet: 'edit',
          source: edited[b]!.image,
        })),
        rows,
        o,
        1,
      );
      samples.forEach((s, b) => s.turns.push({ kind: 'image', role: 'reverse', ...reverse[b]! }));
    }
    return samples;
  },

  imagePrompts: async (_model, items) => items.map((it) => ({ text: formats.edit(it.text), querySet: 'edit', source: sourceOf(it) })),

  episode(encode, { item, sample }) {
    const { edit: e } = editOf(item);
    const source = sourceOf(item);
    const { edited, reverse } = editTurns(sample);
    const episode: Episode = {
      sequences: [{ ids: encode(formats.edit(e.instruction)), image: source, querySet: 'edit' }],
      lm: [],
      dm: [{ seq: 0, source, trajectory: edited.dm }],
    };
    if (reverse) {
      episode.sequences.push({ ids: encode(formats.edit(e.inverse)), image: edited.image, querySet: 'edit' });
      episode.dm.push({ seq: 1, source: edited.image, trajectory: reverse.dm });
    }
    return episode;
  },

  rewardSample(s) {
    const { edited, reverse } = editTurns(s);
    return { image: edited.image, ...(reverse ? { reconstruction: reverse.image } : {}) };
  },

  member(s, base, storage) {
    const { edited, reverse } = editTurns(s);
    return {
      ...base,
      seed: s.seed,
      text: null,
      image: storedImage(edited.image),
      trajectories: [dmTrajectory(edited.dm, storage, reverse ? 'forward' : undefined)],
    };
  },

  recordDerived(store, memberId, item, s, storage) {
    const { edit: e, source } = editOf(item);
    const { edited, reverse } = editTurns(s);
    const forward = scoreEdit(edited.image, source, e);
    const reconstructionSampleId = reverse
      ? store.samples.insertDerived(memberId, {
          seed: s.seed,
          text: e.inverse,
          image: storedImage(reverse.image),
          trajectories: [dmTrajectory(reverse.dm, storage, 'reverse')],
        })
      : null;
    store.edits.insert({
      editedSampleId: memberId,
      sourceImage: storedImage(source),
      instruction: e.instruction,
      inverseInstruction: e.inverse,
      reconstructionSampleId,
      compliance: forward.objectTerm,
      preservation: forward.similarity,
      cycleScore: reverse ? imageSimilarity(reverse.image, source) : null,
    });
  },

  /** Euler ODE edits scored against their target scenes: accuracy, compliance and preservation. */
  async evaluate(policy, items, env) {
    const images = await policy.generate(items, env.cfg.eval.odeSteps, env.seed);
    const scores = items.map((it, i) => scoreEdit(images[i]!, editOf(it).source, editOf(it).edit));
    return {
      metrics: {
        'eval/accuracy': scores.filter((s) => s.correct).length / scores.length,
        'eval/compliance': mean(scores.map((s) => s.objectTerm)),
        'eval/preservation': mean(scores.map((s) => s.similarity)),
      },
      scored: items.map((item, i) => ({ item, image: images[i]!, verdict: scores[i]! })),
    };
  },
};
