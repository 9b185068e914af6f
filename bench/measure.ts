// Running one tool under GNU time, and reading what it mirrored back into page indexes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

export interface Measurement {
  exitCode: number | null;
  /** Killed by the bench's time cap (HTTrack at its defaults). */
  timedOut: boolean;
  wallS: number;
  /** User + system time of the tool and every child it waited for. */
  cpuS: number;
  /** The user part alone: this VM's system time swings between runs with what the disk did a minute before. */
  userS: number;
  /** Peak resident set of the largest process in the tree (GNU time's %M, from wait4). */
  peakRssMb: number;
  stderrTail: string;
}

export interface MirrorContents {
  files: number;
  bytes: number;
  /** Page indexes found in the mirror's HTML files (the generator's bench-page meta tag). */
  pages: Set<number>;
  /** Sizes of the files of a MiB or more (bench --media: the videos). */
  largeFiles: number[];
}

/** Runs a command under `/usr/bin/time` (and `timeout` when capped); stdout lines go to onLine. */
export function measure(command: string[], options: { cwd: string; timeoutS?: number; onLine?: (line: string) => void; onStart?: (pid: number) => void }): Promise<Measurement> {
  const timeFile = join(options.cwd, '.bench-time');
  const capped = options.timeoutS === undefined ? command : ['timeout', '-s', 'INT', '-k', '10', String(options.timeoutS), ...command];
  return new Promise((done, fail) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, ...capped], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) options.onStart?.(child.pid);
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (!options.onLine) return;
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) options.onLine(line);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('error', fail);
    child.on('close', async (code) => {
      try {
        const [wall, user, system, rssKb] = (await readFile(timeFile, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
        done({
          exitCode: code,
          timedOut: options.timeoutS !== undefined && code === 124,
          wallS: wall!,
          cpuS: user! + system!,
          userS: user!,
          peakRssMb: rssKb! / 1024,
          stderrTail: stderr.trim().split('\n').slice(-3).join('\n'),
        });
      } catch (error) {
        fail(new Error(`${command.join(' ')}: no timing (${(error as Error).message}); stderr: ${stderr}`));
      }
    });
  });
}

/** wget 1.x and wget2 as every comparison runs them: the mirror flags, quiet. */
export const WGET_FLAGS = ['--mirror', '--convert-links', '--page-requisites', '--adjust-extension', '-q'];

/** A sitemirror crawl as the comparisons run it: plain HTTP (as the peers fetch), quiet. */
export function sitemirrorCrawl(url: string, out: string, extra: string[] = []): string[] {
  return [process.execPath, join(import.meta.dirname, '..', 'bin', 'sitemirror.js'), 'crawl', url, '-o', out, '-q', '--render', 'never', ...extra];
}

export function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface Site {
  url: string;
  process: ChildProcess;
}

/** The generated site (bench/generate-site.mjs) in a process of its own, so its CPU is not charged to the crawler. */
export async function startGenerator(pages: number, latencyMs: number, extra: string[] = []): Promise<Site> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'generate-site.mjs'), '--pages', String(pages), '--latency', String(latencyMs), '--port', '0', ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((done, fail) => {
    child.stdout!.once('data', (chunk: Buffer) => done(/listening (\S+)/.exec(chunk.toString())![1]! + '/'));
    child.once('exit', () => fail(new Error('the site generator exited')));
  });
  return { url, process: child };
}

/** Stops the generator and waits for it, so its last line (requests served) comes before what the bench prints next. */
export async function stopGenerator(site: { process: ChildProcess }): Promise<void> {
  if (site.process.exitCode !== null || site.process.signalCode !== null) return;
  const exited = new Promise<void>((done) => site.process.once('exit', () => done()));
  site.process.kill('SIGTERM');
  await Promise.race([exited, new Promise<void>((done) => setTimeout(done, 5_000).unref())]);
}

// Each tool's bookkeeping, which is not part of the mirror.
const NOT_MIRROR = new Set(['.sitemirror', 'hts-cache', '.bench-time']);

/** Counts the files under the host folders (top-level files are tool bookkeeping) and finds the pages in them. */
export async function readMirror(dir: string): Promise<MirrorContents> {
  const contents: MirrorContents = { files: 0, bytes: 0, pages: new Set(), largeFiles: [] };
  const head = Buffer.alloc(512);
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (NOT_MIRROR.has(entry.name)) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      contents.files++;
      const { size } = await stat(path);
      contents.bytes += size;
      if (size >= 1024 ** 2) contents.largeFiles.push(size);
      const file = await open(path, 'r');
      try {
        const { bytesRead } = await file.read(head, 0, head.length, 0);
        const match = /<meta name="bench-page" content="(\d+)"/.exec(head.subarray(0, bytesRead).toString('latin1'));
        if (match) contents.pages.add(Number(match[1]));
      } finally {
        await file.close();
      }
    }
  };
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && !NOT_MIRROR.has(entry.name)) await walk(join(dir, entry.name));
  }
  return contents;
}

/** The first line of `tool --version`, or null when the tool is not on PATH. */
export function versionOf(tool: string): string | null {
  const result = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  if (result.error) return null;
  return (result.stdout || result.stderr).split('\n').find((line) => line.trim() !== '')?.trim() ?? '';
}

/** Installs Debian packages when running as root with apt-get (like .ci/run does for Chromium); false otherwise. */
export function aptInstall(packages: string[]): boolean {
  if (process.getuid?.() !== 0 || spawnSync('which', ['apt-get']).status !== 0) return false;
  const result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: ['ignore', 'ignore', 'inherit'] });
  return result.status === 0;
}

/** Resident set of the largest process in a tree, read from /proc (for the scale run's samples). */
export function rssOfTree(rootPid: number): number {
  let largest = 0;
  walkTree(rootPid, (pid) => {
    try {
      const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (rss) largest = Math.max(largest, Number(rss[1]) / 1024);
      return true;
    } catch {
      return false; // gone already
    }
  });
  return largest;
}

/**
 * Visits rootPid and its descendants, each before its children; visit returns false to leave a process's children
 * out (it is gone, or starts none).
 */
function walkTree(rootPid: number, visit: (pid: number) => boolean): void {
  const pending = [rootPid];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    if (visit(pid)) pending.push(...childrenOf(pid));
  }
}

/**
 * CPU of a process tree, by process kind, sampled from /proc while it runs. GNU time counts only the children each
 * parent waited for, and Chromium's helpers mostly are not (about half of a render run's CPU went uncounted), so the
 * render row and bench/render-cpu.ts read the tree itself. A process's last 250 ms before it exits can be missed.
 */
export class TreeCpu {
  static readonly INTERVAL_MS = 250;
  readonly #rootPid: number;
  /** pid → its kind and its CPU at the last reading, in clock ticks. */
  readonly #seen = new Map<number, { kind: string; ticks: number }>();
  readonly #timer: NodeJS.Timeout;

  constructor(rootPid: number) {
    this.#rootPid = rootPid;
    this.#timer = setInterval(() => this.sample(), TreeCpu.INTERVAL_MS);
    this.sample();
  }

  /** Stops sampling (after a last reading) and returns seconds of user + system CPU by kind, largest first. */
  stop(): { total: number; byKind: { kind: string; seconds: number; processes: number }[] } {
    this.sample();
    clearInterval(this.#timer);
    const byKind = new Map<string, { kind: string; seconds: number; processes: number }>();
    for (const { kind, ticks } of this.#seen.values()) {
      const entry = byKind.get(kind) ?? { kind, seconds: 0, processes: 0 };
      entry.seconds += ticks / CLOCK_TICKS_PER_SECOND;
      entry.processes++;
      byKind.set(kind, entry);
    }
    const kinds = [...byKind.values()].sort((a, b) => b.seconds - a.seconds);
    return { total: kinds.reduce((sum, entry) => sum + entry.seconds, 0), byKind: kinds };
  }

  sample(): void {
    walkTree(this.#rootPid, (pid) => {
      const ticks = cpuTicksOf(pid);
      if (ticks === undefined) return false; // exited: its last reading stands
      const known = this.#seen.get(pid) ?? { kind: '', ticks: 0 };
      // Read each time: a process Chromium's zygote forks names itself (--type=renderer) after it starts; an exited
      // one (a zombie until reaped) has no command line left, and keeps its kind.
      known.kind = kindOf(pid) ?? (known.kind || 'unknown');
      known.ticks = Math.max(known.ticks, ticks);
      this.#seen.set(pid, known);
      // Chromium's renderers and services start no processes; reading their threads' children costs the most here.
      return !LEAF_KINDS.has(known.kind);
    });
  }
}

/** "renderer 48.6, node 24.6, …": seconds by kind, those under 0.05 s left out. */
export function formatKinds(byKind: { kind: string; seconds: number }[]): string {
  return byKind.filter(({ seconds }) => seconds >= 0.05).map(({ kind, seconds }) => `${kind} ${seconds.toFixed(1)}`).join(', ');
}

const LEAF_KINDS = new Set(['renderer', 'gpu-process', 'utility']);

/** USER_HZ, 100 on Linux everywhere this runs. */
const CLOCK_TICKS_PER_SECOND = 100;

function cpuTicksOf(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Children of every thread: Chromium starts its helpers from threads other than the main one. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** Chromium's processes by their --type (the browser has none); any other by its program's name; undefined when gone. */
function kindOf(pid: number): string | undefined {
  try {
    // Chromium rewrites its command line in place, its arguments joined by spaces rather than NULs.
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (commandLine === '') return undefined;
    const program = basename(commandLine.split(/[\0 ]/)[0]!);
    if (/chrom/i.test(program)) return /[\0 ]--type=([a-z-]+)/.exec(commandLine)?.[1] ?? 'browser';
    return program;
  } catch {
    return undefined;
  }
}
