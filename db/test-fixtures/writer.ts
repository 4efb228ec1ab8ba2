// Crash-test writer: commits batches forever, one transaction each, and prints each committed batch's
// step and group id after COMMIT returns. The test SIGKILLs it mid-way.
// Usage: node --import tsx db/test-fixtures/writer.ts <db path> [max steps, default 10000 so a lost writer ends]
import { openStore } from '../store.ts';
import { groupInput, seedRun } from './seed.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: writer.ts <db path> [max steps]');
const maxSteps = Number(process.argv[3] ?? 10_000);
const store = openStore(path);
const { runId, promptId } = seedRun(store, 'crash test');
console.log(`run ${runId}`);
for (let step = 0; step < maxSteps; step++) {
  const groupId = store.transaction(() => {
    const { groupId } = store.groups.insert(groupInput(runId, promptId, step, [0, 0.25, 0.5, 0.75, 1, 0.5, 0.25, 0]));
    store.metrics.log(runId, step, { reward_mean: step, kl: 0.01 * step });
    store.log.append(runId, 'info', `step ${step}`);
    return groupId;
  });
  console.log(`committed ${step} ${groupId}`);
}
