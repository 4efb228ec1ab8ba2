// Cycle-edit records: source -> instruction -> edited member -> inverse instruction -> reconstruction, with scores.
import type { Edit, EditMark } from '../../contract/domain.ts';
import { invalid, notFound, requireFiniteNumber, requireText } from '../errors.ts';
import { encodePng } from '../png.ts';
import type { RgbImage } from '../png.ts';
import type { EditMarkRow, EditRow } from '../rows.ts';
import type { RepoContext } from './context.ts';
import { groupBy, markedGroups, markMeans, placeholders, saveMark, type MarkedGroups, type MarkTable } from './context.ts';

const EDIT_MARKS: MarkTable = { table: 'edit_marks', target: { table: 'edits', column: 'edit_id', what: 'edit' }, valueColumn: 'followed' };

export interface EditInput {
  editedSampleId: number;
  /** Exactly one of: a stored sample, or the rendered source scene. */
  sourceSampleId?: number;
  sourceImage?: RgbImage;
  instruction: string;
  inverseInstruction: string;
  reconstructionSampleId?: number | null;
  compliance?: number | null;
  preservation?: number | null;
  cycleScore?: number | null;
}

const COLUMNS = `id, edited_sample_id, source_sample_id, source_png IS NOT NULL AS has_source_png, instruction, inverse_instruction,
  reconstruction_sample_id, compliance, preservation, cycle_score`;

type EditMetaRow = Omit<EditRow, 'source_png'> & { has_source_png: 0 | 1 };

function toEdit(row: EditMetaRow, marks: EditMark[]): Edit {
  return {
    id: row.id,
    editedSampleId: row.edited_sample_id,
    sourceSampleId: row.source_sample_id,
    hasSourceImage: row.has_source_png === 1,
    instruction: row.instruction,
    inverseInstruction: row.inverse_instruction,
    reconstructionSampleId: row.reconstruction_sample_id,
    compliance: row.compliance,
    preservation: row.preservation,
    cycleScore: row.cycle_score,
    marks,
  };
}

export class EditsRepo {
  constructor(private readonly ctx: RepoContext) {}

  insert(input: EditInput): Edit {
    requireText('instruction', input.instruction);
    requireText('inverseInstruction', input.inverseInstruction);
    if ((input.sourceSampleId === undefined) === (input.sourceImage === undefined)) {
      throw invalid('sourceSampleId', 'give exactly one of sourceSampleId and sourceImage');
    }
    for (const key of ['compliance', 'preservation', 'cycleScore'] as const) {
      if (input[key] != null) requireFiniteNumber(key, input[key]);
    }
    const sourcePng = input.sourceImage ? encodePng(input.sourceImage.rgb, input.sourceImage.width, input.sourceImage.height) : null;
    return this.ctx.db.transaction(() => {
      const edited = this.ctx.db.prepare(`SELECT group_id FROM samples WHERE id = ? AND role = 'member'`).get(input.editedSampleId) as
        | { group_id: number }
        | undefined;
      if (!edited) throw invalid('editedSampleId', `sample ${input.editedSampleId} is not a group member`);
      if (input.sourceSampleId !== undefined && !this.ctx.db.prepare('SELECT 1 FROM samples WHERE id = ?').get(input.sourceSampleId)) {
        throw invalid('sourceSampleId', `sample ${input.sourceSampleId} does not exist`);
      }
      if (input.reconstructionSampleId != null) {
        const recon = this.ctx.db.prepare('SELECT parent_sample_id FROM samples WHERE id = ?').get(input.reconstructionSampleId) as
          | { parent_sample_id: number | null }
          | undefined;
        if (recon?.parent_sample_id !== input.editedSampleId) {
          throw invalid(
            'reconstructionSampleId',
            `sample ${input.reconstructionSampleId} is not derived from edited sample ${input.editedSampleId}`,
          );
        }
      }
      const { lastInsertRowid } = this.ctx.db
        .prepare(
          `INSERT INTO edits (edited_sample_id, source_sample_id, source_png, instruction, inverse_instruction,
           reconstruction_sample_id, compliance, preservation, cycle_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          input.editedSampleId,
          input.sourceSampleId ?? null,
          sourcePng,
          input.instruction,
          input.inverseInstruction,
          input.reconstructionSampleId ?? null,
          input.compliance ?? null,
          input.preservation ?? null,
          input.cycleScore ?? null,
        );
      return this.get(Number(lastInsertRowid));
    })();
  }

  get(id: number): Edit {
    const row = this.ctx.db.prepare(`SELECT ${COLUMNS} FROM edits WHERE id = ?`).get(id) as EditMetaRow | undefined;
    if (!row) throw notFound('edit', id);
    return this.withMarks([row])[0]!;
  }

  forSample(editedSampleId: number): Edit | null {
    const row = this.ctx.db.prepare(`SELECT ${COLUMNS} FROM edits WHERE edited_sample_id = ?`).get(editedSampleId) as
      | EditMetaRow
      | undefined;
    return row ? this.withMarks([row])[0]! : null;
  }

  /** The edits of a group's members, by member index (members are inserted in index order). */
  forGroup(groupId: number): Edit[] {
    return this.withMarks(
      this.ctx.db
        .prepare(
          `SELECT ${COLUMNS} FROM edits
       WHERE edited_sample_id IN (SELECT id FROM samples WHERE group_id = ? AND role = 'member') ORDER BY edited_sample_id`,
        )
        .all(groupId) as EditMetaRow[],
    );
  }

  /** A person marks whether the edit followed its instruction (again: replaces their earlier mark). */
  mark(editId: number, annotator: string, followed: boolean): void {
    saveMark(this.ctx, EDIT_MARKS, editId, annotator, followed);
  }

  /** Per member sample of the group: the mean of its edit's marks, +1 followed / -1 not (the editMark reward). */
  markMeans(groupId: number): Map<number, number> {
    return markMeans(
      this.ctx.db
        .prepare(
          `SELECT e.edited_sample_id AS sample_id, avg(CASE m.followed WHEN 1 THEN 1.0 ELSE -1.0 END) AS mean
       FROM edit_marks m JOIN edits e ON e.id = m.edit_id JOIN samples s ON s.id = e.edited_sample_id
       WHERE s.group_id = ? GROUP BY e.edited_sample_id`,
        )
        .all(groupId),
    );
  }

  /** Groups of a run with an edit mark made or changed at or after `since` (ms), and the latest mark's time. */
  markedSince(runId: number, since: number): MarkedGroups {
    return markedGroups(
      this.ctx.db
        .prepare(
          `SELECT s.group_id AS group_id, max(m.created_at) AS latest
       FROM edit_marks m JOIN edits e ON e.id = m.edit_id JOIN samples s ON s.id = e.edited_sample_id
       JOIN rollout_groups g ON g.id = s.group_id
       WHERE g.run_id = ? AND m.created_at >= ? GROUP BY s.group_id`,
        )
        .all(runId, since),
      since,
    );
  }

  private withMarks(rows: EditMetaRow[]): Edit[] {
    if (rows.length === 0) return [];
    const marks = this.ctx.db
      .prepare(`SELECT * FROM edit_marks WHERE edit_id IN (${placeholders(rows.length)}) ORDER BY created_at`)
      .all(...rows.map((r) => r.id)) as EditMarkRow[];
    const byEdit = groupBy(
      marks,
      (m) => m.edit_id,
      (m): EditMark => ({ annotator: m.annotator, followed: m.followed === 1, createdAt: m.created_at }),
    );
    return rows.map((r) => toEdit(r, byEdit.get(r.id) ?? []));
  }

  /** The stored source scene as PNG bytes, or null when the source is a sample. */
  sourcePng(id: number): Buffer | null {
    const row = this.ctx.db.prepare('SELECT source_png FROM edits WHERE id = ?').get(id) as { source_png: Buffer | null } | undefined;
    if (!row) throw notFound('edit', id);
    return row.source_png;
  }
}
