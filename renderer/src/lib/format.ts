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

/** Bytes in the largest unit that keeps a number >= 1 (kB, MB, GB; powers of 1000). */
export function bytes(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = value;
  let u = 0;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
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
