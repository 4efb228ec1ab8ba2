import * as ort from 'onnxruntime-node';

/** Execution providers a user may ask for. Only 'cpu' is guaranteed; the others fall back to it. */
export const PROVIDERS = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** Which provider a session asked for, which one it runs on, and why they differ. */
export interface ProviderReport {
  requested: ProviderName;
  used: ProviderName;
  /** Set when `used !== requested`: the error that made the requested provider unusable. */
  reason?: string;
}

export interface ProviderInfo {
  name: string;
  /** Shipped inside onnxruntime-node; unbundled ones (cuda) need an extra install and may still fail to load. */
  bundled: boolean;
}

/** Backends this onnxruntime-node build knows about. Listed does not mean loadable (see ProviderReport). */
export function availableProviders(): ProviderInfo[] {
  return ort.listSupportedBackends().map(({ name, bundled }) => ({ name, bundled }));
}

export function assertProviderName(name: string): asserts name is ProviderName {
  if (!(PROVIDERS as readonly string[]).includes(name)) {
    throw new Error(`unknown execution provider '${name}' (expected one of: ${PROVIDERS.join(', ')})`);
  }
}
