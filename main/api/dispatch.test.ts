import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../contract/rpc.ts';
import { createDispatch, type Handlers } from './dispatch.ts';

/** Handlers that record what reached them; every call not under test fails loudly. */
function recordingHandlers(calls: string[]): Handlers {
  return new Proxy({} as Handlers, {
    get: (_target, name: string) => (args: unknown) => {
      calls.push(`${name} ${JSON.stringify(args)}`);
      if (name === 'runs.get') throw new Error('disk on fire');
      return { ok: true };
    },
  });
}

test('a valid call reaches its handler with the parsed input', async () => {
  const seen: string[] = [];
  const dispatch = createDispatch(recordingHandlers(seen));
  assert.deepEqual(await dispatch('runs.create', { name: '  first  ', scenario: 't2i' }), { ok: true });
  assert.deepEqual(seen, ['runs.create {"name":"first","scenario":"t2i"}']);
});

test('a bad field is rejected naming the call and the field, and no handler runs', async () => {
  const seen: string[] = [];
  const dispatch = createDispatch(recordingHandlers(seen));
  await assert.rejects(dispatch('runs.get', { runId: 'x' }), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.info.call, 'runs.get');
    assert.equal(err.info.field, 'runId');
    assert.equal(err.info.code, 'invalid_argument');
    assert.match(err.message, /invalid argument for "runs.get": field "runId"/);
    return true;
  });
  await assert.rejects(dispatch('ranking.submit', { groupId: 1, annotator: 'a', durationMs: 3 }), /field "ranks"/);
  await assert.rejects(
    dispatch('settings.set', { theme: 'dark', colour: 'red' }),
    (err: unknown) => err instanceof ApiError && err.info.field === 'colour' && /unknown field/.test(err.message),
  );
  await assert.rejects(dispatch('groups.list', { runId: 1, limit: 10_000 }), /field "limit"/);
  assert.deepEqual(seen, []);
});

test('unknown calls and handler failures become ApiErrors', async () => {
  const dispatch = createDispatch(recordingHandlers([]));
  await assert.rejects(
    dispatch('runs.delete-everything', {}),
    (err: unknown) =>
      err instanceof ApiError && err.info.code === 'unknown_call' && /unknown call "runs.delete-everything"/.test(err.message),
  );
  await assert.rejects(
    dispatch('runs.get', { runId: 3 }),
    (err: unknown) => err instanceof ApiError && err.info.code === 'internal' && /"runs.get" failed: disk on fire/.test(err.message),
  );
});
