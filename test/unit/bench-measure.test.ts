// The bench's CPU accounting (bench/measure.ts): this process's CPU time and its children's, as /proc counts them.
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { cpuSecondsByProcess, measure } from '../../bench/measure.js';

const burn = (ms: number) => {
  const until = Date.now() + ms;
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  return x;
};

it.runIf(process.platform === 'linux')("counts this process's CPU time and a child process's", async () => {
  const own = await measure(async () => burn(300));
  expect(own.cpuSeconds).toBeGreaterThan(0.2);
  expect(own.cpuSeconds).toBeLessThan(own.seconds + 0.5);
  expect(own.cpuByProcess!['this process']).toBeGreaterThan(0.2);

  // a child that burns ~0.6 s of CPU while this process mostly waits for it: read while it still runs
  const child = spawn(process.execPath, ['-e', 'const u = Date.now() + 600; let x = 0; while (Date.now() < u) x += Math.sqrt(x + 1); setTimeout(() => {}, 5000);']);
  try {
    const before = cpuSecondsByProcess()!;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = cpuSecondsByProcess()!;
    expect((after.node ?? 0) - (before.node ?? 0)).toBeGreaterThan(0.4);
    expect(after['this process'] - before['this process']).toBeLessThan(0.4);
  } finally {
    child.kill();
  }
});
