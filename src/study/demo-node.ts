import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/fs-node.js';
import type { Kernels } from '../core/kernels.js';
import { writeMapFiles } from '../crossbar/maps-node.js';
import type { Dataset } from '../data/dataset.js';
import { calibrateChipsParallel } from '../mitigation/correctnet/calibration-node.js';
import type { Model } from '../nn/model.js';
import { buildReport, writeReport } from '../report/index.js';
import { VERSION } from '../version.js';
import { type DemoConfig, type DemoEnv, type DemoHooks, type DemoResult, runDemoStudy } from './demo.js';

/**
 * The main job in Node: runDemoStudy with the per-chip calibrations on worker threads, then its
 * results in `out`: results.json (format xbar-demo), the defect map of one chip per defect type
 * in maps/<type>/, and report.html drawn from those files.
 */
export async function runDemoFolder(
  model: Model,
  data: Dataset,
  cfg: DemoConfig,
  out: string,
  kernels: Kernels,
  opts: { workers?: number; modelDir?: string } & DemoHooks = {},
): Promise<{ result: DemoResult; report: string }> {
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), cfg.chips));
  const calibrate: DemoEnv['calibrate'] =
    workers > 1
      ? (m, d, c, circuit, test, chips, onChip) =>
          calibrateChipsParallel(m, d, c, circuit, test, chips, { workers, kernels: kernels.name === 'js' ? 'js' : 'native', onChip })
      : undefined;
  const result = await runDemoStudy(model, data, cfg, { kernels, calibrate }, opts);
  const mapsDir = join(out, 'maps');
  rmSync(mapsDir, { recursive: true, force: true }); // never a previous run's maps beside this result
  for (const m of result.maps) writeMapFiles(join(mapsDir, m.type), [m]);
  const { maps: _drawn, ...rest } = result;
  const file = { ...rest, xbarVersion: VERSION, createdAt: new Date().toISOString(), model: opts.modelDir ?? null };
  writeFileAtomic(join(out, 'results.json'), `${JSON.stringify(file, null, 2)}\n`);
  const report = join(out, 'report.html');
  writeReport(await buildReport([out], { title: 'xbar: damage and recovery on simulated ReRAM chips' }), report);
  return { result, report };
}
