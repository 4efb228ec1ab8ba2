import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareTasks, toResultTable } from './eval-result.ts';

test('a map of tasks becomes rows with the union of their scalar fields as columns', () => {
  const table = toResultTable({
    overall: 0.5,
    tasks: { counting: { accuracy: 0.25, images: 8 }, colors: { accuracy: 0.75, images: 8, failures: [1] } },
  });
  assert.deepEqual(table, {
    overall: 0.5,
    columns: ['accuracy', 'images'],
    numeric: ['accuracy', 'images'],
    rows: [
      { task: 'counting', cells: { accuracy: '0.250', images: '8' } },
      { task: 'colors', cells: { accuracy: '0.750', images: '8' } },
    ],
  });
});

test('a list of tasks is named by its task field; bare numbers become a score column', () => {
  assert.deepEqual(toResultTable({ tasks: [{ task: 'position', accuracy: 1 }] })?.rows, [{ task: 'position', cells: { accuracy: '1' } }]);
  assert.deepEqual(toResultTable({ tasks: { single: 0.9 } })?.columns, ['score']);
  assert.deepEqual(toResultTable({ tasks: { a: { kind: 'text_to_image', n: 2 } } })?.numeric, ['n']);
});

test('results without tasks are not tabulated', () => {
  assert.equal(toResultTable(null), null);
  assert.equal(toResultTable({ overall: 0.3 }), null);
  assert.equal(toResultTable([1, 2]), null);
});

test('an evaluation is compared with a baseline task by task; skipped tasks and missing ones stay empty', () => {
  const rows = compareTasks(
    {
      tasks: [
        { task: 'counting', accuracy: 0.5 },
        { task: 'colors', accuracy: 1 },
        { task: 'edit', accuracy: 0, skipped: 'no edit' },
      ],
    },
    { tasks: { counting: { accuracy: 0.25 }, position: { accuracy: 0.75 } } },
  );
  assert.deepEqual(rows, [
    { task: 'counting', accuracy: 0.5, baseline: 0.25, delta: 0.25 },
    { task: 'colors', accuracy: 1, baseline: null, delta: null },
    { task: 'position', accuracy: null, baseline: 0.75, delta: null },
  ]);
  assert.deepEqual(compareTasks(null, null), []);
});
