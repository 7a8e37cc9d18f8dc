import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The pool as built (npm test builds dist/ first): its workers are plain JS scripts.
const dist = pathToFileURL(resolve('dist/core/worker-pool-node.js')).href;
const { runWorkerPool, closeWorkerPools } = (await import(dist)) as typeof import('../../src/core/worker-pool-node.js');

const work = mkdtempSync(join(tmpdir(), 'xbar-pool-'));
afterAll(() => {
  closeWorkerPools();
  rmSync(work, { recursive: true, force: true });
});

// A worker that answers each task with job.k * task.x and its thread id; task.x < 0 throws.
const script = join(work, 'worker.mjs');
writeFileSync(
  script,
  `import { threadId } from 'node:worker_threads';
import { servePool } from ${JSON.stringify(dist)};
servePool('test-worker', (job) => (task, post) => {
  if (task.x < 0) throw new Error('task ' + task.x + ' failed');
  post({ y: job.k * task.x, thread: threadId });
});
`,
);
const url = pathToFileURL(script);

async function run(k: number, xs: number[], workers = 2): Promise<{ y: number[]; threads: Set<number> }> {
  const got: { y: number; thread: number }[] = [];
  await runWorkerPool<{ x: number }, { y: number; thread: number }>(
    url,
    { k },
    workers,
    xs.map((x) => ({ x })),
    (m) => got.push(m),
    () => true,
  );
  return { y: got.map((m) => m.y).sort((a, b) => a - b), threads: new Set(got.map((m) => m.thread)) };
}

describe('runWorkerPool (worker threads kept between runs)', () => {
  it("runs each run's tasks with that run's job, on the threads of the previous run", async () => {
    const xs = Array.from({ length: 20 }, (_, i) => i + 1);
    const a = await run(3, xs);
    const b = await run(-2, xs);
    expect(a.y).toEqual(xs.map((x) => 3 * x));
    expect(b.y).toEqual(xs.map((x) => -2 * x).sort((p, q) => p - q));
    // Both workers took tasks, and the second run used the same two threads.
    expect(a.threads.size).toBe(2);
    expect(b.threads).toEqual(a.threads);
  });

  it('rejects a run whose task fails, and starts fresh threads for the next run', async () => {
    const before = await run(1, [1, 2, 3, 4]);
    await expect(run(1, [1, 2, -3, 4, 5, 6])).rejects.toThrow(/task -3 failed/);
    const after = await run(5, [1, 2, 3, 4]);
    expect(after.y).toEqual([5, 10, 15, 20]);
    for (const t of after.threads) expect(before.threads.has(t)).toBe(false);
  });

  it('gives concurrent runs of one script their own workers', async () => {
    const xs = Array.from({ length: 30 }, (_, i) => i);
    const [a, b] = await Promise.all([run(2, xs), run(7, xs)]);
    expect(a.y).toEqual(xs.map((x) => 2 * x));
    expect(b.y).toEqual(xs.map((x) => 7 * x));
    for (const t of b.threads) expect(a.threads.has(t)).toBe(false);
  });

  it('starts new threads when a run asks for another number of workers', async () => {
    const two = await run(1, [1, 2, 3, 4, 5, 6]);
    const one = await run(1, [1, 2, 3], 1);
    expect(one.y).toEqual([1, 2, 3]);
    expect(one.threads.size).toBe(1);
    for (const t of one.threads) expect(two.threads.has(t)).toBe(false);
  });

  it("drops a run's state at its end: a task after the end, without a new job, is refused", async () => {
    const { Worker } = await import('node:worker_threads');
    const w = new Worker(url);
    // Read now: a worker that has exited (as this one does on the refusal) reports threadId -1.
    const thread = w.threadId;
    const replies: unknown[] = [];
    // Settles on the refusal, or on an answer to the task after the end (the state kept).
    const outcome = new Promise<string>((resolve) => {
      w.once('error', (e) => resolve(e.message));
      w.on('message', (m) => {
        replies.push(m);
        if (replies.length === 2) resolve('answered after the end');
      });
    });
    w.postMessage({ job: { k: 4 } });
    w.postMessage({ task: { x: 2 } });
    w.postMessage({ end: true });
    w.postMessage({ task: { x: 3 } });
    expect(await outcome).toMatch(/test-worker: a task came before its job/);
    expect(replies).toEqual([{ y: 8, thread }]);
    await w.terminate();
  });

  it('never keeps a process alive after its runs', () => {
    const main = join(work, 'main.mjs');
    writeFileSync(
      main,
      `import { runWorkerPool } from ${JSON.stringify(dist)};
let n = 0;
await runWorkerPool(new URL(${JSON.stringify(url.href)}), { k: 1 }, 2, [{ x: 1 }, { x: 2 }], () => n++, () => true);
console.log('ran ' + n);
`,
    );
    // Hangs (and fails on the timeout) if the idle workers held the event loop.
    const out = execFileSync(process.execPath, [main], { encoding: 'utf8', timeout: 20_000 });
    expect(out.trim()).toBe('ran 2');
  });
});
