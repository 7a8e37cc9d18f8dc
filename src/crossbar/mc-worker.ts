import { workerData } from 'node:worker_threads';
import { loadKernels } from '../core/kernels-node.js';
import { servePool } from '../core/worker-pool-node.js';
import { buildModel, setWeights } from '../nn/model.js';
import { runMonteCarlo } from './montecarlo.js';
import type { WorkerJob, WorkerReport, WorkerTask } from './parallel-node.js';
import { SharedWork } from './shared-work.js';

// A worker of a parallel Monte Carlo run (parallel-node.ts): rebuild the model once, then run the
// ranges of chips it is given, reporting each chip, until told to stop. The work every chip shares
// (chip base, per-batch inputs) is kept across the ranges: they are all chips of one study.
const job = workerData as WorkerJob;
const model = setWeights(buildModel(job.spec, 0), job.weights);
const kernels = loadKernels({ prefer: job.kernels, threads: 1 });
const share = new SharedWork();
servePool<WorkerTask, WorkerReport>('mc-worker.js', (task, report) => {
  runMonteCarlo(
    model,
    job.plan,
    job.device,
    job.faults,
    job.test,
    { ...job.cfg, firstChip: task.first, chips: task.chips },
    kernels,
    { onChip: (chip) => report({ chip }) },
    share,
  );
  report({ done: true });
});
