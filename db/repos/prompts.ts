// Prompts of a run; the same prompt text and task is stored once and shared by the groups that use it.
import type { JsonValue, Prompt } from '../../contract/domain.ts';
import { notFound, requireText, toJson } from '../errors.ts';
import type { PromptRow } from '../rows.ts';
import { cachedStatement, type RepoContext } from './context.ts';

export interface PromptInput {
  text: string;
  task: string;
  spec?: JsonValue;
}

function toPrompt(row: PromptRow): Prompt {
  return { id: row.id, runId: row.run_id, text: row.text, task: row.task, spec: JSON.parse(row.spec) as JsonValue };
}

export class PromptsRepo {
  constructor(private readonly ctx: RepoContext) {}

  /** The run's prompt with this task and text, created on first use (its spec is kept from then). */
  ensure(runId: number, input: PromptInput): Prompt {
    requireText('text', input.text);
    requireText('task', input.task);
    const row = cachedStatement(
      this.ctx.db,
      `INSERT INTO prompts (run_id, text, task, spec) VALUES (?, ?, ?, ?)
       ON CONFLICT (run_id, task, text) DO UPDATE SET id = id RETURNING *`,
    ).get(runId, input.text, input.task, toJson('spec', input.spec ?? null)) as PromptRow;
    return toPrompt(row);
  }

  /** Every prompt of a run, in the order first used. */
  forRun(runId: number): Prompt[] {
    return (this.ctx.db.prepare('SELECT * FROM prompts WHERE run_id = ? ORDER BY id').all(runId) as PromptRow[]).map(toPrompt);
  }

  get(id: number): Prompt {
    const row = this.ctx.db.prepare('SELECT * FROM prompts WHERE id = ?').get(id) as PromptRow | undefined;
    if (!row) throw notFound('prompt', id);
    return toPrompt(row);
  }
}
