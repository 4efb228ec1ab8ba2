// Errors the store raises for bad input or missing rows; `code` matches the API's ApiErrorInfo codes.

export class StoreError extends Error {
  constructor(
    readonly code: 'invalid_argument' | 'not_found' | 'failed_precondition',
    message: string,
    /** Dotted path of the offending input field, for invalid_argument. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export function invalid(field: string, problem: string): StoreError {
  return new StoreError('invalid_argument', `${field}: ${problem}`, field);
}

export function notFound(what: string, id: number | string): StoreError {
  return new StoreError('not_found', `${what} ${id} not found`);
}

export function requireFiniteNumber(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(field, `must be a finite number, got ${String(value)}`);
  return value;
}

export function requireInteger(field: string, value: unknown, min = Number.MIN_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(field, `must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

export function requireText(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(field, 'must be a non-empty string');
  return value;
}

/** JSON.stringify that refuses what JSON cannot hold faithfully (undefined, functions, NaN...). */
export function toJson(field: string, value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw invalid(field, `holds a non-finite number (${v})`);
    if (typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol') throw invalid(field, `holds a ${typeof v}`);
    return v;
  });
  if (text === undefined) throw invalid(field, 'is not JSON');
  return text;
}
