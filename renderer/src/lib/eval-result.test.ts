import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toResultTable } from './eval-result.ts';

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
