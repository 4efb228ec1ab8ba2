export { writeFileAtomic } from './atomic.ts';
export { loadCheckpoint, optimizerPath, saveCheckpoint, type LoadCheckpointOptions, type SaveCheckpointOptions } from './checkpoint.ts';
export { bakeParams, exportOnnx } from './export.ts';
export {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  readSafetensorsMetadata,
  writeSafetensors,
  type SafeTensor,
  type SafeTensorInput,
  type SafetensorsContents,
  type SafetensorsDtype,
} from './safetensors.ts';
