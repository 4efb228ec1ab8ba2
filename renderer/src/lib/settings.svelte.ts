// Settings and app info, kept in sync with the main process through `settings.changed`.
import type { AppInfo, CallInput, Settings } from '../../../contract/api.ts';
import { errorMessage, type RendererApi } from './api.ts';

type Theme = Settings['theme'];
const THEME_KEY = 'unirl.theme';

/** The theme remembered from the last visit, so the first paint does not flash the wrong one. */
export function rememberedTheme(): Theme {
  const value = localStorage.getItem(THEME_KEY);
  return value === 'light' || value === 'dark' ? value : 'system';
}

export function applyTheme(theme: Theme): void {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  localStorage.setItem(THEME_KEY, theme);
}

export class SettingsState {
  settings = $state.raw<Settings | null>(null);
  info = $state.raw<AppInfo | null>(null);
  error = $state<string | null>(null);
  saving = $state(false);
  theme: Theme = $derived(this.settings?.theme ?? rememberedTheme());

  constructor(private readonly api: RendererApi) {
    api.on('settings.changed', (settings) => {
      this.settings = settings;
    });
  }

  async load(): Promise<void> {
    try {
      const [settings, info] = await Promise.all([this.api.call('settings.get', {}), this.api.call('app.info', {})]);
      this.settings = settings;
      this.info = info;
      this.error = null;
    } catch (err) {
      this.error = errorMessage(err);
    }
  }

  async update(patch: CallInput<'settings.set'>): Promise<void> {
    this.saving = true;
    try {
      this.settings = await this.api.call('settings.set', patch);
      this.error = null;
    } catch (err) {
      this.error = errorMessage(err);
    } finally {
      this.saving = false;
    }
  }
}
