import type { JsonValue } from '../../../contract/domain.ts';

/** A plain JSON copy of a prompt's spec, stored with the prompt for the screens. */
export const json = (value: unknown) => JSON.parse(JSON.stringify(value)) as JsonValue;
