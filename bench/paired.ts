/**
 * Paired comparison of two evaluations of the same suite and seeds (`unirl eval ... --jsonl`): the accuracy
 * of each, their difference, and the difference's standard error clustered by item (main/world/paired.ts).
 *
 *   node --import tsx bench/paired.ts before.jsonl after.jsonl [FIELD]
 * FIELD: the value compared, a dotted path into each row: a boolean (default `correct`; e.g.
 * `reflection.firstCorrect` for the refine suite's single-shot images) or a number (`criterion`, the hidden
 * criterion's value per image with `--criterion`).
 */
import { readFileSync } from 'node:fs';
import { pairedComparison } from '../main/world/paired.ts';

interface Row {
  item: string;
  sample: number;
  seed: number;
  [field: string]: unknown;
}

const read = (path: string): Map<string, Row> =>
  new Map(
    readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const r = JSON.parse(line) as Row;
        return [`${r.item}#${r.sample}`, r];
      }),
  );

const [beforePath, afterPath, field = 'correct'] = process.argv.slice(2);
if (!beforePath || !afterPath) throw new Error('usage: bench/paired.ts before.jsonl after.jsonl [FIELD]');
const value = (r: Row): number => {
  const v = field.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], r);
  if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return Number(v);
  throw new Error(`${r.item}#${r.sample}: '${field}' is ${JSON.stringify(v)}, not a boolean or a number`);
};
const before = read(beforePath);
const after = read(afterPath);
const pairs = [...before].map(([key, b]) => {
  const a = after.get(key);
  if (!a) throw new Error(`${afterPath} has no ${key}`);
  if (a.seed !== b.seed) throw new Error(`${key}: seeds differ (${b.seed} vs ${a.seed}): not the same evaluation`);
  return { item: b.item, before: value(b), after: value(a) };
});
const { samples, items, before: accuracyBefore, after: accuracyAfter, difference, standardError } = pairedComparison(pairs);
console.log(
  JSON.stringify({ field, samples, items, before: accuracyBefore, after: accuracyAfter, difference, standard_error: standardError }),
);
