// Turns whatever an evaluation job returned into a table, without trusting its shape: the
// world's eval reports `overall` and per-task results (as a list or a map); anything else is shown as JSON.

export interface ResultTable {
  overall: number | null;
  columns: string[];
  /** Columns whose every cell is a number (right-aligned). */
  numeric: string[];
  rows: { task: string; cells: Record<string, string> }[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function cell(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(3);
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? '';
}

/** null when the result has no per-task results to tabulate. */
export function toResultTable(result: unknown): ResultTable | null {
  if (!isRecord(result)) return null;
  const entries: [string, unknown][] = Array.isArray(result.tasks)
    ? result.tasks.map((t, i) => [isRecord(t) && typeof (t.task ?? t.name) === 'string' ? String(t.task ?? t.name) : `#${i + 1}`, t])
    : isRecord(result.tasks) ? Object.entries(result.tasks) : [];
  if (entries.length === 0) return null;
  const columns: string[] = [];
  const rows = entries.map(([task, value]) => {
    const fields = isRecord(value) ? value : { score: value };
    const cells: Record<string, string> = {};
    for (const [key, v] of Object.entries(fields)) {
      if (key === 'task' || key === 'name' || isRecord(v) || Array.isArray(v)) continue;
      if (!columns.includes(key)) columns.push(key);
      cells[key] = cell(v);
    }
    return { task, cells };
  });
  const overall = typeof result.overall === 'number' ? result.overall
    : isRecord(result.overall) && typeof result.overall.score === 'number' ? result.overall.score : null;
  const numeric = columns.filter((column) => rows.every((row) => row.cells[column] === undefined || /^-?\d+(\.\d+)?$/.test(row.cells[column]!)));
  return { overall, columns, numeric, rows };
}
