import { loadKernels } from '../../core/kernels-node.js';
import { servePool } from '../../core/worker-pool-node.js';
import { buildModel, setWeights } from '../../nn/model.js';
import { type CalibratedChipResult, calibrateAndMeasure, calibrateAndSimulate, chipConfig } from './calibration.js';
import type { CalibrationJob, CalibrationTask } from './calibration-node.js';

// A worker of calibrateChipsParallel: for each run, rebuild the model from the job, then calibrate
// and measure the chips it is given, each from the weights it was sent.
servePool<CalibrationJob, CalibrationTask, CalibratedChipResult>('calibration-worker.js', (job) => {
  const model = buildModel(job.spec, 0);
  const kernels = loadKernels({ prefer: job.kernels, threads: 1 });
  return (task, post) => {
    setWeights(model, job.weights);
    const cfg = chipConfig(job.cfg, task.chip);
    post(
      job.circuit
        ? calibrateAndSimulate(model, job.data, cfg, job.circuit, job.test, kernels)
        : calibrateAndMeasure(model, job.data, cfg, job.test, kernels),
    );
  };
});
