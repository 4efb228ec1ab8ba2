// One async value with its loading and error state. Only the latest load wins, so a slow answer
// for a previous selection never overwrites the current one.
import { errorMessage } from './api.ts';

export class Resource<T> {
  value = $state.raw<T | undefined>(undefined);
  error = $state<string | null>(null);
  loading = $state(false);
  private generation = 0;

  async load(fetch: () => Promise<T>): Promise<void> {
    const generation = ++this.generation;
    this.loading = true;
    try {
      const value = await fetch();
      if (generation !== this.generation) return;
      this.value = value;
      this.error = null;
    } catch (err) {
      if (generation !== this.generation) return;
      this.error = errorMessage(err);
    } finally {
      if (generation === this.generation) this.loading = false;
    }
  }

  /** Forget the value (e.g. when the selection it belonged to goes away). */
  reset(): void {
    this.generation++;
    this.value = undefined;
    this.error = null;
    this.loading = false;
  }
}
