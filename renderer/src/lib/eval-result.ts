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
    : isRecord(result.tasks)
      ? Object.entries(result.tasks)
      : [];
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
  const overall =
    typeof result.overall === 'number'
      ? result.overall
      : isRecord(result.overall) && typeof result.overall.score === 'number'
        ? result.overall.score
        : null;
  const numeric = columns.filter((column) =>
    rows.every((row) => row.cells[column] === undefined || /^-?\d+(\.\d+)?$/.test(row.cells[column])),
  );
  return { overall, columns, numeric, rows };
}

export interface ComparisonRow {
  task: string;
  accuracy: number | null;
  baseline: number | null;
  /** accuracy - baseline, when both are known. */
  delta: number | null;
}

/** Per-task accuracy from a stored summary (tasks as a list or a map; a bare number counts as the accuracy). */
export function taskAccuracies(summary: unknown): Map<string, number> {
  const table = toResultTable(summary);
  const out = new Map<string, number>();
  for (const row of table?.rows ?? []) {
    const value = Number(row.cells.accuracy ?? row.cells.score);
    if (Number.isFinite(value) && row.cells.skipped === undefined) out.set(row.task, value);
  }
  return out;
}

/** The per-task table of an evaluation beside a baseline's: every task either has, in the evaluation's order. */
export function compareTasks(summary: unknown, baseline: unknown): ComparisonRow[] {
  const own = taskAccuracies(summary);
  const base = taskAccuracies(baseline);
  const tasks = [...own.keys(), ...[...base.keys()].filter((t) => !own.has(t))];
  return tasks.map((task) => {
    const accuracy = own.get(task) ?? null;
    const reference = base.get(task) ?? null;
    return { task, accuracy, baseline: reference, delta: accuracy !== null && reference !== null ? accuracy - reference : null };
  });
}
