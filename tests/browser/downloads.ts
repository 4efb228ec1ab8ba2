// Browser-test helper: clicks something that starts a download (the Export screen's zip), saves it and
// unpacks it, as a person would.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import type { Page } from 'playwright-core';

export interface UnpackedDownload {
  /** The file name the server suggested. */
  name: string;
  /** Where the zip's entries were unpacked. */
  dir: string;
}

/** Unpacks into a new folder under `into` (the caller removes `into`). */
export async function downloadAndUnzip(page: Page, into: string, start: () => Promise<void>): Promise<UnpackedDownload> {
  const download = page.waitForEvent('download');
  await start();
  const file = await download;
  const dir = mkdtempSync(join(into, 'download-'));
  const zipPath = join(dir, file.suggestedFilename());
  await file.saveAs(zipPath);
  for (const [name, bytes] of Object.entries(unzipSync(new Uint8Array(readFileSync(zipPath))))) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  return { name: file.suggestedFilename(), dir };
}
