// Runs the real sitemirror command (the built bin) in a child process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'sitemirror.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `sitemirror ...args`. A `crawl` that does not choose a --render mode gets `--render never`: the tests written
 * for the plain HTTP path stay on it (and fast) now that rendering in a browser is the default. Render tests pass
 * --render themselves.
 */
/**
 * The environment for a sitemirror child: this process's, plus `extra`, without a CA bundle the machine names. A test
 * trusts what it sets itself, and Node reads the bundle at every start (60-90 ms a run here).
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _machineBundle, ...inherited } = process.env;
  return { ...inherited, ...extra };
}

export function runCli(args: string[], options: { cwd?: string; timeoutMs?: number; nodeOptions?: string[]; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const renderChosen = args.some((arg) => arg === '--render' || arg.startsWith('--render='));
    const fullArgs = args[0] === 'crawl' && !renderChosen ? [...args, '--render', 'never'] : args;
    // nodeOptions go before the bin (an --import that measures memory); env is added to the environment.
    const child = spawn(process.execPath, [...(options.nodeOptions ?? []), BIN, ...fullArgs], { cwd: options.cwd, env: cliEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`sitemirror ${args.join(' ')} did not finish in ${options.timeoutMs ?? 60_000} ms\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

// Folders the tests made are removed when the test file's process exits (a full run made ~230 of them, 570 MB);
// SITEMIRROR_TEST_KEEP=1 keeps them, to look at what a failing test left.
const madeDirs: string[] = [];
process.once('exit', () => {
  if (process.env.SITEMIRROR_TEST_KEEP === '1') return;
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
});

export async function tempDir(prefix = 'sitemirror-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

/** tempDir for a synchronous caller. */
export function tempDirSync(prefix = 'sitemirror-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}
