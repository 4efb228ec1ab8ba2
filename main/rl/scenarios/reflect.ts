// Reflection and refinement: a GenEval-task prompt -> the first image; then up to K rounds of critique ->
// refinement: the LM judges the current image (verdict, what is wrong, a corrected instruction); unless it
// says right, the DM refines the image (an edit with the corrected instruction, the image as reference).
// LM term on every critique, DM term on every image. The critiques and refinements share the sample's
// advantage: round k of different members judges different images, so there is no group per round to
// normalise against. The first image has one (every member draws one) and gets its own advantage in the
// per-round mode (config.reflect.advantage). Rewards: ShapeEval of the final image, the improvement over
// the first, critiques that agree with the scorer, people's critique marks.
import type { Verdict } from '../../../contract/domain.ts';
import { formats, readCritique } from '../../models/formats.ts';
import { score } from '../../world/evaluate.ts';
import type { ImageRGB } from '../../world/image.ts';
import { ratio, reflectionCounts } from '../../world/reflection-stats.ts';
import { GENEVAL_TASKS } from '../../world/spec.ts';
import { mixSeeds } from '../../world/rng.ts';
import { rewardWeights } from '../config.ts';
import type { ImageTurn, SampleResult, TaskItem, TextTurn } from '../policy.ts';
import { dmTrajectory, lmTrajectory, storedImage } from '../records.ts';
import { scorerVerdict } from '../rewards.ts';
import { need, type Episode, type ScenarioModule } from './scenario.ts';
import { genevalTask } from './t2i.ts';

interface Round {
  critique: TextTurn;
  /** Absent when the LM said the image is right: the cycle ends there. */
  refined?: ImageTurn;
}

/** The first image, then each round's critique and, unless it said right, the refined image. */
export function reflectionRounds(s: SampleResult): { first: ImageTurn; rounds: Round[] } {
  const [first, ...rest] = s.turns;
  if (first?.kind !== 'image') throw new Error(`reflection sample ${s.seed} does not start with an image`);
  const rounds: Round[] = [];
  for (const turn of rest) {
    if (turn.kind === 'text') rounds.push({ critique: turn });
    else need(rounds[rounds.length - 1], `reflection sample ${s.seed}: a refinement before any critique`).refined = turn;
  }
  return { first, rounds };
}

/** The images a cycle went through: the first, then each refinement. */
function cycleImages(s: SampleResult): ImageRGB[] {
  const { first, rounds } = reflectionRounds(s);
  return [first.image, ...rounds.flatMap((r) => (r.refined ? [r.refined.image] : []))];
}

const specOf = (it: TaskItem) => need(it.target.spec, `reflection item '${it.text}' has no prompt spec`);

export const reflect: ScenarioModule = {
  name: 'reflect',
  writes: true,
  draws: true,
  taskKinds: GENEVAL_TASKS.length,
  task: genevalTask,

  prompt: (it) => formats.generate(it.text),

  async rollout(model, rows, o) {
    const first = await model.draw(
      rows.map((r) => ({ ids: model.encode(formats.generate(r.item.text)), querySet: 'generate' })),
      rows,
      o,
      0,
    );
    const samples: SampleResult[] = rows.map((r, b) => ({ seed: r.seed, turns: [{ kind: 'image', role: 'image', ...first[b]! }] }));
    const current = first.map((d) => d.image);
    let active = rows.map((_, b) => b);
    for (let round = 1; round <= o.reflectionRounds && active.length > 0; round++) {
      const critiques = await model.write(
        active.map((b) => ({ text: formats.critique(rows[b]!.item.text), image: current[b]! })),
        o,
        mixSeeds(o.seed, 0xc417, round),
      );
      const turns = active.map((b, j) => {
        const read = readCritique(critiques.texts[j]!);
        const turn: TextTurn = {
          kind: 'text',
          role: 'critique',
          text: critiques.texts[j]!,
          lm: critiques.records[j]!,
          verdict: read.verdict,
          fix: read.fix,
        };
        samples[b]!.turns.push(turn);
        return turn;
      });
      const refine = active.flatMap((b, j) => (turns[j]!.verdict === 'wrong' ? [{ b, fix: turns[j]!.fix! }] : []));
      if (refine.length === 0) break;
      const refined = await model.draw(
        refine.map(({ b, fix }) => ({ ids: model.encode(formats.edit(fix)), querySet: 'edit', source: current[b]! })),
        refine.map(({ b }) => rows[b]!),
        o,
        round,
      );
      refine.forEach(({ b }, j) => {
        samples[b]!.turns.push({ kind: 'image', role: 'refine', ...refined[j]! });
        current[b] = refined[j]!.image;
      });
      active = refine.map(({ b }) => b);
    }
    return samples;
  },

  imagePrompts: async (_model, items) => items.map((it) => ({ text: formats.generate(it.text), querySet: 'generate' })),

  episode(encode, u) {
    const { item, sample } = u;
    const { first, rounds } = reflectionRounds(sample);
    const episode: Episode = {
      sequences: [{ ids: encode(formats.generate(item.text)), querySet: 'generate' }],
      lm: [],
      dm: [{ seq: 0, trajectory: first.dm, ...(u.splitAdvantage !== undefined ? { advantage: u.splitAdvantage } : {}) }],
    };
    const critiquePrompt = encode(formats.critique(item.text));
    let judged = first.image;
    for (const { critique, refined } of rounds) {
      // The critique's queries are never read (causal attention: they do not change its log-probs).
      episode.lm.push({ seq: episode.sequences.length, promptLength: critiquePrompt.length, record: critique.lm });
      episode.sequences.push({ ids: [...critiquePrompt, ...critique.lm.tokenIds], image: judged, querySet: 'generate' });
      if (!refined) break;
      episode.dm.push({ seq: episode.sequences.length, source: judged, trajectory: refined.dm });
      episode.sequences.push({ ids: encode(formats.edit(critique.fix ?? '')), image: judged, querySet: 'edit' });
      judged = refined.image;
    }
    return episode;
  },

  /** ShapeEval scores the final image; the reflection components see every judged image with its verdict. */
  rewardSample(s) {
    const images = cycleImages(s);
    const { rounds } = reflectionRounds(s);
    return {
      image: images[images.length - 1]!,
      reflection: { firstImage: images[0]!, judged: rounds.map((r, k) => ({ image: images[k]!, verdict: r.critique.verdict as Verdict })) },
    };
  },

  /**
   * Per-round advantages: the run's shapeEval component on each member's first image. What the rest of the
   * episode is credited with is then total - w·first = [critique and improvement terms + w·(final - first)],
   * which a good first image does not raise and a bad one does not lower.
   */
  splitRewards(samples, item, cfg, components, ctx) {
    if (cfg.reflect.advantage !== 'perRound') return undefined;
    const shapeEval = components.find((c) => c.name === 'shapeEval');
    if (!shapeEval) throw new Error("reflect.advantage 'perRound' needs a 'shapeEval' reward component to score the first images");
    const rewards = samples.map((s) => shapeEval.score({ image: reflectionRounds(s).first.image }, item.target, ctx) ?? 0);
    return { rewards, weight: rewardWeights(cfg).shapeEval };
  },

  /** The member is the first image (DM 'generate') with the first critique (LM 'critique1'). */
  member(s, base, storage) {
    const { first, rounds } = reflectionRounds(s);
    const critique = rounds[0]?.critique;
    return {
      ...base,
      seed: s.seed,
      text: critique?.text ?? null,
      image: storedImage(first.image),
      trajectories: [dmTrajectory(first.dm, storage, 'generate'), ...(critique ? [lmTrajectory(critique.lm, 'critique1')] : [])],
    };
  },

  /**
   * Each refined image as a derived sample (DM 'refine<k>', LM 'critique<k+1>' when it was judged again) and
   * the cycle, one row per round: round k judges image k (the member for k = 0) and leaves image k+1; its
   * reward is the ShapeEval reward of the image it leaves.
   */
  recordDerived(store, memberId, item, s, storage) {
    const spec = specOf(item);
    const { rounds } = reflectionRounds(s);
    const images = cycleImages(s);
    const imageIds = [memberId];
    rounds.forEach(({ refined }, k) => {
      if (!refined) return;
      const next = rounds[k + 1]?.critique;
      imageIds.push(
        store.samples.insertDerived(memberId, {
          seed: s.seed,
          text: next?.text ?? null,
          image: storedImage(refined.image),
          trajectories: [dmTrajectory(refined.dm, storage, `refine${k + 1}`), ...(next ? [lmTrajectory(next.lm, `critique${k + 2}`)] : [])],
        }),
      );
    });
    store.reflections.insert(
      memberId,
      rounds.map(({ critique, refined }, k) => ({
        judgedSampleId: imageIds[k]!,
        refinedSampleId: refined ? imageIds[k + 1]! : null,
        critique: critique.text,
        verdict: critique.verdict as Verdict,
        scorerVerdict: scorerVerdict(images[k]!, spec),
        reward: score(images[refined ? k + 1 : k]!, spec).reward,
      })),
    );
  },

  /**
   * Greedy critique -> refinement cycles on ODE images: eval/accuracy: the final image is right;
   * eval/first_accuracy: the single-shot first image is; eval/critique_accuracy: verdicts that agree with the
   * scorer; eval/corrected: wrong first images that end right; eval/broken: right ones that end wrong.
   */
  async evaluate(policy, items, env) {
    const reflectGreedy = need(policy.reflectGreedy?.bind(policy), 'the reflect scenario needs a policy with reflectGreedy');
    const cycles = await reflectGreedy(items, env.cfg.eval.odeSteps, env.cfg.reflect.rounds, env.seed);
    const outcomes = items.map((item, i) => {
      const { images, verdicts } = cycles[i]!;
      const correct = images.map((image) => score(image, specOf(item)).correct);
      return {
        firstCorrect: correct[0]!,
        finalCorrect: correct[correct.length - 1]!,
        agreements: verdicts.map((v, k) => (v === 'correct') === correct[k]),
      };
    });
    const counts = reflectionCounts(outcomes);
    return {
      metrics: {
        'eval/accuracy': ratio(counts.final) ?? 0,
        'eval/first_accuracy': ratio(counts.first) ?? 0,
        'eval/critique_accuracy': ratio(counts.agreement) ?? 0,
        'eval/corrected': ratio(counts.corrected) ?? 0,
        'eval/broken': ratio(counts.broken) ?? 0,
      },
      scored: items.map((item, i) => {
        const image = cycles[i]!.images[cycles[i]!.images.length - 1]!;
        return { item, image, verdict: score(image, specOf(item)) };
      }),
    };
  },
};
