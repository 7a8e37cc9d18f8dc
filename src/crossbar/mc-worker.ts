import { parentPort, workerData } from 'node:worker_threads';
import { loadKernels } from '../core/kernels-node.js';
import { buildModel } from '../nn/model.js';
import { runMonteCarlo } from './montecarlo.js';
import type { WorkerJob } from './parallel-node.js';

// One share of a parallel Monte Carlo run (parallel-node.ts): rebuild the model, run, report each chip.
const job = workerData as WorkerJob;
const model = buildModel(job.spec, 0);
model.params.forEach((p, i) => {
  p.value.set(job.weights[i]);
});
const kernels = loadKernels({ prefer: job.kernels, threads: 1 });
runMonteCarlo(model, job.plan, job.device, job.faults, job.test, job.cfg, kernels, {
  onChip: (chip) => parentPort?.postMessage({ chip }),
});
