import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SCENARIOS } from '../../contract/domain.ts';
import { activeRewards, ConfigError, NANO_OVERRIDES, parseTrainConfig, resolveTrainConfig } from './config.ts';

test("the t2i preset has the paper's rollout and bench:rl's objective", () => {
  const c = resolveTrainConfig('t2i');
  assert.equal(c.rollout.groupSize, 8);
  assert.equal(c.rollout.sdeSteps, 10);
  assert.equal(c.eval.odeSteps, 40);
  assert.equal(c.rollout.noiseLevel, 0.7);
  assert.equal(c.rollout.timestepFraction, 0.6);
  assert.deepEqual(c.loss.lm, { clipRange: 0.2, klBeta: 0.01 });
  assert.deepEqual(c.loss.dm, { objective: 'nft', clipRange: 1e-4, klBeta: 1e-4, nftBeta: 1, adaptiveWeight: true, nftOldDecay: 0.5 });
  assert.equal(c.loss.advantage, 'globalStd');
  assert.equal(c.loss.advantageClip, 5);
  assert.deepEqual(c.train, ['genQueries', 'connector', 'dm']);
  assert.equal(c.optim.lr.dm, 3e-5);
  assert.equal(resolveTrainConfig('cot').loss.dm.objective, 'nft', 'CoT: DiffusionNFT won there too');
  assert.equal(resolveTrainConfig('reflect').loss.dm.objective, 'nft', 'and on reflection');
  assert.deepEqual(activeRewards(c), ['shapeEval']);
  assert.equal(c.human.mode, 'off');
});

test('each scenario preset trains the parts the paper trains', () => {
  assert.deepEqual(resolveTrainConfig('cot').train, ['lm', 'genQueries', 'connector', 'dm']);
  assert.deepEqual(resolveTrainConfig('cot').optim.lr, { lm: 5e-7, dm: 3e-5 });
  assert.deepEqual(resolveTrainConfig('text').train, ['lm']);
  assert.deepEqual(resolveTrainConfig('vqa').train, ['lm']);
  assert.deepEqual(resolveTrainConfig('edit').train, ['editQueries', 'connector', 'dm']);
  assert.equal(resolveTrainConfig('edit').loss.dm.klBeta, 4e-2);
  assert.equal(resolveTrainConfig('edit').loss.dm.objective, 'nft');
  assert.deepEqual(activeRewards(resolveTrainConfig('edit')), ['editCompliance', 'editPreservation', 'cycle', 'editMark']);
  assert.deepEqual(
    activeRewards(resolveTrainConfig('edit', { edit: { cycle: false } })),
    ['editCompliance', 'editPreservation', 'editMark'],
    'the cycle flag drops the cycle term',
  );
  assert.equal(resolveTrainConfig('reflect').reflect.rounds, 2);
  assert.throws(() => resolveTrainConfig('reflect', { reflect: { rounds: 0 } }), /config\.reflect\.rounds/);
  assert.equal(resolveTrainConfig('reflect').reflect.advantage, 'perRound');
  assert.throws(() => resolveTrainConfig('reflect', { reflect: { advantage: 'perStep' } }), /config\.reflect\.advantage/);
  assert.equal(resolveTrainConfig('edit').rewards.editCompliance, 4);
  assert.ok(resolveTrainConfig('reflect').train.includes('lm'));
  for (const s of SCENARIOS) assert.equal(resolveTrainConfig(s, NANO_OVERRIDES).model.preset, 'nano');
});

test('overrides merge deeply and later ones win; arrays replace', () => {
  const c = resolveTrainConfig('t2i', { loss: { dm: { klBeta: 0.1 } }, train: ['dm'] }, { loss: { dm: { clipRange: 2e-4 } } });
  assert.deepEqual(c.loss.dm, { objective: 'nft', clipRange: 2e-4, klBeta: 0.1, nftBeta: 1, adaptiveWeight: true, nftOldDecay: 0.5 });
  assert.equal(c.loss.lm.clipRange, 0.2);
  assert.deepEqual(c.train, ['dm']);
});

test('people in the loop get the measured human weights unless the config sets them; a wait for rewards that weigh 0 is refused', () => {
  assert.deepEqual(resolveTrainConfig('t2i').rewards.humanRank, 0, 'no people, no human weight');
  for (const mode of ['sync', 'async'] as const) {
    const c = resolveTrainConfig('t2i', { human: { mode } });
    assert.deepEqual(
      [c.rewards.shapeEval, c.rewards.humanRank, c.rewards.preference],
      [1, 0.25, 0.25],
      `${mode}: docs/results.md's 1 : 0.25 : 0.25`,
    );
  }
  assert.equal(resolveTrainConfig('t2i', { human: { mode: 'sync' }, rewards: { humanRank: 2 } }).rewards.humanRank, 2, 'a set weight wins');
  assert.equal(
    resolveTrainConfig('t2i', { human: { mode: 'async' }, rewards: { humanRank: 0 } }).rewards.preference,
    0.25,
    'async may rank through the preference model alone',
  );
  const refused = (override: unknown, message: RegExp) =>
    assert.throws(
      () => resolveTrainConfig('t2i', override),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.field, 'rewards.humanRank');
        assert.match(err.message, message);
        return true;
      },
    );
  refused({ human: { mode: 'sync' }, rewards: { humanRank: 0 } }, /'sync' waits for people's rankings, but their weight is 0/);
  refused({ human: { mode: 'async' }, rewards: { humanRank: 0, preference: 0 } }, /rankings would change nothing/);
});

test('a malformed config names the field', () => {
  const bad = (override: unknown, field: string, message: RegExp) => {
    assert.throws(
      () => resolveTrainConfig('t2i', override),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.field, field);
        assert.match(err.message, message);
        return true;
      },
    );
  };
  bad({ loss: { dm: { clipRange: -1 } } }, 'loss.dm.clipRange', /config\.loss\.dm\.clipRange/);
  bad({ rollout: { groupSize: 1 } }, 'rollout.groupSize', /config\.rollout\.groupSize/);
  bad({ rollout: { gruopSize: 4 } }, 'rollout', /gruopSize/);
  bad({ human: { mode: 'sometimes' } }, 'human.mode', /config\.human\.mode/);
  bad({ train: ['dm', 'dm'] }, 'train', /must not repeat/);
  bad({ rewards: { shapeEval: 0 } }, 'rewards', /at least one reward weight/);
  bad({ scenario: 'cot' }, 'scenario', /'cot' but the run is 't2i'/);
  assert.throws(() => parseTrainConfig({ scenario: 'paint', train: ['dm'] }), /config\.scenario/);
});

test("loss.advantage defaults to 'groupStd'; edit's preset says 'none', those of t2i, CoT and reflection 'globalStd'; old configs' scaleByStd still reads", () => {
  assert.equal(resolveTrainConfig('vqa').loss.advantage, 'groupStd');
  assert.equal(resolveTrainConfig('reflect').loss.advantage, 'globalStd');
  assert.equal(resolveTrainConfig('cot').loss.advantage, 'globalStd');
  assert.equal(resolveTrainConfig('t2i').loss.advantage, 'globalStd');
  assert.equal(resolveTrainConfig('edit').loss.advantage, 'none');
  assert.equal(resolveTrainConfig('t2i', { loss: { advantage: 'winRate' } }).loss.advantage, 'winRate');
  // A run stored before the rename: its whole config as parsed then, with scaleByStd and no advantage.
  const stored = JSON.parse(JSON.stringify(resolveTrainConfig('edit'))) as { loss: Record<string, unknown> };
  delete stored.loss.advantage;
  for (const [scaleByStd, mode] of [
    [false, 'none'],
    [true, 'groupStd'],
  ] as const) {
    const parsed = parseTrainConfig({ ...stored, loss: { ...stored.loss, scaleByStd } });
    assert.equal(parsed.loss.advantage, mode);
    assert.ok(!('scaleByStd' in parsed.loss), 'the old name does not survive the parse');
  }
  // A t2i run stored before DiffusionNFT became its preset resumes with the objective it trained with.
  const oldT2i = JSON.parse(JSON.stringify(resolveTrainConfig('t2i', { loss: { dm: { objective: 'flowGrpo' } } }))) as {
    loss: { dm: Record<string, unknown> };
  };
  delete oldT2i.loss.dm.objective;
  assert.equal(resolveTrainConfig('t2i', parseTrainConfig(oldT2i)).loss.dm.objective, 'flowGrpo');
  // Old overrides (docs/results.md's commands) still work, and a later override's old name wins.
  assert.equal(resolveTrainConfig('reflect', { loss: { scaleByStd: false } }).loss.advantage, 'none');
  assert.equal(resolveTrainConfig('edit', { loss: { scaleByStd: true } }).loss.advantage, 'groupStd');
  assert.equal(resolveTrainConfig('t2i', { loss: { scaleByStd: false } }, { loss: { advantage: 'winRate' } }).loss.advantage, 'winRate');
  assert.throws(
    () => resolveTrainConfig('t2i', { loss: { scaleByStd: false, advantage: 'none' } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.field, 'loss.scaleByStd');
      assert.match(err.message, /give only loss\.advantage/);
      return true;
    },
  );
  assert.throws(() => resolveTrainConfig('t2i', { loss: { advantage: 'rank' } }), /config\.loss\.advantage/);
});

test('rollout.sdeWindow: null by default; a window must fit in the trajectory', () => {
  assert.equal(resolveTrainConfig('t2i').rollout.sdeWindow, null);
  assert.deepEqual(resolveTrainConfig('t2i', { rollout: { sdeWindow: { size: 3 } } }).rollout.sdeWindow, { size: 3, start: 'random' });
  assert.deepEqual(resolveTrainConfig('t2i', { rollout: { sdeWindow: { size: 2, start: 8 } } }).rollout.sdeWindow, { size: 2, start: 8 });
  const refused = (sdeWindow: unknown, message: RegExp) =>
    assert.throws(
      () => resolveTrainConfig('t2i', { rollout: { sdeWindow } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.field.startsWith('rollout.sdeWindow'), true, err.field);
        assert.match(err.message, message);
        return true;
      },
    );
  refused({ size: 2, start: 9 }, /ends after the trajectory's 10 steps/);
  refused({ size: 11 }, /ends after the trajectory's 10 steps/);
  refused({ size: 0 }, /config\.rollout\.sdeWindow\.size/);
  refused({ size: 2, start: 'middle' }, /config\.rollout\.sdeWindow\.start/);
});
