// `unirl model import DIR`: checks a directory of ONNX graphs against the adapter (docs/model.md, "Bring
// your own unified model"), copies it into the data directory and writes its first checkpoint, which
// `unirl eval --checkpoint` and `unirl train --checkpoint` then take like any other.
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveDataDir } from '../../db/datadir.ts';
import { GRAPH_FILES } from '../models/adapter.ts';
import { MANIFEST_FILE, validateModelDir } from '../models/imported.ts';
import { PARTS, UnifiedModel } from '../models/unified.ts';
import { MODEL_IMPORT, UsageError, parseCommand } from './args.ts';

/** Where an imported model lives in the data directory. */
export function importedModelDir(dataDir: string, name: string): string {
  return join(dataDir, 'models', 'imported', name);
}

export async function modelImportCommand(args: string[]): Promise<number> {
  const { flags, positional } = parseCommand(MODEL_IMPORT, args);
  if (positional.length !== 1) throw new UsageError(`give one model directory (got ${positional.length} arguments)`);
  const source = resolve(positional[0]!);
  const report = validateModelDir(source);
  for (const warning of report.warnings) console.log(`warning: ${warning}`);
  if (report.problems.length > 0) {
    console.error(
      `${source}: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}:\n  ${report.problems.join('\n  ')}`,
    );
    return 1;
  }
  const manifest = report.manifest!;
  if (flags.check) {
    console.log(`${source}: ${manifest.name} matches the adapter (${GRAPH_FILES.length} graphs)`);
    return 0;
  }
  const name = flags.name ?? manifest.name;
  if (!/^[\w.-]+$/.test(name)) throw new UsageError(`--name must be letters, digits, '.', '-' or '_', got "${name}"`);
  const target = importedModelDir(resolveDataDir({ cliDir: flags['data-dir'] }).dir, name);
  if (existsSync(target)) throw new Error(`a model named '${name}' is already registered at ${target} (choose another --name)`);
  mkdirSync(target, { recursive: true });
  try {
    for (const file of [MANIFEST_FILE, ...GRAPH_FILES.map((f) => f.file)]) copyFileSync(join(source, file), join(target, file));
    const model = UnifiedModel.fromModelDir(target);
    const checkpoint = join(target, 'model.safetensors');
    model.save(checkpoint, { metadata: { imported_from: source } });
    const counts = model.parameterCounts();
    console.log(`registered ${name}: ${model.store.size} parameters (${PARTS.map((p) => `${p} ${counts[p]}`).join(', ')})`);
    console.log(`checkpoint ${checkpoint}`);
    console.log(`  evaluate: unirl eval --suite NAME --generator model --checkpoint ${checkpoint}`);
    console.log(`  train:    unirl train --scenario t2i --checkpoint ${checkpoint}`);
    return 0;
  } catch (error) {
    rmSync(target, { recursive: true, force: true }); // nothing half-registered
    throw error;
  }
}
