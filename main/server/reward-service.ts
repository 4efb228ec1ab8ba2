// The reward service (`unirl serve --reward-service`): POST /reward/score scores a batch of images with
// their prompts the way the app rewards its own rollouts (main/rl/reward-batch.ts), so a cluster's run
// (verl, flow_grpo) takes its rewards from ShapeEval, the learned preference model and the app's people.
// It sits behind serve's host and token checks; the scoring runs in the compute worker.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { JobHandle } from '../compute/client.ts';
import type { JobParams } from '../compute/protocol.ts';
import { REWARD_COMPONENTS } from '../rl/reward-batch.ts';
import type { HttpRoute } from './http.ts';

export const REWARD_SCORE_PATH = '/reward/score';
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const requestSchema = z.strictObject({
  items: z
    .array(
      z.strictObject({
        prompt: z.string(),
        ground_truth: z.string().optional(),
        /** Base64 PNG bytes, or a data: URI. */
        image: z.string().min(1),
      }),
    )
    .min(1)
    .max(4096),
  /** The run whose preference model scores; default the newest model of any run. */
  run: z.number().int().positive().optional(),
  weights: z.partialRecord(z.enum(REWARD_COMPONENTS), z.number().finite()).optional(),
});

export type RewardRequest = z.input<typeof requestSchema>;

export interface RewardServiceOptions {
  dataDir: string;
  /** Starts the compute worker's `reward` job. */
  startJob(params: JobParams<'reward'>): Pick<JobHandle<'reward'>, 'result'>;
  /** Default preference run (serve --reward-run). */
  preferenceRunId?: number;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`the request is over ${MAX_BODY_BYTES / 1024 / 1024} MiB: send fewer images at a time`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function imageBytes(image: string): Uint8Array {
  return Buffer.from(image.startsWith('data:') ? image.slice(image.indexOf(',') + 1) : image, 'base64');
}

async function score(req: IncomingMessage, res: ServerResponse, options: RewardServiceOptions): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(req);
  } catch (err) {
    sendJson(res, 413, { error: (err as Error).message });
    return;
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    sendJson(res, 400, { error: `the body is not JSON: ${(err as Error).message}` });
    return;
  }
  const parsed = requestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    sendJson(res, 400, { error: `${issue.path.join('.') || 'body'}: ${issue.message}`, field: issue.path.join('.') });
    return;
  }
  const { items, run, weights } = parsed.data;
  const preferenceRunId = run ?? options.preferenceRunId;
  const result = await options.startJob({
    dataDir: options.dataDir,
    items: items.map((item) => ({ prompt: item.prompt, groundTruth: item.ground_truth ?? '', png: imageBytes(item.image) })),
    ...(preferenceRunId !== undefined ? { preferenceRunId } : {}),
    ...(weights ? { weights } : {}),
  }).result;
  if ('inputError' in result) {
    sendJson(res, 400, { error: result.inputError.message, field: result.inputError.field });
    return;
  }
  sendJson(res, 200, {
    scores: result.scores,
    preference_model: result.preferenceModel && { run_id: result.preferenceModel.runId, version: result.preferenceModel.version },
  });
}

export function rewardServiceRoute(options: RewardServiceOptions): HttpRoute {
  return (req, res, pathname) => {
    if (pathname !== REWARD_SCORE_PATH) return false;
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: `POST a JSON batch to ${REWARD_SCORE_PATH}` }, { Allow: 'POST' });
      return true;
    }
    // A JSON content type makes a cross-site browser form or fetch preflight, so pages cannot post here.
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      sendJson(res, 415, { error: 'send Content-Type: application/json' });
      return true;
    }
    score(req, res, options).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: `scoring failed: ${err instanceof Error ? err.message : String(err)}` });
    });
    return true;
  };
}
