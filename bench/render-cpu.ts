// CPU of a command's whole process tree, split by process: Node, and Chromium's browser, renderer, GPU and utility
// (network) processes. GNU time misses about half of a render run's CPU: Chromium's helpers are not waited for.
//   node --import tsx bench/render-cpu.ts -- node bin/sitemirror.js crawl URL -o FOLDER -q --render always --max-pages 200
// Linux only (reads /proc).
import { spawn } from 'node:child_process';
import { TreeCpu } from './measure.js';

const argv = process.argv.slice(2);
const command = argv[0] === '--' ? argv.slice(1) : argv;
if (command.length === 0) {
  console.error('usage: node --import tsx bench/render-cpu.ts -- COMMAND [ARGS...]');
  process.exit(2);
}
const startedAt = performance.now();
const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit' });
child.on('error', (error) => {
  console.error(`cannot run ${command[0]}: ${error.message}`);
  process.exit(2);
});
const cpu = new TreeCpu(child.pid!);
child.on('exit', (code, signal) => {
  const { total, byKind } = cpu.stop();
  const wallS = (performance.now() - startedAt) / 1000;
  console.error(`wall ${wallS.toFixed(1)} s, CPU ${total.toFixed(1)} s, exit ${code ?? signal}`);
  for (const { kind, seconds, processes } of byKind) {
    const share = ((100 * seconds) / Math.max(total, 1e-9)).toFixed(0);
    console.error(`  ${kind.padEnd(12)} ${seconds.toFixed(1).padStart(6)} s ${share.padStart(4)}%  (${processes} process${processes === 1 ? '' : 'es'})`);
  }
  process.exitCode = code ?? 1;
});
