// Trains the toy policy in a process of its own until it is killed (the SIGKILL recovery test).
// Usage: node --import tsx train-child.ts DATA_DIR
import { join } from 'node:path';
import { openStore } from '../../../db/store.ts';
import { train } from '../trainer.ts';
import { killTestConfig, redness, ToyPolicy, toyTasks } from './toy.ts';

const [dataDir] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: train-child.ts DATA_DIR');
const store = openStore(join(dataDir, 'unirl.sqlite'));
await train(
  {
    config: killTestConfig(1000),
    store,
    dataDir,
    policy: new ToyPolicy(),
    tasks: toyTasks,
    components: [redness],
    onStep: (s) => process.stdout.write(`step ${s.step}\n`),
  },
  { progress: () => {}, checkCancelled: () => {} },
);
