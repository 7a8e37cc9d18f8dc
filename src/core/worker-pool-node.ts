import { parentPort, Worker } from 'node:worker_threads';

/** Main thread to worker: a run's job (sent before its tasks), one task, or the end of the run. */
export type PoolMessage<J, T> = { job: J } | { task: T } | { end: true };

/**
 * Worker threads of one script, kept between runs. Starting a worker costs its module graph, the
 * native addon and, above all, a cold JIT and heap: an `mlp` Monte Carlo worker ran its first ~10
 * chips 1.3-1.5x slower than the rest, ~0.3 s of a 5 s run, and the calibrated placement search
 * starts a run per placement it evaluates. So a run's workers stay alive (unreferenced, so they
 * never keep the process alive) for the next run of the same script and size. Nothing of a run's
 * job survives into the next: each run sends its job first, the worker builds its state from it
 * (servePool) and drops it at the run's end; what carries over is the warm JIT and heap.
 */
class WorkerPool {
  private workers: Worker[] = [];
  broken = false;

  constructor(
    readonly url: URL,
    readonly size: number,
  ) {}

  /**
   * Runs `tasks` on the pool, handing the next task to whichever worker asks, so a worker slowed by
   * the other tenants of a shared machine does not leave the rest idle at the end. A worker posts
   * any number of messages per task; `isDone(message)` says it wants the next one. Any worker error
   * rejects the run and ends the pool.
   */
  async run<T, M>(job: unknown, tasks: T[], onMessage: (m: M) => void, isDone: (m: M) => boolean): Promise<void> {
    while (this.workers.length < this.size) {
      const w = new Worker(this.url);
      // Always listened to, so that an idle worker's end marks the pool unusable (the next run then
      // starts fresh workers instead of waiting on a dead one) and never throws in the main thread.
      w.on('error', () => this.close());
      w.on('exit', () => this.close());
      this.workers.push(w);
    }
    let next = 0;
    const cleanups: (() => void)[] = [];
    try {
      await Promise.all(
        this.workers.map(
          (worker) =>
            new Promise<void>((resolve, reject) => {
              const give = () => {
                if (next < tasks.length) worker.postMessage({ task: tasks[next++] } satisfies PoolMessage<unknown, T>);
                else resolve();
              };
              const message = (m: M) => {
                // A message after a failure elsewhere is dropped: the run has already rejected.
                if (this.broken) return;
                onMessage(m);
                if (isDone(m)) give();
              };
              const exit = (code: number) => reject(new Error(`worker ${this.url.pathname.split('/').pop()} exited with code ${code}`));
              worker.on('message', message);
              worker.on('error', reject);
              worker.on('exit', exit);
              cleanups.push(() => {
                worker.off('message', message);
                worker.off('error', reject);
                worker.off('exit', exit);
              });
              worker.ref();
              worker.postMessage({ job } satisfies PoolMessage<unknown, T>);
              give();
            }),
        ),
      );
    } catch (e) {
      this.broken = true;
      throw e;
    } finally {
      for (const c of cleanups) c();
      if (this.broken) this.close();
      else
        for (const w of this.workers) {
          // The worker drops what it built from the job (a Monte Carlo worker holds up to 64 MiB of
          // shared work), so an idle pool holds only its threads.
          w.postMessage({ end: true } satisfies PoolMessage<unknown, T>);
          w.unref();
        }
    }
  }

  close(): void {
    this.broken = true;
    const workers = this.workers;
    this.workers = [];
    for (const w of workers) void w.terminate();
  }
}

/** Idle pools by script; a pool is taken out while it runs, so concurrent runs never share one. */
const idle = new Map<string, WorkerPool>();

/**
 * Runs `tasks` on `workers` threads of the script at `url` (a servePool script), reusing the
 * threads of an earlier run of the same script and size when they are idle (WorkerPool). Each
 * worker gets `job` before its first task of this run. After a failure the other workers are
 * terminated instead of running to the end of their tasks, and the next run starts fresh ones.
 */
export async function runWorkerPool<T, M>(
  url: URL,
  job: unknown,
  workers: number,
  tasks: T[],
  onMessage: (m: M) => void,
  isDone: (m: M) => boolean,
): Promise<void> {
  let pool = idle.get(url.href);
  if (pool && (pool.broken || pool.size !== workers)) {
    pool.close();
    pool = undefined;
  }
  idle.delete(url.href);
  pool ??= new WorkerPool(url, workers);
  try {
    await pool.run(job, tasks, onMessage, isDone);
  } finally {
    // Another run of this script may have parked its pool meanwhile: keep one, end the other.
    if (!pool.broken) {
      const parked = idle.get(url.href);
      if (parked) pool.close();
      else idle.set(url.href, pool);
    }
  }
}

/** Ends every idle pool's workers (a long-lived process that is done with parallel runs). */
export function closeWorkerPools(): void {
  for (const p of idle.values()) p.close();
  idle.clear();
}

/**
 * The worker side of runWorkerPool: for each run, `start(job)` builds what the run's tasks need and
 * returns the task handler, which gets each task with a function that posts a message back. `who`
 * names the script in the error it throws when started outside a pool.
 */
export function servePool<J, T, M>(who: string, start: (job: J) => (task: T, post: (m: M) => void) => void): void {
  const port = parentPort;
  if (!port) throw new Error(`${who} runs as a worker thread of runWorkerPool`);
  const post = (m: M) => port.postMessage(m);
  let handle: ((task: T, post: (m: M) => void) => void) | null = null;
  port.on('message', (m: PoolMessage<J, T>) => {
    if ('job' in m) handle = start(m.job);
    else if ('end' in m) handle = null;
    else if (handle) handle(m.task, post);
    else throw new Error(`${who}: a task came before its job`);
  });
}
