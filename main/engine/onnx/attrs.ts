// Building and reading NodeProto attributes.
import { AttributeType, type AttributeProto, type NodeProto, type TensorProto } from './proto.ts';

export const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i }),
  ints: (name: string, ints: readonly number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints: [...ints] }),
  float: (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f }),
  floats: (name: string, floats: readonly number[]): AttributeProto => ({ name, type: AttributeType.FLOATS, floats: [...floats] }),
  string: (name: string, s: string): AttributeProto => ({ name, type: AttributeType.STRING, s }),
  tensor: (name: string, t: TensorProto): AttributeProto => ({ name, type: AttributeType.TENSOR, t }),
};

function find(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function intAttr(node: NodeProto, name: string, fallback: number): number {
  return find(node, name)?.i ?? fallback;
}

export function intsAttr(node: NodeProto, name: string): number[] | undefined {
  const a = find(node, name);
  return a ? (a.ints ?? []) : undefined;
}

export function floatAttr(node: NodeProto, name: string, fallback: number): number {
  return find(node, name)?.f ?? fallback;
}

export function stringAttr(node: NodeProto, name: string, fallback: string): string {
  return find(node, name)?.s ?? fallback;
}

export function tensorAttr(node: NodeProto, name: string): TensorProto | undefined {
  return find(node, name)?.t;
}
