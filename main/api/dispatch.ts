// Validates every incoming call against the contract's schema before any handler runs, so a bad
// call changes nothing and its error names the call and the field. Used by both transports.
import type { z } from 'zod';
import { calls, type CallArgs, type CallName, type CallOutput } from '../../contract/api.ts';
import { ApiError } from '../../contract/rpc.ts';
import { StoreError } from '../../db/errors.ts';

export type Handlers = { [K in CallName]: (args: CallArgs<K>) => Promise<CallOutput<K>> | CallOutput<K> };
export type Dispatch = (name: string, input: unknown) => Promise<unknown>;

function isCallName(name: string): name is CallName {
  return Object.hasOwn(calls, name);
}

function describeIssue(issue: z.core.$ZodIssue): { field: string; message: string } {
  const field = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.join(', ');
    return { field: field ? `${field}.${issue.keys[0]}` : issue.keys[0]!, message: `unknown field(s): ${keys}` };
  }
  return { field: field || '(input)', message: issue.message };
}

export function createDispatch(handlers: Handlers): Dispatch {
  return async (name, input) => {
    if (typeof name !== 'string' || !isCallName(name)) {
      throw new ApiError({ call: String(name), code: 'unknown_call', message: `unknown call "${String(name)}"` });
    }
    const parsed = calls[name].input.safeParse(input ?? {});
    if (!parsed.success) {
      const first = describeIssue(parsed.error.issues[0]!);
      throw new ApiError({
        call: name,
        code: 'invalid_argument',
        field: first.field,
        message: `invalid argument for "${name}": field "${first.field}": ${first.message}`,
      });
    }
    const handler = handlers[name] as (args: unknown) => Promise<unknown>;
    try {
      return await handler(parsed.data);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (err instanceof StoreError)
        throw new ApiError({ call: name, code: err.code, field: err.field, message: `"${name}": ${err.message}` });
      throw new ApiError({
        call: name,
        code: 'internal',
        message: `"${name}" failed: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  };
}

/** Errors handlers raise on purpose, with the right code. */
export function notFound(call: CallName, what: string): ApiError {
  return new ApiError({ call, code: 'not_found', message: `${what} not found` });
}

export function failedPrecondition(call: CallName, message: string): ApiError {
  return new ApiError({ call, code: 'failed_precondition', message });
}
