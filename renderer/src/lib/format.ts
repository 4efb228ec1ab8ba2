// Number and time formatting shared by the pages.
import type { Scenario } from '../../../contract/domain.ts';

export function fixed(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

/** A difference with its sign: +0.250, −0.125, 0.000. */
export function signed(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const text = Math.abs(value).toFixed(digits);
  if (Number(text) === 0) return text;
  return `${value > 0 ? '+' : '−'}${text}`;
}

export function percent(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${(value * 100).toFixed(digits)}%`;
}

export function dateTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
}

export const SCENARIO_LABELS: Record<Scenario, string> = {
  t2i: 'Text-to-image',
  cot: 'CoT text-to-image',
  text: 'Text reasoning',
  vqa: 'Multimodal reasoning',
  edit: 'Cycle Edit RL',
  reflect: 'Reflection RL',
};
