// Test helper: reads a Parquet file with an independent reader (parquet-wasm: the Apache Arrow Rust
// parquet crate, compiled to WebAssembly; not hyparquet, whose author also wrote our writer) into Arrow,
// the way pyarrow and Hugging Face datasets see it.
import { readFileSync } from 'node:fs';
import { tableFromIPC, Vector } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';

export interface ParquetContents {
  /** Column name -> Arrow type, e.g. `Struct<{bytes:Binary, path:Utf8}>`. */
  types: Record<string, string>;
  /** The file's key-value metadata (datasets keeps its features under "huggingface"). */
  metadata: Map<string, string>;
  rows: Record<string, unknown>[];
}

/** Arrow values as plain JS: structs and lists become objects and arrays, binary stays Uint8Array. */
function plain(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (value instanceof Vector) return [...value].map(plain);
  const fields = (value as { toJSON(): Record<string, unknown> }).toJSON();
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, plain(v)]));
}

export function readParquetFile(path: string): ParquetContents {
  const table = tableFromIPC(readParquet(new Uint8Array(readFileSync(path))).intoIPCStream());
  return {
    types: Object.fromEntries(table.schema.fields.map((f) => [f.name, String(f.type)])),
    metadata: table.schema.metadata,
    rows: table.toArray().map((row) => plain(row) as Record<string, unknown>),
  };
}
