import { encodeModel, type ModelProto } from '../onnx/proto.ts';
import { tensorProto } from '../onnx/tensor.ts';
import type { ParamStore } from '../runtime/params.ts';
import { writeFileAtomic } from './atomic.ts';

/**
 * A standalone copy of `model` for inference elsewhere: every graph input that names a parameter of
 * `store` becomes an initializer holding the parameter's current values (copied, so later training
 * does not change the export). The remaining inputs (data) stay inputs.
 */
export function bakeParams(model: ModelProto, store: ParamStore): ModelProto {
  const baked = model.graph.input.filter((input) => store.has(input.name));
  if (baked.length === 0) throw new Error(`bakeParams: graph '${model.graph.name}' has no input named like a parameter of the store`);
  const initializers = baked.map((input) => {
    const param = store.get(input.name);
    const declared = input.type?.tensorType?.shape;
    const mismatch =
      declared &&
      (declared.length !== param.shape.length || declared.some((d, i) => d.dimValue !== undefined && d.dimValue !== param.shape[i]));
    if (mismatch) {
      const shown = declared.map((d) => d.dimValue ?? d.dimParam ?? '?').join(', ');
      throw new Error(`bakeParams: parameter '${param.name}' has shape [${param.shape.join(', ')}], graph input expects [${shown}]`);
    }
    return tensorProto(param.name, 'float32', param.shape, param.data.slice());
  });
  const bakedNames = new Set(baked.map((input) => input.name));
  return {
    ...model,
    graph: {
      ...model.graph,
      input: model.graph.input.filter((input) => !bakedNames.has(input.name)),
      initializer: [...model.graph.initializer, ...initializers],
    },
  };
}

/** Writes `bakeParams(model, store)` as an .onnx file, atomically. */
export function exportOnnx(path: string, model: ModelProto, store: ParamStore): void {
  writeFileAtomic(path, [encodeModel(bakeParams(model, store))]);
}
