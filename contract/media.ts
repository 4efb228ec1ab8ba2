// Small, dependency-free pieces of the contract that the renderer needs at run time (the zod
// schemas in api.ts stay out of the renderer's bundle unless it validates something).

export const EXECUTION_PROVIDERS = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** What `export.run` and `unirl export --format` can write ('all' = every file). */
export const EXPORT_FORMATS = ['rollouts', 'pairs', 'pickapic', 'rankings', 'reflections', 'edits', 'verl', 'all'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Where the renderer gets an image: a stored sample, an edit's source picture, or an evaluation result's image. */
export type MediaRef = { kind: 'sample'; id: number } | { kind: 'edit-source'; id: number } | { kind: 'eval-result'; id: number };

/** Media URL paths shared by the HTTP server and the Electron protocol handler. */
export function mediaPath(ref: MediaRef): string {
  return `/media/${ref.kind}/${ref.id}.png`;
}
export const MEDIA_PATH_PATTERN = /^\/media\/(sample|edit-source|eval-result)\/(\d+)\.png$/;

/** Where a browser downloads an export folder (under the data dir's exports/) as a zip, in headless mode. */
export function exportDownloadPath(folder: string): string {
  return `/downloads/exports/${encodeURIComponent(folder)}.zip`;
}
export const EXPORT_DOWNLOAD_PATTERN = /^\/downloads\/exports\/([A-Za-z0-9._-]+)\.zip$/;
