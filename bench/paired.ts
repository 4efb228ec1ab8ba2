/**
 * Paired comparison of two evaluations of the same suite and seeds (`unirl eval ... --jsonl`): the accuracy
 * of each, their difference, and the difference's standard error clustered by item (the samples of one item
 * share its prompt, so they are not independent).
 *
 *   node --import tsx bench/paired.ts before.jsonl after.jsonl [FIELD]
 * FIELD: the boolean compared, a dotted path into each row (default `correct`; e.g. `reflection.firstCorrect`
 * for the refine suite's single-shot images).
 */
import { readFileSync } from 'node:fs';

interface Row { item: string; sample: number; seed: number; [field: string]: unknown }

const read = (path: string): Map<string, Row> =>
  new Map(readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => {
    const r = JSON.parse(line) as Row;
    return [`${r.item}#${r.sample}`, r];
  }));

const [beforePath, afterPath, field = 'correct'] = process.argv.slice(2);
if (!beforePath || !afterPath) throw new Error('usage: bench/paired.ts before.jsonl after.jsonl [FIELD]');
const value = (r: Row): number => {
  const v = field.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], r);
  if (typeof v !== 'boolean') throw new Error(`${r.item}#${r.sample}: '${field}' is ${JSON.stringify(v)}, not true or false`);
  return Number(v);
};
const before = read(beforePath);
const after = read(afterPath);
const perItem = new Map<string, number[]>();
for (const [key, b] of before) {
  const a = after.get(key);
  if (!a) throw new Error(`${afterPath} has no ${key}`);
  if (a.seed !== b.seed) throw new Error(`${key}: seeds differ (${b.seed} vs ${a.seed}): not the same evaluation`);
  perItem.set(b.item, [...(perItem.get(b.item) ?? []), value(a) - value(b)]);
}
const n = before.size;
const items = [...perItem.values()].map((d) => d.reduce((s, x) => s + x, 0));
const diff = items.reduce((s, x) => s + x, 0) / n;
// Cluster-robust SE of a mean: sqrt(sum over items of (sum_i d - n_i·mean)^2) / n.
const se = Math.sqrt([...perItem.values()].reduce((s, d) => s + (d.reduce((a, x) => a + x, 0) - d.length * diff) ** 2, 0)) / n;
const accuracy = (rows: Map<string, Row>) => [...rows.values()].reduce((s, r) => s + value(r), 0) / rows.size;
console.log(JSON.stringify({ field, samples: n, items: perItem.size, before: accuracy(before), after: accuracy(after), difference: diff, standard_error: se }));
