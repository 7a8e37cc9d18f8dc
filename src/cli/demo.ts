import { join } from 'node:path';
import type { Command } from 'commander';
import { makeProgress } from '../core/progress-node.js';
import { demoTable } from '../report/kinds/demo.js';
import { DEMO_DEFAULTS, type DemoConfig } from '../study/demo.js';
import { runDemoFolder } from '../study/demo-node.js';
import { runTrain } from '../study/train-node.js';
import { common, floatOption, intOption, kernelsFrom, pct } from './options.js';

/**
 * `xbar demo` (`npm start`): train the papers' network, damage it on simulated chips (variation,
 * spatial defects), recover it with the calibrated corrector and per-chip compensation, and write
 * the report. The study is src/study/demo.ts; this only reads flags and prints.
 */
export function registerDemo(p: Command): void {
  common(
    p
      .command('demo')
      .description(
        'the main job end to end: train mlp-paper on digits8, damage it on simulated ReRAM chips (programming variation; one spatial defect per chip), recover it (calibrated learned corrector, per-chip calibrated compensation) and write an HTML report',
      )
      .option('-o, --out <dir>', 'where to save the model, the results and report.html', 'runs/demo')
      .option('-c, --chips <n>', 'damaged chips per scenario', intOption(1, 100_000), DEMO_DEFAULTS.chips)
      .option('--sigma <x>', 'programming variation of the variation scenario (log-normal sigma)', floatOption(0, 10), DEMO_DEFAULTS.sigma)
      .option(
        '--train-chips <n>',
        'chips the corrector is trained on (not the damaged ones)',
        intOption(2, 1_000_000),
        DEMO_DEFAULTS.corrector.trainChips,
      )
      .option('--workers <n>', 'worker threads for the per-chip calibrations (default: one per core)', intOption(1, 256))
      .option('-s, --seed <n>', 'random seed', intOption(0, 2 ** 31 - 1), DEMO_DEFAULTS.seed),
  ).action(async (o) => {
    const kernels = kernelsFrom(o);
    const quiet = Boolean(o.quiet || o.json);
    const progress = makeProgress(quiet);
    const t0 = performance.now();
    const modelDir = join(o.out, 'mlp-paper');
    const t = runTrain({ model: 'mlp-paper', seed: o.seed, valFraction: 0.1, out: modelDir }, kernels, progress);
    const cfg: DemoConfig = {
      ...DEMO_DEFAULTS,
      chips: o.chips,
      seed: o.seed,
      sigma: o.sigma,
      corrector: { ...DEMO_DEFAULTS.corrector, trainChips: o.trainChips },
    };
    let started = false;
    const { result, report } = await runDemoFolder(t.model, t.dataset, cfg, o.out, kernels, {
      workers: o.workers,
      modelDir,
      onStep: (label, total) => {
        if (started) progress.stop();
        progress.start(total, label);
        started = true;
      },
      onProgress: (done, note) => progress.update(done, note),
    });
    progress.stop();
    const seconds = (performance.now() - t0) / 1000;
    if (o.json) {
      const { maps: _maps, ...rest } = result;
      console.log(JSON.stringify({ ...rest, model: modelDir, report, seconds }, null, 2));
      return;
    }
    console.log(
      `trained mlp-paper (64-8-8-8-10, ${t.model.parameterCount} parameters) on digits8 in ${t.seconds.toFixed(1)} s: test accuracy ${pct(result.software)} on ${result.testImages} images`,
    );
    const table = demoTable(result);
    const widths = table.columns.map((c, i) => Math.max(c.length, ...table.rows.map((r) => r[i].length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd();
    console.log('');
    console.log(line(table.columns));
    for (const r of table.rows) console.log(line(r));
    console.log('');
    console.log(`${o.chips} chips per scenario, seed ${o.seed}; ${seconds.toFixed(0)} s in all. Report: ${report}`);
  });
}
