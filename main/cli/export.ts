// `unirl export`: writes a run's rollouts, preference pairs, rankings, reflections and edits as files
// other tools read (JSONL + PNG images, Parquet with embedded images, manifest.json). See main/export/export.ts.
import { resolve } from 'node:path';
import { openStore, resolveDataDir } from '../../db/index.ts';
import { EXPORT_FORMATS, exportRun, isExportFormat } from '../export/export.ts';
import { EXPORT, parseOptions, UsageError } from './args.ts';

export async function exportCommand(args: string[]): Promise<number> {
  const flags = parseOptions(EXPORT, args);
  if (!flags.run || !/^\d+$/.test(flags.run) || Number(flags.run) < 1)
    throw new UsageError(`--run must be a run id (a positive integer), got "${flags.run ?? ''}"`);
  const format = flags.format ?? 'all';
  if (!isExportFormat(format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${format}"`);
  if (!flags.out) throw new UsageError('--out is required');
  const store = openStore(resolveDataDir({ cliDir: flags['data-dir'] }).dbPath);
  try {
    const manifest = exportRun(store, { runId: Number(flags.run), format, outDir: resolve(flags.out) });
    for (const file of manifest.files)
      process.stdout.write(`${file.path.padEnd(20)} ${file.fileFormat === 'python' ? '' : `${String(file.rows).padStart(7)} rows`}\n`);
    process.stdout.write(
      `${manifest.images} PNG files under images/; manifest (with each file's schema): ${resolve(flags.out, 'manifest.json')}\n`,
    );
  } finally {
    store.close();
  }
  return 0;
}
