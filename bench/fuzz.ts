// `npm run fuzz -- [--cases N] [--seed S] [--json out.json]`: the adversarial pass of tests/fuzz/fuzz.ts
// against a real `unirl serve` (a child process on a fresh data dir), half the cases on loopback without a
// token and half with one. A crash is the child exiting; the report also counts hangs, leaks of a file
// outside the data dir, unclear errors, answers other than expected, and runs that rejected calls wrote.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFuzz, type FuzzReport } from '../tests/fuzz/fuzz.ts';

const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const cases = Number(flag('--cases') ?? 10_000);
const seed = Number(flag('--seed') ?? 1);
const jsonPath = flag('--json');
if (args.includes('--json') && !jsonPath) throw new Error('--json needs a file path');
if (!Number.isSafeInteger(cases) || cases < 1) throw new Error(`--cases must be a positive integer, got ${flag('--cases')}`);

const root = fileURLToPath(new URL('..', import.meta.url));

async function serve(
  dataDir: string,
  token: string | null,
): Promise<{ url: string; child: ChildProcess; exited: () => boolean; output: () => string }> {
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'unirl.js'), 'serve', '--port', '0', '--data-dir', dataDir, ...(token ? ['--token', token] : [])],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let exited = false;
  child.on('exit', () => (exited = true));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`unirl serve exited (${code}):\n${output}`)));
  });
  return { url, child, exited: () => exited, output: () => output };
}

const secretDir = mkdtempSync(join(tmpdir(), 'unirl-fuzz-secret-'));
const secretPath = join(secretDir, 'secret.txt');
const secret = `fuzz-secret-${process.pid}-${Date.now()}`;
writeFileSync(secretPath, secret);

const phases: { name: string; report: FuzzReport; serverOutputTail: string }[] = [];
try {
  for (const [name, token, share, phaseSeed] of [
    ['loopback', null, 0.5, seed],
    ['token', 'fuzz-token-0123456789abcdef', 0.5, seed + 1],
  ] as const) {
    const dataDir = mkdtempSync(join(tmpdir(), 'unirl-fuzz-data-'));
    const server = await serve(dataDir, token);
    try {
      const phaseCases = Math.round(cases * share);
      let last = Date.now();
      const report = await runFuzz(
        { url: server.url, token, secret, secretPath, alive: async () => !server.exited() },
        {
          cases: phaseCases,
          seed: phaseSeed,
          onProgress: (done) => {
            if (Date.now() - last > 5000) {
              last = Date.now();
              process.stderr.write(`${name}: ${done}/${phaseCases}\n`);
            }
          },
        },
      );
      phases.push({ name, report, serverOutputTail: server.output().slice(-2000) });
      console.log(
        `${name}: ${report.cases} cases in ${report.seconds.toFixed(1)} s (${JSON.stringify(report.byKind)}): ` +
          `${report.crashes} crashes, ${report.hangs} hangs, ${report.leaks} leaks, ` +
          `${report.unclear} unclear, ${report.unexpected} unexpected; ` +
          `runs created ${report.runsCreated}, listed ${report.runsListed}`,
      );
      for (const f of report.findings.slice(0, 20)) console.log(`  ${f.what} (${f.kind}) ${f.case}: ${f.detail}`);
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => (server.exited() ? resolve(null) : server.child.once('exit', resolve)));
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(secretDir, { recursive: true, force: true });
}

const sum = (key: 'cases' | 'crashes' | 'hangs' | 'leaks' | 'unclear' | 'unexpected') => phases.reduce((a, p) => a + p.report[key], 0);
const totals = {
  cases: sum('cases'),
  crashes: sum('crashes'),
  hangs: sum('hangs'),
  leaks: sum('leaks'),
  unclear: sum('unclear'),
  unexpected: sum('unexpected'),
  lostOrExtraRuns: phases.reduce((a, p) => a + Math.abs(p.report.runsListed - p.report.runsCreated), 0),
};
console.log(`total: ${JSON.stringify(totals)}`);
if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ seed, totals, phases }, null, 2) + '\n');
process.exit(totals.crashes + totals.hangs + totals.leaks + totals.unclear + totals.unexpected + totals.lostOrExtraRuns === 0 ? 0 : 1);
