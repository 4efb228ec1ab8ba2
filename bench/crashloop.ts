// `npm run crashloop -- [--kills N] [--seed S] [--max-delay-ms MS] [--step-window-ms MS] [--checkpoint-every K] [--json out.json]`:
// trains a nano run with `unirl train` and SIGKILLs it at random moments, N times (default 50), resuming it
// each time; then lets it finish. After every kill it checks the database (integrity, foreign keys), that
// every group is whole (all its samples, each with rewards), that no kept step has more groups than a step
// makes, that kept steps run 1..n without gaps with metrics only for kept steps, and that every checkpoint
// file is there and says its own step. After every resume it checks the steps after the checkpoint it
// resumed from were discarded ("steps without matching weights" otherwise). At the end the finished run
// must keep steps 1..n, each whole, with a checkpoint of step n.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, type Store } from '../db/index.ts';
import { readSafetensorsMetadata } from '../main/engine/checkpoint/safetensors.ts';

const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const kills = Number(flag('--kills') ?? 50);
const seed = Number(flag('--seed') ?? 1);
const maxDelayMs = Number(flag('--max-delay-ms') ?? 6000);
const stepWindowMs = Number(flag('--step-window-ms') ?? 3000);
const checkpointEvery = Number(flag('--checkpoint-every') ?? 3);
const jsonPath = flag('--json');
if (args.includes('--json') && !jsonPath) throw new Error('--json needs a file path');

const root = fileURLToPath(new URL('..', import.meta.url));
const PROMPTS_PER_STEP = 2;
const GROUP_SIZE = 4;

let state = seed >>> 0;
const random = () => {
  state = (state * 1664525 + 1013904223) >>> 0;
  return state / 2 ** 32;
};

const dataDir = mkdtempSync(join(tmpdir(), 'unirl-crashloop-'));
const configPath = join(dataDir, 'crashloop-config.json');
writeFileSync(configPath, JSON.stringify({ checkpointEvery, rollout: { promptsPerStep: PROMPTS_PER_STEP, groupSize: GROUP_SIZE } }));

interface Problem {
  after: string;
  what: string;
}
const problems: Problem[] = [];
const problem = (after: string, what: string) => problems.push({ after, what });

/** When to kill: `delayMs` after the spawn, or after the first step line (so the kill lands mid-training). */
interface KillPlan {
  delayMs: number;
  from: 'spawn' | 'first-step';
}

/** Runs `unirl train` and SIGKILLs it as planned (or lets it end when plan is null). */
function trainOnce(
  runId: number | null,
  plan: KillPlan | null,
  steps?: number,
): Promise<{ killed: boolean; code: number | null; output: string }> {
  const cli = [
    join(root, 'bin', 'unirl.js'),
    'train',
    '--scenario',
    't2i',
    '--preset',
    'nano',
    '--data-dir',
    dataDir,
    '--config',
    configPath,
    ...(runId === null ? ['--name', 'crashloop', '--steps', '100000'] : ['--resume', String(runId)]),
    ...(steps ? ['--steps', String(steps)] : []),
  ];
  const child = spawn(process.execPath, cli, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let killed = false;
  let timer: NodeJS.Timeout | null = null;
  const arm = () => {
    timer ??= setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, plan!.delayMs);
  };
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
    if (plan?.from === 'first-step' && /step \d+\//.test(output)) arm();
  });
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  if (plan?.from === 'spawn') arm();
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ killed, code, output });
    }),
  );
}

const one = <T>(store: Store, sql: string, ...params: unknown[]) => store.db.prepare(sql).get(...params) as T;
const all = <T>(store: Store, sql: string, ...params: unknown[]) => store.db.prepare(sql).all(...params) as T[];

/** The invariants that must hold whenever no trainer runs. Returns the kept steps' count. */
function check(
  store: Store,
  runId: number,
  after: string,
): { keptSteps: number; latestCheckpoint: number; groups: number; discarded: number } {
  const integrity = one<{ integrity_check: string }>(store, 'PRAGMA integrity_check').integrity_check;
  if (integrity !== 'ok') problem(after, `integrity_check: ${integrity}`);
  const fk = all(store, 'PRAGMA foreign_key_check');
  if (fk.length) problem(after, `${fk.length} foreign key violations`);
  const partial = all<{ id: number; members: number; group_size: number }>(
    store,
    `SELECT g.id, g.group_size, (SELECT count(*) FROM samples s WHERE s.group_id = g.id AND s.role = 'member') AS members
     FROM rollout_groups g WHERE g.run_id = ? AND members != g.group_size`,
    runId,
  );
  if (partial.length)
    problem(
      after,
      `${partial.length} groups without all their samples (e.g. group ${partial[0]!.id}: ${partial[0]!.members}/${partial[0]!.group_size})`,
    );
  const unrewarded = one<{ n: number }>(
    store,
    `SELECT count(*) AS n FROM samples s JOIN rollout_groups g ON g.id = s.group_id
     WHERE g.run_id = ? AND s.role = 'member' AND NOT EXISTS (SELECT 1 FROM reward_components r WHERE r.sample_id = s.id)`,
    runId,
  ).n;
  if (unrewarded) problem(after, `${unrewarded} samples without rewards`);
  const counts = store.groups.stepCounts(runId);
  const latest = store.checkpoints.latest(runId)?.step ?? 0;
  for (const { step, groups } of counts) {
    if (groups > PROMPTS_PER_STEP)
      problem(
        after,
        `kept step ${step} has ${groups} groups (a step makes ${PROMPTS_PER_STEP}): two trainers, or a step reused without discarding`,
      );
    if (step <= latest && groups !== PROMPTS_PER_STEP)
      problem(after, `checkpointed step ${step} has ${groups} groups, not ${PROMPTS_PER_STEP}`);
  }
  const steps = counts.map((c) => c.step);
  if (steps.some((s, i) => s !== i + 1)) problem(after, `kept steps are not 1..n: ${steps.join(',')}`);
  const metricSteps = all<{ step: number }>(store, 'SELECT DISTINCT step FROM metrics WHERE run_id = ?', runId).map((r) => r.step);
  const kept = new Set(steps);
  const orphan = metricSteps.filter((s) => !kept.has(s));
  if (orphan.length) problem(after, `metrics for steps with no kept groups: ${orphan.slice(0, 5).join(',')}`);
  for (const c of store.checkpoints.list(runId)) {
    if (!existsSync(c.path)) {
      problem(after, `checkpoint of step ${c.step} is recorded but ${c.path} is missing`);
      continue;
    }
    try {
      const metadata = readSafetensorsMetadata(c.path);
      if (metadata.step !== String(c.step)) problem(after, `checkpoint ${c.path} says step ${metadata.step}, its row ${c.step}`);
    } catch (err) {
      problem(after, `checkpoint ${c.path} unreadable: ${(err as Error).message}`);
    }
  }
  const discarded = one<{ n: number }>(
    store,
    'SELECT count(*) AS n FROM rollout_groups WHERE run_id = ? AND discarded_at IS NOT NULL',
    runId,
  ).n;
  const groups = one<{ n: number }>(store, 'SELECT count(*) AS n FROM rollout_groups WHERE run_id = ?', runId).n;
  return { keptSteps: steps.length, latestCheckpoint: latest, groups, discarded };
}

const started = performance.now();
const iterations: {
  from: KillPlan['from'];
  delayMs: number;
  killed: boolean;
  keptSteps: number;
  latestCheckpoint: number;
  groups: number;
  discarded: number;
  resumed: boolean;
}[] = [];
let runId: number | null = null;
let stepsWithoutWeights = 0;
let lostCommittedGroups = 0;
try {
  for (let i = 0; i < kills; i++) {
    // What the resume must give up: kept groups after the latest checkpoint, as they stand now.
    let mustDiscard: number[] = [];
    let lastEventId = 0;
    let groupIds: number[] = [];
    if (runId !== null) {
      const store = openStore(join(dataDir, 'unirl.sqlite'));
      const latest = store.checkpoints.latest(runId)?.step ?? 0;
      mustDiscard = all<{ id: number }>(
        store,
        'SELECT id FROM rollout_groups WHERE run_id = ? AND step > ? AND discarded_at IS NULL',
        runId,
        latest,
      ).map((r) => r.id);
      lastEventId = one<{ id: number | null }>(store, 'SELECT max(id) AS id FROM events').id ?? 0;
      groupIds = all<{ id: number }>(store, 'SELECT id FROM rollout_groups WHERE run_id = ?', runId).map((r) => r.id);
      store.close();
    }
    // A third during start-up (opening the store, claiming the run, resuming, loading weights), the rest
    // within a few steps of training.
    const plan: KillPlan =
      random() < 1 / 3
        ? { from: 'spawn', delayMs: Math.round(200 + random() * (maxDelayMs - 200)) }
        : { from: 'first-step', delayMs: Math.round(random() * stepWindowMs) };
    const delayMs = plan.delayMs;
    const result = await trainOnce(runId, plan);
    if (!result.killed) problem(`run ${i}`, `the trainer ended by itself (code ${result.code}): ${result.output.slice(-500)}`);
    const store = openStore(join(dataDir, 'unirl.sqlite'));
    try {
      runId ??= store.runs.list()[0]?.id ?? null;
      if (runId === null) {
        iterations.push({
          from: plan.from,
          delayMs,
          killed: result.killed,
          keptSteps: 0,
          latestCheckpoint: 0,
          groups: 0,
          discarded: 0,
          resumed: false,
        });
        continue;
      }
      const after = `kill ${i + 1} (${delayMs} ms after ${plan.from})`;
      // Every group committed before this try is still there.
      const present = new Set(all<{ id: number }>(store, 'SELECT id FROM rollout_groups WHERE run_id = ?', runId).map((r) => r.id));
      const lost = groupIds.filter((id) => !present.has(id)).length;
      if (lost) {
        lostCommittedGroups += lost;
        problem(after, `${lost} committed groups gone`);
      }
      const resumed =
        one<{ n: number }>(
          store,
          `SELECT count(*) AS n FROM events WHERE run_id = ? AND id > ? AND message LIKE 'resumed at step%'`,
          runId,
          lastEventId,
        ).n > 0;
      if (resumed) {
        const placeholders = mustDiscard.map(() => '?').join(',');
        const stillKept =
          mustDiscard.length === 0
            ? 0
            : one<{ n: number }>(
                store,
                `SELECT count(*) AS n FROM rollout_groups WHERE id IN (${placeholders}) AND discarded_at IS NULL`,
                ...mustDiscard,
              ).n;
        if (stillKept) {
          stepsWithoutWeights += stillKept;
          problem(after, `${stillKept} groups after the resumed checkpoint were kept`);
        }
      }
      iterations.push({ from: plan.from, delayMs, killed: result.killed, resumed, ...check(store, runId, after) });
      const last = iterations[iterations.length - 1]!;
      process.stderr.write(
        `kill ${i + 1}/${kills} ${delayMs} ms after ${plan.from}: ${last.keptSteps} kept steps, ` +
          `checkpoint ${last.latestCheckpoint}, ${last.discarded} discarded groups\n`,
      );
    } finally {
      store.close();
    }
  }

  // Let it finish two steps past what it kept, without a kill.
  let final = null;
  if (runId !== null) {
    let store = openStore(join(dataDir, 'unirl.sqlite'));
    const target = store.groups.stepCounts(runId).length + 2;
    store.close();
    const result = await trainOnce(runId, null, target);
    if (result.code !== 0) problem('final run', `exited ${result.code}: ${result.output.slice(-500)}`);
    store = openStore(join(dataDir, 'unirl.sqlite'));
    try {
      final = { target, status: store.runs.get(runId).status, ...check(store, runId, 'final run') };
      if (final.keptSteps !== target) problem('final run', `kept ${final.keptSteps} steps, expected ${target}`);
      if (final.latestCheckpoint !== target)
        problem('final run', `latest checkpoint is step ${final.latestCheckpoint}, expected ${target}`);
      if (final.status !== 'completed') problem('final run', `status ${final.status}`);
    } finally {
      store.close();
    }
  }

  const report = {
    kills: iterations.filter((it) => it.killed).length,
    killsAfterFirstStep: iterations.filter((it) => it.from === 'first-step').length,
    killsDuringTraining: iterations.filter((it, i) => i > 0 && it.groups > iterations[i - 1]!.groups).length,
    resumes: iterations.filter((it) => it.resumed).length,
    checkpointEvery,
    promptsPerStep: PROMPTS_PER_STEP,
    groupSize: GROUP_SIZE,
    problems: problems.length,
    stepsWithoutWeights,
    lostCommittedGroups,
    discardedGroups: iterations[iterations.length - 1]?.discarded ?? 0,
    final,
    seconds: (performance.now() - started) / 1000,
    details: problems.slice(0, 50),
    iterations,
  };
  const { iterations: _omit, details: _d, ...summary } = report;
  console.log(JSON.stringify(summary, null, 2));
  for (const p of problems.slice(0, 20)) console.log(`  after ${p.after}: ${p.what}`);
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
  process.exitCode = problems.length === 0 ? 0 : 1;
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
