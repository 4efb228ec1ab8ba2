// User settings, kept as a small JSON file in the data directory and written atomically.
// A malformed file is reported and replaced by defaults, after keeping a copy (nothing is lost).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { EXECUTION_PROVIDERS, type Settings } from '../contract/api.ts';

export const DEFAULT_SETTINGS: Settings = { annotator: 'me', theme: 'system', provider: 'cpu', threads: 0 };

const settingsSchema = z.object({
  annotator: z.string().min(1).max(64),
  theme: z.enum(['system', 'light', 'dark']),
  provider: z.enum(EXECUTION_PROVIDERS),
  threads: z.number().int().min(0).max(256),
});

export class SettingsFile {
  private current: Settings;
  readonly path: string;

  constructor(
    dataDir: string,
    private readonly warn: (message: string) => void = console.warn,
  ) {
    this.path = join(dataDir, 'settings.json');
    this.current = this.load();
  }

  get(): Settings {
    return { ...this.current };
  }

  update(patch: Partial<Settings>): Settings {
    const next = settingsSchema.parse({ ...this.current, ...patch });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`);
    renameSync(tmp, this.path);
    this.current = next;
    return this.get();
  }

  private load(): Settings {
    if (!existsSync(this.path)) return { ...DEFAULT_SETTINGS };
    try {
      return settingsSchema.parse({ ...DEFAULT_SETTINGS, ...JSON.parse(readFileSync(this.path, 'utf8')) });
    } catch (err) {
      const backup = `${this.path}.invalid-${Date.now()}`;
      renameSync(this.path, backup);
      this.warn(
        `settings: ${this.path} is malformed (${(err as Error).message.split('\n')[0]}); using defaults, kept the old file as ${backup}`,
      );
      return { ...DEFAULT_SETTINGS };
    }
  }
}
