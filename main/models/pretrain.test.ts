// Pretraining on the nano preset: a few steps lower both losses on held-out batches, and a run resumes
// from its checkpoint (optimizer state included) where it stopped; a new stage starts from other weights
// on another data mix.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Rng as EngineRng } from '../engine/runtime/rng.ts';
import { Rng } from '../world/rng.ts';
import { getPreset } from './config.ts';
import { DATA_MIXES, dmExample, lmExample, shapeWorldTokenizer, type DataMix } from './data.ts';
import { dmGradients, lmGradients, lossCurvePath, pretrain, type LossRecord } from './pretrain.ts';
import { UnifiedModel } from './unified.ts';

const dir = mkdtempSync(join(tmpdir(), 'unirl-pretrain-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const quiet = { progress() {}, checkCancelled() {} };

/** Losses on fixed batches no training step ever draws (seed 999). */
async function heldOutLosses(model: UnifiedModel): Promise<{ dm: number; lm: number }> {
  const dm = await dmGradients(model, 'generate', 16, new Rng(999), new EngineRng(999));
  const lm = await lmGradients(model, 'question', 16, new Rng(999));
  return { dm: dm.loss, lm: lm.loss };
}

test('a few pretraining steps lower the flow loss and the LM loss', async () => {
  const out = join(dir, 'short.safetensors');
  const fresh = UnifiedModel.create(getPreset('nano'), shapeWorldTokenizer(), { threads: 1, seed: 1 });
  const before = await heldOutLosses(fresh);
  await fresh.dispose();
  const result = await pretrain({ preset: 'nano', dataDir: dir, out, steps: 60, threads: 1, lr: 3e-3, seed: 1 }, quiet);
  assert.equal(result.steps, 60);
  const { model } = UnifiedModel.load(out, { threads: 1 });
  const afterTraining = await heldOutLosses(model);
  await model.dispose();
  assert.ok(afterTraining.dm < 0.8 * before.dm, `flow loss ${before.dm} → ${afterTraining.dm}`);
  assert.ok(afterTraining.lm < 0.8 * before.lm, `LM loss ${before.lm} → ${afterTraining.lm}`);
});

test('a stopped run resumes from its checkpoint and keeps one loss curve', async () => {
  const out = join(dir, 'resumable.safetensors');
  await pretrain({ preset: 'nano', dataDir: dir, out, steps: 5, threads: 1 }, quiet);
  assert.ok(existsSync(out.replace('.safetensors', '.optim.safetensors')), 'optimizer state is saved');
  const resumed = await pretrain({ preset: 'nano', dataDir: dir, out, steps: 9, threads: 1, resume: true }, quiet);
  assert.equal(resumed.steps, 9);
  const records = readFileSync(lossCurvePath(out), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LossRecord);
  assert.deepEqual(
    records.map((r) => r.step),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  await assert.rejects(pretrain({ preset: 'base', dataDir: dir, out, steps: 10, threads: 1, resume: true }, quiet), /holds preset 'nano'/);
  await assert.rejects(
    pretrain({ preset: 'nano', dataDir: dir, out: join(dir, 'none.safetensors'), steps: 2, resume: true }, quiet),
    /no checkpoint/,
  );
});

test('pretraining stops when cancelled and keeps its checkpoint', async () => {
  const out = join(dir, 'cancelled.safetensors');
  let calls = 0;
  const ctx = {
    progress() {},
    checkCancelled() {
      if (++calls > 3) throw new Error('cancelled');
    },
  };
  await assert.rejects(pretrain({ preset: 'nano', dataDir: dir, out, steps: 50, threads: 1 }, ctx), /cancelled/);
  assert.ok(existsSync(out), 'the checkpoint of the steps taken is written');
});

test('the relations mix draws position and colour-binding prompts and relation questions more often, yes/no only', () => {
  const share = (mix: DataMix) => {
    const rng = new Rng(5);
    const prompts = Array.from({ length: 600 }, () => dmExample('generate', rng, 8, mix).text);
    const questions = Array.from({ length: 600 }, () => lmExample('question', rng, 8, mix));
    return {
      relationPrompts: prompts.filter((t) => / (left of|right of|above|below) /.test(t)).length / prompts.length,
      relationQuestions: questions.filter((q) => / (left of|right of|above|below) /.test(q.prompt)).length / questions.length,
      open: questions.filter((q) => !/^(yes|no) /.test(q.completion)).length,
    };
  };
  const balanced = share(DATA_MIXES.balanced);
  const relations = share(DATA_MIXES.relations);
  assert.ok(relations.relationPrompts > 2.5 * balanced.relationPrompts, JSON.stringify({ balanced, relations }));
  assert.ok(relations.relationQuestions > 5 * balanced.relationQuestions, JSON.stringify({ balanced, relations }));
  assert.ok(balanced.open > 0);
  assert.equal(relations.open, 0);
});

test('a new stage starts from other weights with a fresh optimizer, and resuming it keeps its data mix', async () => {
  const first = join(dir, 'stage1.safetensors');
  await pretrain({ preset: 'nano', dataDir: dir, out: first, steps: 3, threads: 1 }, quiet);
  const stage = join(dir, 'stage2.safetensors');
  await pretrain({ preset: 'nano', dataDir: dir, out: stage, steps: 2, threads: 1, from: first, mix: 'relations', seed: 2 }, quiet);
  const loaded = UnifiedModel.load(stage, { threads: 1 });
  await loaded.model.dispose();
  assert.equal(loaded.metadata.step, '2', 'the step count restarts with the fresh optimizer');
  assert.equal(loaded.metadata.data_mix, 'relations');
  assert.equal(loaded.metadata.from, first);
  await pretrain({ preset: 'nano', dataDir: dir, out: stage, steps: 4, threads: 1, resume: true }, quiet);
  const resumed = UnifiedModel.load(stage, { threads: 1 });
  await resumed.model.dispose();
  assert.equal(resumed.metadata.data_mix, 'relations');
  assert.equal(resumed.metadata.from, first);
  await assert.rejects(pretrain({ preset: 'nano', dataDir: dir, out: stage, steps: 5, resume: true, from: first }, quiet), /give one/);
  await assert.rejects(
    pretrain({ preset: 'nano', dataDir: dir, out: stage, steps: 5, mix: 'spatial' as 'relations' }, quiet),
    /unknown data mix 'spatial'/,
  );
  await assert.rejects(
    pretrain({ preset: 'base', dataDir: dir, out: join(dir, 'x.safetensors'), steps: 1, from: first }, quiet),
    /holds preset 'nano'/,
  );
});
