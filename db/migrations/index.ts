// The ordered registry of schema migrations. Append new ones; never edit or reorder a shipped one.
import type { Migration } from '../migrate.ts';
import { migration0001 } from './0001_initial.ts';
import { migration0002 } from './0002_human_feedback.ts';
import { migration0003 } from './0003_evaluations.ts';
import { migration0004 } from './0004_discarded_steps.ts';
import { migration0005 } from './0005_storage.ts';
import { migration0006 } from './0006_human_queue.ts';
import { migration0007 } from './0007_queue_order.ts';

export const MIGRATIONS: readonly Migration[] = [
  migration0001,
  migration0002,
  migration0003,
  migration0004,
  migration0005,
  migration0006,
  migration0007,
];
