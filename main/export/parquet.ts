// Parquet tables for outside tools, written with hyparquet-writer. One column-type language describes a
// table three ways: the Parquet schema the writer needs, the Hugging Face `datasets` features stored in
// the file's key-value metadata (so an `image` column loads as datasets' Image feature), and the
// readable schema the export manifest states.
import { parquetWriteBuffer, type SchemaElement } from 'hyparquet-writer';
import { writeFileSync } from 'node:fs';

/**
 * `image` is datasets' Image feature: a struct {bytes: binary (PNG), path: string}. `binary` is raw bytes
 * (Pick-a-Pic's jpg_0/jpg_1 are raw bytes on the Hub, and Diffusion-DPO opens them with PIL itself).
 */
export type ColumnType =
  | 'string'
  | 'int32'
  | 'int64'
  | 'float64'
  | 'bool'
  | 'binary'
  | 'image'
  | { struct: Record<string, ColumnType> }
  | { list: ColumnType };

export type TableSchema = Record<string, ColumnType>;

export interface ImageCell {
  bytes: Uint8Array;
  path: string | null;
}

const IMAGE_STRUCT: Record<string, ColumnType> = { bytes: 'binary', path: 'string' };

function leaf(name: string, type: Exclude<ColumnType, 'image' | object>): SchemaElement {
  switch (type) {
    case 'string':
      return { name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' };
    case 'int32':
      return { name, type: 'INT32', repetition_type: 'OPTIONAL' };
    case 'int64':
      return { name, type: 'INT64', repetition_type: 'OPTIONAL' };
    case 'float64':
      return { name, type: 'DOUBLE', repetition_type: 'OPTIONAL' };
    case 'bool':
      return { name, type: 'BOOLEAN', repetition_type: 'OPTIONAL' };
    case 'binary':
      return { name, type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' };
  }
}

/** Depth-first schema elements of one column (lists use the standard three-level LIST layout). */
function elements(name: string, type: ColumnType): SchemaElement[] {
  if (type === 'image') return elements(name, { struct: IMAGE_STRUCT });
  if (typeof type === 'string') return [leaf(name, type)];
  if ('struct' in type) {
    const fields = Object.entries(type.struct);
    return [{ name, repetition_type: 'OPTIONAL', num_children: fields.length }, ...fields.flatMap(([f, t]) => elements(f, t))];
  }
  return [
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    ...elements('element', type.list),
  ];
}

/** The `datasets` feature of a column (the JSON form `Features.from_dict` reads). */
function feature(type: ColumnType): unknown {
  if (type === 'image') return { _type: 'Image' };
  if (typeof type === 'string') return { dtype: type === 'binary' ? 'binary' : type, _type: 'Value' };
  if ('struct' in type) return Object.fromEntries(Object.entries(type.struct).map(([f, t]) => [f, feature(t)]));
  return [feature(type.list)];
}

/** A readable type for the manifest: `string`, `image {bytes: binary, path: string}`, `list<struct<...>>`. */
export function describeType(type: ColumnType): string {
  if (type === 'image') return 'image {bytes: binary (PNG), path: string} (datasets Image feature)';
  if (typeof type === 'string') return type;
  if ('struct' in type)
    return `struct<${Object.entries(type.struct)
      .map(([f, t]) => `${f}: ${describeType(t)}`)
      .join(', ')}>`;
  return `list<${describeType(type.list)}>`;
}

export function describeSchema(schema: TableSchema): Record<string, string> {
  return Object.fromEntries(Object.entries(schema).map(([name, type]) => [name, describeType(type)]));
}

/** A row's value as the writer takes it: int64 columns (given as numbers) become bigints, at any depth. */
function cell(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'int64') return BigInt(value as number);
  if (typeof type === 'string') return value;
  if ('list' in type) return (value as unknown[]).map((v) => cell(type.list, v));
  return Object.fromEntries(Object.entries(type.struct).map(([f, t]) => [f, cell(t, (value as Record<string, unknown>)[f])]));
}

/** Writes `rows` (objects keyed by the schema's columns) to a Parquet file with datasets features. */
export function writeParquet(path: string, schema: TableSchema, rows: readonly Record<string, unknown>[]): void {
  const columns = Object.entries(schema);
  const buffer = parquetWriteBuffer({
    columnData: columns.map(([name, type]) => ({ name, data: rows.map((r) => cell(type, r[name])) })),
    schema: [{ name: 'root', num_children: columns.length }, ...columns.flatMap(([name, type]) => elements(name, type))],
    kvMetadata: [
      { key: 'huggingface', value: JSON.stringify({ info: { features: Object.fromEntries(columns.map(([n, t]) => [n, feature(t)])) } }) },
    ],
    createdBy: 'UniRL Studio (hyparquet-writer)',
  });
  writeFileSync(path, Buffer.from(buffer));
}
