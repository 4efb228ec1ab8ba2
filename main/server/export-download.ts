// GET /downloads/exports/<folder>.zip: an export folder (data dir's exports/) as a zip, streamed, so a
// browser user gets the files of an export rather than a path on the server.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, relative } from 'node:path';
import { Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import { EXPORT_DOWNLOAD_PATTERN } from '../../contract/media.ts';
import type { HttpRoute } from './http.ts';

/** Already compressed: stored as they are. */
const STORED = new Set(['.png', '.parquet', '.zip']);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
    })
    .sort();
}

/** Streams `dir` as a zip whose entries sit under `root/`. */
export function streamZip(dir: string, root: string, res: ServerResponse): void {
  const zip = new Zip((err, chunk, final) => {
    if (err) {
      res.destroy(err);
      return;
    }
    res.write(chunk);
    if (final) res.end();
  });
  for (const path of filesUnder(dir)) {
    const name = `${root}/${relative(dir, path).split('\\').join('/')}`;
    const entry = STORED.has(extname(path)) ? new ZipPassThrough(name) : new ZipDeflate(name, { level: 6 });
    zip.add(entry);
    entry.push(readFileSync(path), true);
  }
  zip.end();
}

export function exportDownloadRoute(exportsDir: string): HttpRoute {
  return (req, res, pathname) => {
    const match = EXPORT_DOWNLOAD_PATTERN.exec(pathname);
    if (!match || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const folder = match[1]!;
    const dir = join(exportsDir, folder);
    if (folder.startsWith('.') || !statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`no export named ${folder}`);
      return true;
    }
    res.writeHead(200, {
      'Content-Type': 'application/zip',
      'Content-Disposition': `attachment; filename="${folder}.zip"`,
      'Cache-Control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else streamZip(dir, folder, res);
    return true;
  };
}
