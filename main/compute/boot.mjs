// Worker bootstrap when running from TypeScript sources (CLI, tests): worker threads do not
// inherit tsx's loader, so register it here before importing the real entry.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
