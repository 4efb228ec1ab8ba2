// `unirl serve`: the headless mode. Opens the app core on a data dir and serves the renderer and
// the API to browsers until interrupted.
import { join } from 'node:path';
import { openApp } from '../app.ts';
import { exportDownloadRoute } from '../server/export-download.ts';
import { startHeadlessServer, type HttpRoute } from '../server/http.ts';
import { REWARD_SCORE_PATH, rewardServiceRoute } from '../server/reward-service.ts';
import { parseOptions, parsePort, SERVE, UsageError } from './args.ts';
import { appPath } from '../paths.ts';

export const DEFAULT_PORT = 5175;

export async function serveCommand(args: string[]): Promise<number> {
  const flags = parseOptions(SERVE, args);
  const host = flags.host ?? '127.0.0.1';
  const port = parsePort(flags.port, DEFAULT_PORT);

  const rewardRun = flags['reward-run'];
  if (rewardRun !== undefined && !(flags['reward-service'] && /^[1-9]\d*$/.test(rewardRun))) {
    throw new UsageError(`--reward-run needs --reward-service and a run id (a positive integer), got "${rewardRun}"`);
  }

  const core = await openApp({ mode: 'headless', dataDir: flags['data-dir'] });
  const routes: HttpRoute[] = [exportDownloadRoute(join(core.dataDir, 'exports'))];
  if (flags['reward-service']) {
    routes.push(
      rewardServiceRoute({
        dataDir: core.dataDir,
        startJob: (params) => core.compute.start('reward', params),
        ...(rewardRun ? { preferenceRunId: Number(rewardRun) } : {}),
      }),
    );
  }
  const server = await startHeadlessServer({
    host,
    port,
    rendererDir: appPath('out', 'renderer'),
    dispatch: core.dispatch,
    events: core.events,
    media: core.media,
    token: flags.token,
    routes,
  });
  console.log(`data dir ${core.dataDir}`);
  console.log(`listening on ${server.url}`);
  if (server.token) console.log(`open ${server.openUrl}  (access token required off loopback)`);
  if (flags['reward-service'])
    console.log(`reward service: POST ${server.url}${REWARD_SCORE_PATH}${server.token ? ' (Authorization: Bearer <token>)' : ''}`);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await core.close();
  return 0;
}
