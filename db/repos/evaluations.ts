// Evaluations: a suite scored on a checkpoint, its per-image results (failures first) and its summary.
import type { EvalResult, EvalResultQuery, Evaluation, JsonObject, Page } from '../../contract/domain.ts';
import { invalid, notFound, requireFiniteNumber, requireInteger, requireText, StoreError, toJson } from '../errors.ts';
import { encodePng } from '../png.ts';
import type { RgbImage } from '../png.ts';
import type { EvalResultRow, EvaluationRow } from '../rows.ts';
import type { RepoContext } from './context.ts';
import { pageBounds } from './context.ts';

export interface EvaluationInput {
  runId?: number | null;
  /** null or absent = the shipped base weights. */
  checkpointPath?: string | null;
  suite: string;
}

/** A scored image to record: the stored result's fields, plus the image itself instead of `hasImage`. */
export type EvalResultInput = Omit<EvalResult, 'id' | 'evaluationId' | 'hasImage'> & { image?: RgbImage | null };

type EvalResultMetaRow = Omit<EvalResultRow, 'image_png'> & { has_image: 0 | 1 };
const RESULT_COLUMNS = 'id, evaluation_id, task, prompt, image_index, correct, reward, reason, image_png IS NOT NULL AS has_image';

function toEvaluation(row: EvaluationRow): Evaluation {
  return {
    id: row.id,
    runId: row.run_id,
    checkpointPath: row.checkpoint_path,
    suite: row.suite,
    status: row.status,
    summary: row.summary === null ? null : (JSON.parse(row.summary) as JsonObject),
    error: row.error,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

function toResult(row: EvalResultMetaRow): EvalResult {
  return {
    id: row.id,
    evaluationId: row.evaluation_id,
    task: row.task,
    prompt: row.prompt,
    imageIndex: row.image_index,
    correct: row.correct === 1,
    reward: row.reward,
    reason: row.reason,
    hasImage: row.has_image === 1,
  };
}

export class EvaluationsRepo {
  constructor(private readonly ctx: RepoContext) {}

  start(input: EvaluationInput): Evaluation {
    requireText('suite', input.suite);
    if (input.checkpointPath != null) requireText('checkpointPath', input.checkpointPath);
    if (input.runId != null && !this.ctx.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(input.runId)) throw notFound('run', input.runId);
    const row = this.ctx.db
      .prepare(`INSERT INTO evaluations (run_id, checkpoint_path, suite, status, created_at) VALUES (?, ?, ?, 'running', ?) RETURNING *`)
      .get(input.runId ?? null, input.checkpointPath ?? null, input.suite, this.ctx.now()) as EvaluationRow;
    return toEvaluation(row);
  }

  /** Appends scored images (one transaction per call); the evaluation must still be running. */
  addResults(evaluationId: number, results: EvalResultInput[]): void {
    results.forEach((r, i) => {
      requireText(`results[${i}].task`, r.task);
      if (typeof r.prompt !== 'string') throw invalid(`results[${i}].prompt`, 'must be a string');
      requireInteger(`results[${i}].imageIndex`, r.imageIndex, 0);
      if (typeof r.correct !== 'boolean') throw invalid(`results[${i}].correct`, 'must be a boolean');
      requireFiniteNumber(`results[${i}].reward`, r.reward);
      if (typeof r.reason !== 'string') throw invalid(`results[${i}].reason`, 'must be a string');
    });
    const pngs = results.map((r) => (r.image ? encodePng(r.image.rgb, r.image.width, r.image.height) : null));
    const insert = this.ctx.db.prepare(
      'INSERT INTO eval_results (evaluation_id, task, prompt, image_index, correct, reward, reason, image_png) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.ctx.db.transaction(() => {
      this.requireRunning(evaluationId);
      results.forEach((r, i) => insert.run(evaluationId, r.task, r.prompt, r.imageIndex, r.correct ? 1 : 0, r.reward, r.reason, pngs[i]));
    })();
  }

  complete(evaluationId: number, summary: JsonObject): Evaluation {
    return this.finish(evaluationId, 'completed', toJson('summary', summary), null);
  }

  fail(evaluationId: number, error: string): Evaluation {
    return this.finish(evaluationId, 'failed', null, error);
  }

  private finish(id: number, status: 'completed' | 'failed', summary: string | null, error: string | null): Evaluation {
    return this.ctx.db.transaction(() => {
      this.requireRunning(id);
      this.ctx.db
        .prepare('UPDATE evaluations SET status = ?, summary = ?, error = ?, finished_at = ? WHERE id = ?')
        .run(status, summary, error, this.ctx.now(), id);
      return this.get(id);
    })();
  }

  private requireRunning(id: number): void {
    const evaluation = this.get(id);
    if (evaluation.status !== 'running') throw new StoreError('failed_precondition', `evaluation ${id} is already ${evaluation.status}`);
  }

  get(id: number): Evaluation {
    const row = this.ctx.db.prepare('SELECT * FROM evaluations WHERE id = ?').get(id) as EvaluationRow | undefined;
    if (!row) throw notFound('evaluation', id);
    return toEvaluation(row);
  }

  /** Newest first; of one run, or (runId null) of the base model and outside checkpoints, or all. */
  list(runId?: number | null): Evaluation[] {
    const rows =
      runId === undefined
        ? this.ctx.db.prepare('SELECT * FROM evaluations ORDER BY id DESC').all()
        : this.ctx.db
            .prepare(`SELECT * FROM evaluations WHERE run_id ${runId === null ? 'IS NULL' : '= ?'} ORDER BY id DESC`)
            .all(...(runId === null ? [] : [runId]));
    return (rows as EvaluationRow[]).map(toEvaluation);
  }

  results(query: EvalResultQuery): Page<EvalResult> {
    const { offset, limit } = pageBounds(query);
    const where = query.task === undefined ? 'evaluation_id = ?' : 'evaluation_id = ? AND task = ?';
    const params: (number | string)[] = query.task === undefined ? [query.evaluationId] : [query.evaluationId, query.task];
    const order = query.failuresFirst === false ? 'id' : 'correct, id';
    const items = (
      this.ctx.db
        .prepare(`SELECT ${RESULT_COLUMNS} FROM eval_results WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`)
        .all(...params, limit, offset) as EvalResultMetaRow[]
    ).map(toResult);
    const { total } = this.ctx.db.prepare(`SELECT count(*) AS total FROM eval_results WHERE ${where}`).get(...params) as { total: number };
    return { items, total, offset, limit };
  }

  resultPng(resultId: number): Buffer | null {
    const row = this.ctx.db.prepare('SELECT image_png FROM eval_results WHERE id = ?').get(resultId) as
      | { image_png: Buffer | null }
      | undefined;
    if (!row) throw notFound('evaluation result', resultId);
    return row.image_png;
  }
}
