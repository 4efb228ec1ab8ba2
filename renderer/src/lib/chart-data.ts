// Pure helpers for the dashboard: which metrics share a chart, and series aligned on one step axis
// (uPlot wants columnar data: x values, then one y array per line, null where a line has no point).
import type { MetricSeries } from '../../../contract/domain.ts';

/** One line of a chart: a run's metric (the compared run's lines are dashed). */
export interface ChartLine {
  label: string;
  steps: number[];
  values: number[];
  color: string;
  dashed?: boolean;
}

export interface ChartGroup {
  title: string;
  names: string[];
}

// Order = the order charts appear in; the first rule a name matches wins (REFERENCE §3's metrics first).
const RULES: { title: string; test: RegExp }[] = [
  { title: 'Reward per component', test: /^rewards?([/_.]|$)/i },
  { title: "Human rewards' share of the update", test: /^human\/reward_share$/ },
  { title: 'Groups with zero reward std', test: /zero_std/i },
  { title: 'KL', test: /(^|[/_.])(approx_)?kl([/_.]|$)/i },
  { title: 'Clip fraction', test: /clip/i },
  { title: 'Losses', test: /loss/i },
  { title: 'Entropy', test: /entropy/i },
  { title: 'Evaluation score', test: /^eval([/_.]|$)/i },
  { title: 'Learning rate', test: /(^|[/_.])(lr|learning_rate)([/_.]|$)/i },
  { title: 'Gradient norm', test: /grad/i },
  { title: 'Lengths', test: /len/i },
];

/** Groups metric names into charts; names no rule knows share a chart per prefix (before the first '/'). */
export function chartGroups(names: readonly string[]): ChartGroup[] {
  const groups = new Map<string, string[]>();
  for (const name of [...names].sort()) {
    const rule = RULES.find((r) => r.test.test(name));
    const title = rule?.title ?? (name.includes('/') ? name.slice(0, name.indexOf('/')) : name);
    const list = groups.get(title);
    if (list) list.push(name);
    else groups.set(title, [name]);
  }
  const rank = (title: string) => {
    const i = RULES.findIndex((r) => r.title === title);
    return i < 0 ? RULES.length : i;
  };
  return [...groups].map(([title, list]) => ({ title, names: list })).sort((a, b) => rank(a.title) - rank(b.title) || a.title.localeCompare(b.title));
}

/** [steps, ...one array per series] on the union of their steps, ascending; null where a series has no value. */
export function alignSeries(series: readonly Pick<MetricSeries, 'steps' | 'values'>[]): [number[], ...(number | null)[][]] {
  const steps = [...new Set(series.flatMap((s) => s.steps))].sort((a, b) => a - b);
  const position = new Map(steps.map((step, i) => [step, i]));
  const columns = series.map((s) => {
    const column: (number | null)[] = new Array(steps.length).fill(null);
    s.steps.forEach((step, i) => {
      const value = s.values[i]!;
      column[position.get(step)!] = Number.isFinite(value) ? value : null;
    });
    return column;
  });
  return [steps, ...columns];
}

/** Appends one step's value to a series (replacing it when the step was logged again), keeping steps ascending. */
export function appendPoint(series: MetricSeries, step: number, value: number): MetricSeries {
  const last = series.steps[series.steps.length - 1];
  if (last === undefined || step > last) return { ...series, steps: [...series.steps, step], values: [...series.values, value] };
  const steps = [...series.steps];
  const values = [...series.values];
  const at = steps.findIndex((s) => s >= step);
  if (steps[at] === step) values[at] = value;
  else {
    steps.splice(at, 0, step);
    values.splice(at, 0, value);
  }
  return { ...series, steps, values };
}
