// Records what an `eval` job reported under its evaluation row: the summary (per-task accuracy,
// overall, the generator) and, when the job hands them over, the per-image results with their
// reasons and images (the Evaluation screen lists failures first).
import type { JsonObject } from '../../contract/domain.ts';
import type { EvalResultInput, Store } from '../../db/index.ts';
import type { RecordWithImage } from '../world/jobs.ts';

interface ReportedSuite {
  tasks: { task: string }[];
  overall: number;
  records?: RecordWithImage[];
}

function isSuiteReport(value: unknown): value is ReportedSuite {
  const report = value as ReportedSuite | null;
  return typeof report === 'object' && report !== null && Array.isArray(report.tasks) && typeof report.overall === 'number';
}

/** Completes the evaluation from the job's report (or fails it naming what the report lacked), and
 *  returns the summary without the per-image records, which are too big for an event. */
export function recordEvalReport(store: Store, evaluationId: number, generator: string, report: unknown): JsonObject | null {
  if (!isSuiteReport(report)) {
    store.evaluations.fail(evaluationId, 'the eval job returned no suite report (expected {tasks, overall})');
    return null;
  }
  const { records, ...summary } = report;
  if (records?.length) {
    store.evaluations.addResults(
      evaluationId,
      records.map(
        (r): EvalResultInput => ({
          task: r.task,
          prompt: r.input,
          imageIndex: r.sample,
          correct: r.correct,
          reward: r.reward,
          reason: r.reason,
          image: r.image ?? null,
        }),
      ),
    );
  }
  const completed = { ...(summary as JsonObject), generator };
  store.evaluations.complete(evaluationId, completed);
  return completed;
}
