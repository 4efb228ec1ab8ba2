// Entry point of the compute worker thread: runs one job at a time per message, reports
// progress, and honours cancellation through a shared flag (works even while a job never yields).
import { parentPort } from 'node:worker_threads';
import { jobBodies } from './jobs.ts';
import { JobCancelled, type JobContext } from './job-context.ts';
import { CANCEL, type FromWorker, type JobKind, type ToWorker } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('main/compute/worker.ts must run in a worker thread');

function send(message: FromWorker): void {
  port!.postMessage(message);
}

port.on('message', async (message: ToWorker) => {
  if (message.type !== 'start') return;
  const { jobId, kind, params } = message;
  const cancelFlag = new Int32Array(message.cancelFlag);
  const body = jobBodies[kind as JobKind] as (p: unknown, ctx: unknown) => Promise<unknown>;
  if (!body) {
    send({ type: 'failed', jobId, error: `unknown job kind "${kind}"`, cancelled: false });
    return;
  }
  let lastProgressAt = 0;
  const ctx: JobContext = {
    progress(progress) {
      // Throttle to ~20 messages/s so a fast loop cannot flood the main thread.
      const now = performance.now();
      if (now - lastProgressAt < 50 && progress.done < progress.total) return;
      lastProgressAt = now;
      send({ type: 'progress', jobId, progress });
    },
    checkCancelled() {
      if (Atomics.load(cancelFlag, 0) !== CANCEL.none) throw new JobCancelled();
    },
    cancelMode() {
      const flag = Atomics.load(cancelFlag, 0);
      return flag === CANCEL.pause ? 'pause' : flag === CANCEL.stop ? 'stop' : null;
    },
    emit(name, payload) {
      send({ type: 'event', jobId, name, payload });
    },
  };
  try {
    const result = await body(params, ctx);
    send({ type: 'done', jobId, result });
  } catch (err) {
    const cancelled = err instanceof JobCancelled;
    send({ type: 'failed', jobId, error: err instanceof Error ? err.message : String(err), cancelled });
  }
});
