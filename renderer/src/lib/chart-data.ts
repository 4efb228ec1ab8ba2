// Pure helpers for the dashboard: which metrics share a chart, and series aligned on one step axis
// (uPlot wants columnar data: x values, then one y array per line, null where a line has no point).
import type { MetricSeries } from '../../../contract/domain.ts';

/** One line of a chart: a run's metric (each compared run's lines have their own dash pattern). */
export interface ChartLine {
  label: string;
  steps: number[];
  values: number[];
  color: string;
  dash?: number[];
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
  { title: 'Denoising steps trained per image', test: /^update\/dm_steps/ },
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
  return [...groups]
    .map(([title, list]) => ({ title, names: list }))
    .sort((a, b) => rank(a.title) - rank(b.title) || a.title.localeCompare(b.title));
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

/**
 * Labels for a value axis's ticks that tell them apart at any scale: fixed decimals as many as the tick
 * spacing needs, exponent notation for very small or large values (KL near 1e-8, a learning rate of
 * 3e-6), and never "-0".
 */
export function axisLabels(ticks: readonly number[]): string[] {
  const finite = ticks.filter(Number.isFinite);
  if (finite.length === 0) return ticks.map(String);
  const largest = Math.max(...finite.map(Math.abs));
  const gaps = finite
    .slice(1)
    .map((t, i) => Math.abs(t - finite[i]!))
    .filter((g) => g > 0);
  const spacing = gaps.length ? Math.min(...gaps) : largest;
  const clean = (label: string, value: number) => (value === 0 || Number(label) === 0 ? '0' : label);
  // Labels that read back as their ticks (to a hundredth of the spacing) and differ where the ticks do.
  const distinct = (labels: string[]) =>
    new Set(labels).size === new Set(finite).size && labels.every((label, i) => Math.abs(Number(label) - finite[i]!) <= spacing / 100);
  if (largest !== 0 && (largest < 1e-3 || largest >= 1e6)) {
    for (let digits = 0; digits <= 6; digits++) {
      const labels = ticks.map((t) => clean(t.toExponential(digits).replace('e+', 'e'), t));
      if (distinct(labels.filter((_, i) => Number.isFinite(ticks[i])))) return labels;
    }
  }
  const decimals = Math.min(12, Math.max(0, -Math.floor(Math.log10(spacing || 1))));
  for (let d = decimals; d <= 12; d++) {
    const labels = ticks.map((t) => clean(t.toFixed(d), t));
    if (distinct(labels.filter((_, i) => Number.isFinite(ticks[i])))) return labels;
  }
  return ticks.map((t) => clean(String(t), t));
}

/** The metrics worth a chart for a run: human-feedback counters only when the run takes human feedback. */
export function chartedMetrics(names: readonly string[], config: { human?: { mode?: unknown } }): string[] {
  const human = config.human?.mode !== undefined && config.human.mode !== 'off';
  return names.filter((name) => human || !/^human([/_.]|$)/.test(name));
}
