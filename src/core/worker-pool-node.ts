import { parentPort, Worker } from 'node:worker_threads';

/** A pool's messages: `{ stop: true }` ends a worker; anything else is a task. */
type PoolTask<T> = T | { stop: true };

/**
 * Runs `tasks` on `workers` threads of the script at `url` (each started with workerData = job),
 * handing the next task to whichever worker asks, so a worker slowed by the other tenants of a
 * shared machine does not leave the rest idle at the end. A worker posts any number of messages
 * per task; `isDone(message)` says it wants the next one. After a failure the other workers are
 * terminated instead of running to the end of their tasks.
 */
export async function runWorkerPool<T, M>(
  url: URL,
  job: unknown,
  workers: number,
  tasks: T[],
  onMessage: (m: M) => void,
  isDone: (m: M) => boolean,
): Promise<void> {
  const pool: Worker[] = [];
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: workers }, () => {
        const worker = new Worker(url, { workerData: job });
        pool.push(worker);
        const give = () => worker.postMessage((next < tasks.length ? tasks[next++] : { stop: true }) satisfies PoolTask<T>);
        return new Promise<void>((resolve, reject) => {
          worker.on('message', (m: M) => {
            onMessage(m);
            if (isDone(m)) give();
          });
          worker.on('error', reject);
          worker.on('exit', (code) =>
            code === 0 ? resolve() : reject(new Error(`worker ${url.pathname.split('/').pop()} exited with code ${code}`)),
          );
          give();
        });
      }),
    );
  } finally {
    for (const w of pool) void w.terminate();
  }
}

/**
 * The worker side of runWorkerPool: runs `handle` on each task with a function that posts a
 * message back, until the pool says stop. `who` names the script in the error it throws when
 * started outside a pool.
 */
export function servePool<T, M>(who: string, handle: (task: T, post: (m: M) => void) => void): void {
  const port = parentPort;
  if (!port) throw new Error(`${who} runs as a worker thread of runWorkerPool`);
  const post = (m: M) => port.postMessage(m);
  port.on('message', (task: PoolTask<T>) => {
    if (typeof task === 'object' && task !== null && 'stop' in task) port.close();
    else handle(task as T, post);
  });
}
