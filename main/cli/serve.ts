// `unirl serve`: the headless mode. Opens the app core on a data dir and serves the renderer and
// the API to browsers until interrupted.
import { openApp } from '../app.ts';
import { startHeadlessServer } from '../server/http.ts';
import { parseOptions, parsePort, SERVE } from './args.ts';
import { appPath } from '../paths.ts';

export const DEFAULT_PORT = 5175;

export async function serveCommand(args: string[]): Promise<number> {
  const flags = parseOptions(SERVE, args);
  const host = flags.host ?? '127.0.0.1';
  const port = parsePort(flags.port, DEFAULT_PORT);

  const core = await openApp({ mode: 'headless', dataDir: flags['data-dir'] });
  const server = await startHeadlessServer({
    host,
    port,
    rendererDir: appPath('out', 'renderer'),
    dispatch: core.dispatch,
    events: core.events,
    media: core.media,
    token: flags.token,
  });
  console.log(`data dir ${core.dataDir}`);
  console.log(`listening on ${server.url}`);
  if (server.token) console.log(`open ${server.openUrl}  (access token required off loopback)`);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await core.close();
  return 0;
}
