// A unified model brought from elsewhere: a directory of ONNX files, one per piece of the adapter
// (adapter.ts GRAPH_FILES), and a manifest `unirl-model.json` with the sizes the app lays sequences out
// with. validateModelDir names everything missing or mismatched; importedParts inlines the files into the
// graphs the app builds, so sampling, evaluation, pretraining and GRPO run on them unchanged. Every float
// initializer of rank ≥ 1 is a parameter (`<part>/<initializer name>`); export from PyTorch with
// do_constant_folding=False so parameters keep their names and the LM graphs share them by name.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RULES } from '../engine/autodiff/rules.ts';
import type { GraphBuilder, Tensor } from '../engine/graph/builder.ts';
import { inlineModel, isParameterInitializer } from '../engine/graph/inline.ts';
import { decodeModel, type ModelProto, type ValueInfoProto } from '../engine/onnx/proto.ts';
import { sharedInitializers } from '../engine/onnx/shared.ts';
import { onnxToDtype, tensorValues } from '../engine/onnx/tensor.ts';
import type { ParamSpec } from '../engine/runtime/params.ts';
import { GRAPH_FILES, describeDims, type ContractSizes, type ContractValue, type GraphFile, type ModelParts } from './adapter.ts';
import { layoutOf, validateConfig, type ModelConfig } from './config.ts';
import { shapeWorldTokenizer } from './data.ts';
import type { KvCache } from './lm.ts';
import type { Tokenizer } from './tokenizer.ts';

export const MANIFEST_FILE = 'unirl-model.json';

/** `unirl-model.json`: the sizes the app needs to lay out sequences, caches and images for the model. */
export interface ModelManifest {
  name: string;
  /** Square RGB image side in pixels (ShapeWorld: 32). */
  imageSize: number;
  /** L: the most text slots a sequence has. */
  textLength: number;
  /** Q: meta-queries per set. */
  queries: number;
  /** Side of a vision patch (P = (imageSize / visionPatch)² image tokens of visionPatch²·3 values). */
  visionPatch: number;
  /** Side of a DiT patch (N = (imageSize / ditPatch)² tokens of ditPatch²·3 values). */
  ditPatch: number;
  /** The LM's width D, heads H and layers (KV-cache inputs per layer). */
  lm: { width: number; heads: number; layers: number };
  /** Dc: width of the condition tokens. */
  condWidth: number;
  /** The vocabulary the LM was trained on; 'shapeworld' (the app's prompts) is the one supported. */
  tokenizer: 'shapeworld';
}

export interface ModelDirReport {
  /** Everything that stops the model from loading, each naming the file and value. */
  problems: string[];
  /** Loads, but a user should know (ops training cannot differentiate, tied parameters). */
  warnings: string[];
  manifest?: ModelManifest;
}

/** The app config equivalent of a manifest. Only the layout and the LM's cache sizes are read for an imported model. */
export function configOfManifest(m: ModelManifest): ModelConfig {
  const sized = { layers: 1, heads: 1, mlpHidden: 1 };
  return validateConfig({
    name: m.name,
    imageSize: m.imageSize,
    textLength: m.textLength,
    queries: m.queries,
    lm: { width: m.lm.width, layers: m.lm.layers, heads: m.lm.heads, mlpHidden: m.lm.width },
    vision: { patch: m.visionPatch, width: m.lm.width, ...sized },
    connector: { width: m.condWidth, ...sized },
    dit: { patch: m.ditPatch, width: m.condWidth, condWidth: m.condWidth, timeFeatures: 2, ...sized },
  });
}

function contractSizes(config: ModelConfig, vocab: number): ContractSizes {
  const l = layoutOf(config);
  return {
    P: l.imageTokens,
    Dv: l.visionPatchDim,
    D: config.lm.width,
    Q: config.queries,
    Dc: config.dit.condWidth,
    N: l.ditTokens,
    Dp: l.ditPatchDim,
    V: vocab,
    H: config.lm.heads,
    dh: config.lm.width / config.lm.heads,
  };
}

function readManifest(dir: string, problems: string[]): ModelManifest | undefined {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) {
    problems.push(`${MANIFEST_FILE}: missing (the sizes of the model; see docs/model.md)`);
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    problems.push(`${MANIFEST_FILE}: not valid JSON (${(error as Error).message})`);
    return undefined;
  }
  const m = raw as Partial<ModelManifest>;
  const before = problems.length;
  if (typeof m.name !== 'string' || !/^[\w.-]+$/.test(m.name))
    problems.push(`${MANIFEST_FILE}: name must be letters, digits, '.', '-' or '_', got ${JSON.stringify(m.name)}`);
  const integer = (value: unknown, field: string) => {
    if (!Number.isInteger(value) || (value as number) <= 0)
      problems.push(`${MANIFEST_FILE}: ${field} must be a positive integer, got ${JSON.stringify(value)}`);
  };
  for (const field of ['imageSize', 'textLength', 'queries', 'visionPatch', 'ditPatch', 'condWidth'] as const) integer(m[field], field);
  for (const field of ['width', 'heads', 'layers'] as const) integer(m.lm?.[field], `lm.${field}`);
  if ((m.tokenizer ?? 'shapeworld') !== 'shapeworld')
    problems.push(`${MANIFEST_FILE}: tokenizer must be 'shapeworld', got ${JSON.stringify(m.tokenizer)}`);
  if (problems.length > before) return undefined;
  try {
    configOfManifest(m as ModelManifest);
  } catch (error) {
    problems.push(`${MANIFEST_FILE}: ${(error as Error).message.replace(/^model config [^:]*: /, '')}`);
    return undefined;
  }
  return { ...(m as ModelManifest), tokenizer: 'shapeworld' };
}

function dimsOf(v: ValueInfoProto): (number | string | null)[] | undefined {
  const dims = v.type?.tensorType?.shape;
  return dims?.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : (d.dimParam ?? null)));
}

/** Problems of one declared input or output against the contract. */
function checkValue(where: string, declared: ValueInfoProto | undefined, want: ContractValue, sizes: ContractSizes): string[] {
  const shape = describeDims(want.dims, sizes);
  if (!declared) return [`${where} '${want.name}' is missing: ${want.dtype} ${shape}, ${want.about}`];
  const problems: string[] = [];
  const elem = declared.type?.tensorType?.elemType;
  const dtype = elem ? onnxToDtype(elem) : undefined;
  if (dtype !== want.dtype) problems.push(`${where} '${want.name}' is ${dtype ?? 'untyped'}, expected ${want.dtype}`);
  const dims = dimsOf(declared);
  if (!dims) return problems;
  if (dims.length !== want.dims.length)
    return [...problems, `${where} '${want.name}' has rank ${dims.length} [${dims.join(', ')}], expected ${shape}`];
  want.dims.forEach((d, i) => {
    const got = dims[i];
    if (typeof got !== 'number') return; // symbolic in the file: checked when it runs
    if ('varies' in d)
      problems.push(
        `${where} '${want.name}' dim ${i} is fixed at ${got}, but ${d.varies} varies between calls: export it as a dynamic axis`,
      );
    else {
      const expected = 'fixed' in d ? sizes[d.fixed] : d.exactly;
      if (got !== expected)
        problems.push(
          `${where} '${want.name}' dim ${i} is ${got}, expected ${'fixed' in d ? `${d.fixed} = ${expected}` : expected} (${shape})`,
        );
    }
  });
  return problems;
}

function contractOf(spec: GraphFile, layers: number): { inputs: ContractValue[]; outputs: ContractValue[] } {
  const expand = (values: ContractValue[]) =>
    Array.from({ length: layers }, (_, i) => values.map((v) => ({ ...v, name: `${v.name}${i}` }))).flat();
  return {
    inputs: [...spec.inputs, ...expand(spec.perLayer?.inputs ?? [])],
    outputs: [...spec.outputs, ...expand(spec.perLayer?.outputs ?? [])],
  };
}

/** Reads and checks a model directory; `graphs` holds the decoded files when there are no problems. */
export function validateModelDir(dir: string): ModelDirReport & { graphs?: Record<string, ModelProto> } {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!existsSync(dir)) return { problems: [`${dir}: no such directory`], warnings };
  const manifest = readManifest(dir, problems);
  const graphs: Record<string, ModelProto> = {};
  for (const spec of GRAPH_FILES) {
    const path = join(dir, spec.file);
    if (!existsSync(path)) {
      problems.push(`${spec.file}: missing (${spec.about})`);
      continue;
    }
    try {
      graphs[spec.file] = decodeModel(readFileSync(path));
    } catch (error) {
      problems.push(`${spec.file}: not an ONNX model (${(error as Error).message})`);
    }
  }
  if (!manifest) return { problems, warnings };
  const sizes = contractSizes(configOfManifest(manifest), shapeWorldTokenizer().vocabSize);
  const shared = new Map<string, { file: string; dims: string; values: Float32Array }>();
  for (const spec of GRAPH_FILES) {
    const model = graphs[spec.file];
    if (!model) continue;
    const initializers = new Set(model.graph.initializer.map((i) => i.name));
    const inputs = new Map(model.graph.input.filter((v) => !initializers.has(v.name)).map((v) => [v.name, v]));
    const outputs = new Map(model.graph.output.map((v) => [v.name, v]));
    const contract = contractOf(spec, manifest.lm.layers);
    for (const want of contract.inputs) problems.push(...checkValue(`${spec.file}: input`, inputs.get(want.name), want, sizes));
    for (const want of contract.outputs) problems.push(...checkValue(`${spec.file}: output`, outputs.get(want.name), want, sizes));
    const known = new Set(contract.inputs.map((v) => v.name));
    for (const name of inputs.keys())
      if (!known.has(name)) problems.push(`${spec.file}: input '${name}' is not one the app feeds (it feeds ${[...known].join(', ')})`);
    for (const node of model.graph.node) {
      if (node.attribute.some((a) => a.g))
        problems.push(`${spec.file}: node '${node.name}' (${node.opType}) has a subgraph; control flow is not supported`);
    }
    const untrainable = [...new Set(model.graph.node.filter((n) => !RULES[n.opType]).map((n) => n.opType))];
    if (untrainable.length > 0)
      warnings.push(`${spec.file}: no gradient rule for ${untrainable.join(', ')}: evaluation works, training through these ops does not`);
    for (const s of sharedInitializers(model)) {
      warnings.push(
        `${spec.file}: initializer '${s.initializer}' is shared by ${[...s.aliases, ...s.scopes].join(', ')}: ` +
          'they train as one tensor (torch merges identical tensors; export trained or perturbed weights to keep them apart)',
      );
    }
    // The LM's graphs share parameters by name: the same name must hold the same tensor everywhere.
    for (const init of model.graph.initializer.filter(isParameterInitializer)) {
      const key = `${spec.part}/${init.name}`;
      const values = Float32Array.from(tensorValues(init) as Float32Array);
      const dims = init.dims.join('x');
      const seen = shared.get(key);
      if (!seen) shared.set(key, { file: spec.file, dims, values });
      else if (seen.dims !== dims || seen.values.some((v, i) => v !== values[i])) {
        problems.push(
          `${spec.file}: parameter '${init.name}' differs from the one of the same name in ${seen.file} ` +
            `(the ${spec.part} graphs must share their parameters by name)`,
        );
      }
    }
  }
  return problems.length > 0 ? { problems, warnings, manifest } : { problems, warnings, manifest, graphs };
}

/** The model directory's graphs and sizes, or an error listing every problem. */
export function loadModelDir(dir: string): {
  manifest: ModelManifest;
  config: ModelConfig;
  tokenizer: Tokenizer;
  graphs: Record<string, ModelProto>;
  warnings: string[];
} {
  const report = validateModelDir(dir);
  if (!report.graphs || !report.manifest) throw new Error(`${dir} is not a usable model:\n  ${report.problems.join('\n  ')}`);
  return {
    manifest: report.manifest,
    config: configOfManifest(report.manifest),
    tokenizer: shapeWorldTokenizer(),
    graphs: report.graphs,
    warnings: report.warnings,
  };
}

/** Parameters of the files (initial values from the files), one per `<part>/<initializer>`. */
export function importedParamSpecs(graphs: Readonly<Record<string, ModelProto>>): ParamSpec[] {
  const specs = new Map<string, ParamSpec>();
  for (const spec of GRAPH_FILES) {
    for (const init of graphs[spec.file]!.graph.initializer.filter(isParameterInitializer)) {
      const name = `${spec.part}/${init.name}`;
      if (!specs.has(name))
        specs.set(name, {
          name,
          shape: [...init.dims],
          group: spec.part,
          init: { kind: 'values', data: Float32Array.from(tensorValues(init) as Float32Array) },
        });
    }
  }
  return [...specs.values()];
}

/** ModelParts that inline the files into the graph being built. */
export function importedParts(graphs: Readonly<Record<string, ModelProto>>, config: ModelConfig): ModelParts {
  const part = (file: string) => GRAPH_FILES.find((s) => s.file === file)!.part;
  const run = (g: GraphBuilder, file: string, inputs: Record<string, Tensor>) =>
    inlineModel(g, graphs[file]!, { inputs, paramPrefix: `${part(file)}/`, scope: file.replace(/\.onnx$/, '') });
  const layers = Array.from({ length: config.lm.layers }, (_, i) => i);
  const cacheOf = (out: Record<string, Tensor>): KvCache => layers.map((i) => ({ k: out[`present_k${i}`]!, v: out[`present_v${i}`]! }));
  return {
    vision: (g, patches) => run(g, 'vision.onnx', { vision_patches: patches }).image_tokens!,
    queries: (g, editFlag) => run(g, 'queries.onnx', { edit_flag: editFlag }).queries!,
    lm: (g, inputs) => {
      // Text-only passes have no query slots: an empty [B, 0, D] tensor.
      const queries =
        inputs.queries ??
        g.constantOfShape(g.concat([g.slice(g.op('Shape', [inputs.textIds])[0]!, [0], [1]), g.ints([0, config.lm.width])], 0), 0);
      const out = run(g, 'lm.onnx', {
        image_tokens: inputs.imageTokens,
        text_ids: inputs.textIds,
        queries,
        positions: inputs.positions,
        bias: inputs.bias,
      });
      return { hidden: out.hidden!, cache: cacheOf(out) };
    },
    lmStep: (g, inputs) => {
      const past = Object.fromEntries(
        inputs.past.flatMap((kv, i) => [
          [`past_k${i}`, kv.k],
          [`past_v${i}`, kv.v],
        ]),
      );
      const out = run(g, 'lm_step.onnx', { token_ids: inputs.tokenIds, positions: inputs.positions, bias: inputs.bias, ...past });
      return { logits: out.logits!, cache: cacheOf(out) };
    },
    lmHead: (g, hidden) => run(g, 'lm_head.onnx', { hidden }).logits!,
    connector: (g, queryHidden) => run(g, 'connector.onnx', { query_hidden: queryHidden }).cond!,
    velocity: (g, inputs) => run(g, 'dit.onnx', { x: inputs.x, t: inputs.t, cond: inputs.cond, ref: inputs.ref }).v!,
  };
}
