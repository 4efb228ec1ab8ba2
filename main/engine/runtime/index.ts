export { availableProviders, PROVIDERS, type ProviderInfo, type ProviderName, type ProviderReport } from './providers.ts';
export {
  cachedSessionCount,
  createSession,
  EngineSession,
  type Feed,
  type FeedArray,
  type Outputs,
  type SessionOptions,
} from './session.ts';
export { DEFAULT_GROUP, elementCount, ParamStore, type Initializer, type Param, type ParamSpec } from './params.ts';
export { paramSpecsFromGraph } from './fromGraph.ts';
export { Rng, seedFor } from './rng.ts';
export { TrainingSession, type TrainingSessionOptions, type TrainStepResult } from './training.ts';
