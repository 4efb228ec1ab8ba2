// The hand-off to a cluster (docs/scale-out.md), with a scripted client standing in for the cluster: it
// reads the verl dataset the app exported, draws images, asks the reward service for their rewards, dumps
// its rollouts the way verl does, and the app imports them for people to rank; the ranks then reach the
// rewards the cluster gets. The Python reward file is driven against the same service when python3 exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng, openStore, resolveDataDir, type Store } from '../../db/index.ts';
import { seedGroups } from '../../tests/browser/fixtures.ts';
import { EventBus } from '../api/events.ts';
import { ComputeClient } from '../compute/client.ts';
import { exportRun } from '../export/export.ts';
import { readParquetFile } from '../export/read-parquet.ts';
import { importVerlRollouts } from '../export/verl-import.ts';
import { toUint8 } from '../world/image.ts';
import { parsePrompt, sampleSceneForSpec } from '../world/prompts.ts';
import { renderScene } from '../world/render.ts';
import { Rng } from '../world/rng.ts';
import { validateSpec, type PromptSpec } from '../world/spec.ts';
import { startHeadlessServer, type HeadlessServer } from './http.ts';
import { REWARD_SCORE_PATH, rewardServiceRoute, type RewardRequest } from './reward-service.ts';

const TOKEN = 'cluster-token';

interface Service {
  dataDir: string;
  store: Store;
  server: HeadlessServer;
  close(): Promise<void>;
}

async function startService(): Promise<Service> {
  const dataDir = mkdtempSync(join(tmpdir(), 'unirl-scale-out-'));
  const rendererDir = join(dataDir, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>UniRL Studio</title>');
  const store = openStore(resolveDataDir({ cliDir: dataDir }).dbPath);
  const compute = new ComputeClient();
  const server = await startHeadlessServer({
    host: '127.0.0.1',
    port: 0,
    rendererDir,
    token: TOKEN,
    events: new EventBus(),
    media: () => null,
    dispatch: async () => null,
    routes: [rewardServiceRoute({ dataDir, startJob: (params) => compute.start('reward', params) })],
  });
  return {
    dataDir,
    store,
    server,
    async close() {
      await server.close();
      await compute.close();
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function post(
  service: Service,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(service.server.url + REWARD_SCORE_PATH, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}`, ...headers },
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

interface Score {
  reward: number;
  shapeeval: number;
  correct: boolean;
  preference: number | null;
  human_rank: number | null;
}

/** The cluster's side: a PNG for a prompt's spec; `wrong` draws another prompt's scene. */
function draw(spec: PromptSpec, seed: number, wrong: boolean): Buffer {
  const drawnSpec = wrong ? parsePrompt(spec.include[0]!.shapes[0] === 'circle' ? 'two squares' : 'two circles') : spec;
  const image = toUint8(renderScene(sampleSceneForSpec(drawnSpec, new Rng(seed)), { width: 48 }));
  return encodePng(image.data, image.width, image.height);
}

test(
  'a scripted cluster trains on the exported verl prompts with ' + "the app's rewards, and its rollouts come back to be ranked",
  async (t) => {
    const service = await startService();
    try {
      const seeded = seedGroups(service.store, { groups: 2, groupSize: 2, seed: 7 });
      const exportDir = join(service.dataDir, 'exports', 'verl');
      exportRun(service.store, { runId: seeded.runId, format: 'verl', outDir: exportDir });

      // The cluster reads the dataset as verl's RLHFDataset does: chat prompt, ground truth, extra_info.
      const dataset = readParquetFile(join(exportDir, 'verl.train.parquet'));
      assert.equal(dataset.types.prompt, 'List<Struct<{role:Utf8, content:Utf8}>>');
      assert.equal(dataset.rows.length, 2);
      const prompts = dataset.rows.map((row) => {
        const messages = row.prompt as { role: string; content: string }[];
        const info = row.extra_info as { prompt: string; index: number };
        assert.equal(row.data_source, 'unirl/shapeworld');
        assert.equal(messages[0]!.content, info.prompt);
        const groundTruth = (row.reward_model as { ground_truth: string }).ground_truth;
        return { text: info.prompt, groundTruth, spec: groundTruth ? validateSpec(JSON.parse(groundTruth)) : parsePrompt(info.prompt) };
      });

      // Step 1: three rollouts per prompt, the last drawn wrong; rewards from the service.
      const dump = join(service.dataDir, 'rollouts');
      mkdirSync(join(dump, 'images'), { recursive: true });
      const rollouts = prompts.flatMap((p, i) =>
        [0, 1, 2].map((k) => ({ prompt: p, png: draw(p.spec, i * 10 + k, k === 2), file: `images/1-${i}-${k}.png` })),
      );
      const request: RewardRequest = {
        items: rollouts.map((r) => ({ prompt: r.prompt.text, ground_truth: r.prompt.groundTruth, image: r.png.toString('base64') })),
      };
      const first = await post(service, request);
      assert.equal(first.status, 200, JSON.stringify(first.json));
      const scores = first.json.scores as Score[];
      assert.deepEqual(
        scores.map((s) => s.correct),
        [true, true, false, true, true, false],
      );
      assert.ok(
        scores.every((s) => s.human_rank === null && s.preference === null),
        'nobody ranked these yet, and no run has a preference model',
      );
      assert.ok(scores[0]!.reward > scores[2]!.reward);

      // verl's dump: {step}.jsonl with input (chat-templated), output, gts, score, step and the reward's extras.
      const lines = rollouts.map((r, i) => {
        writeFileSync(join(dump, r.file), r.png);
        return JSON.stringify({
          input: `<|im_start|>user\n${r.prompt.text}<|im_end|>\n<|im_start|>assistant\n`,
          output: r.file,
          gts: r.prompt.groundTruth,
          score: scores[i]!.reward,
          step: 1,
          shapeeval: scores[i]!.shapeeval,
        });
      });
      writeFileSync(join(dump, '1.jsonl'), lines.join('\n') + '\n');

      // The app imports the dump into a run: one group per prompt, queued for ranking.
      const imported = importVerlRollouts(service.store, { dir: dump });
      assert.deepEqual([imported.groups, imported.samples, imported.queued, imported.steps], [2, 6, 2, [1]]);
      const queue = service.store.rankings.queue({ annotator: 'ann', runId: imported.runId });
      assert.deepEqual(
        queue.map((g) => g.prompt),
        prompts.map((p) => p.text),
      );
      const group = service.store.groups.detail(queue[0]!.id);
      assert.deepEqual(
        group.samples.map((s) => s.rewards.find((c) => c.name === 'cluster')!.value),
        scores.slice(0, 3).map((s) => s.reward),
      );
      assert.equal(service.store.runs.get(imported.runId).status, 'completed');

      // A person ranks the first group (the wrong image best, to tell the human rank from ShapeEval).
      const [a, b, c] = group.samples.map((s) => s.id);
      service.store.rankings.submit({
        groupId: group.id,
        annotator: 'ann',
        durationMs: 900,
        ranks: [
          { sampleId: c!, rank: 1 },
          { sampleId: a!, rank: 2 },
          { sampleId: b!, rank: 3 },
        ],
      });

      // The cluster scores the same images again: the person's ranks are in the reward now.
      const again = (await post(service, request)).json.scores as Score[];
      assert.deepEqual(
        again.map((s) => s.human_rank),
        [0, -1, 1, null, null, null],
      );
      assert.deepEqual(
        again.map((s) => s.reward),
        again.map((s) => s.shapeeval + (s.human_rank ?? 0)),
      );

      // The Python reward function verl loads, against the same service (optional: npm test needs no Python).
      const python = spawnSync('python3', ['--version']);
      if (python.status === 0) {
        const script = [
          'import json, sys',
          `sys.path.insert(0, ${JSON.stringify(exportDir)})`,
          'import unirl_reward',
          'print(json.dumps(unirl_reward.compute_score_batch(["unirl/shapeworld"] * 3, ' +
            `${JSON.stringify(rollouts.slice(0, 3).map((r) => join(dump, r.file)))}, ` +
            `[${JSON.stringify(prompts[0]!.groundTruth)}] * 3, [{"prompt": ${JSON.stringify(prompts[0]!.text)}}] * 3)))`,
          'print(json.dumps(unirl_reward.compute_score("unirl/shapeworld", ' +
            `"data:image/png;base64,${rollouts[3]!.png.toString('base64')}", ` +
            `${JSON.stringify(prompts[1]!.groundTruth)}, {"prompt": ${JSON.stringify(prompts[1]!.text)}})))`,
        ].join('\n');
        // Asynchronously: the service answers from this process's event loop.
        const { stdout } = await promisify(execFile)('python3', ['-c', script], {
          env: { ...process.env, UNIRL_REWARD_URL: service.server.url, UNIRL_REWARD_TOKEN: TOKEN, UNIRL_REWARD_TIMEOUT: '30' },
        });
        const [batch, single] = stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        assert.deepEqual(
          batch.map((r: { score: number }) => r.score),
          again.slice(0, 3).map((s) => s.reward),
        );
        assert.deepEqual(
          batch.map((r: { human_rank: number }) => r.human_rank),
          [0, -1, 1],
        );
        assert.equal(single.score, again[3]!.reward);
      } else {
        t.diagnostic('python3 not found: the Python reward file was not run');
      }
    } finally {
      await service.close();
    }
  },
);

test('the reward service wants the token, a JSON POST, and input it can score, and says what is wrong', async () => {
  const service = await startService();
  try {
    const image = draw(parsePrompt('a red circle'), 1, false).toString('base64');
    assert.equal((await post(service, { items: [{ prompt: 'a red circle', image }] }, { Authorization: 'Bearer nope' })).status, 401);
    assert.equal((await fetch(service.server.url + REWARD_SCORE_PATH, { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 405);
    assert.equal((await post(service, 'x', { 'Content-Type': 'text/plain' })).status, 415);
    const notJson = await post(service, '{items');
    assert.equal(notJson.status, 400);
    assert.match(String(notJson.json.error), /not JSON/);
    const noItems = await post(service, { items: [] });
    assert.equal(noItems.status, 400);
    assert.equal(noItems.json.field, 'items');
    const badImage = await post(service, {
      items: [
        { prompt: 'a red circle', image },
        { prompt: 'a red circle', image: 'aGVsbG8=' },
      ],
    });
    assert.equal(badImage.status, 400);
    assert.equal(badImage.json.field, 'items[1].image');
    const ok = await post(service, { items: [{ prompt: 'a red circle', image: `data:image/png;base64,${image}` }] });
    assert.equal(ok.status, 200);
    assert.equal((ok.json.scores as Score[])[0]!.correct, true);
  } finally {
    await service.close();
  }
});
