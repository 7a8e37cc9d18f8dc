import { loadKernels } from '../core/kernels-node.js';
import { servePool } from '../core/worker-pool-node.js';
import { buildModel, setWeights } from '../nn/model.js';
import { runMonteCarlo } from './montecarlo.js';
import type { WorkerJob, WorkerReport, WorkerTask } from './parallel-node.js';
import { SharedWork } from './shared-work.js';

// A worker of a parallel Monte Carlo run (parallel-node.ts): for each run, rebuild the model from
// the job, then run the ranges of chips it is given, reporting each chip. The work every chip of the
// run shares (chip base, per-batch inputs) is kept across its ranges: they are all chips of one study.
// Nothing is kept from one run to the next (runWorkerPool keeps the thread for its warm JIT only).
servePool<WorkerJob, WorkerTask, WorkerReport>('mc-worker.js', (job) => {
  const model = setWeights(buildModel(job.spec, 0), job.weights);
  const kernels = loadKernels({ prefer: job.kernels, threads: 1 });
  const share = new SharedWork();
  return (task, report) => {
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
  };
});
