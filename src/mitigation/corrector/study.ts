import type { Kernels } from '../../core/kernels.js';
import { type Progress, silentProgress } from '../../core/progress.js';
import { type Summary, summarize } from '../../crossbar/stats.js';
import type { Split } from '../../data/dataset.js';
import { type ChipDefect, describePopulation, type Population, type SpatialPattern } from '../population.js';
import {
  type Corrector,
  type CorrectorShape,
  type CorrectorTraining,
  correctChip,
  correctorName,
  networkCost,
  type TrainedCorrector,
  trainCorrector,
} from './corrector.js';
import {
  type ChipNorm,
  type CorrectorEnv,
  evaluateChips,
  generateVoltageSet,
  type HeldOutChip,
  makeProbes,
  type Predictor,
  type ProbeConfig,
  type VoltageSet,
} from './data.js';

export interface StudyConfig {
  seed: number;
  /** Chips 0..trainChips-1 give training samples; chips trainChips..trainChips+evalChips-1 are held out. */
  trainChips: number;
  evalChips: number;
  imagesPerChip: number;
  probes: ProbeConfig;
  training: CorrectorTraining;
  /** Size sweep: every hidden-width list with every normalisation. */
  sizes: number[][];
  norms: ChipNorm[];
  /** The corrector of the leave-one-type-out matrix and of the calibration sweep. */
  mainSize: number[];
  loo: boolean;
  /** Calibration-image counts for a 'calib' corrector of mainSize. */
  calibSweep: number[];
  /** Per-chip oracle (an upper bound): a corrector trained on oracleImages labelled images of each of the first oracleChips held-out chips. */
  oracleChips: number;
  oracleImages: number;
}

export interface Cost {
  parameters: number;
  macs: number;
  /** Relative to the main network. */
  relParameters: number;
  relMacs: number;
}

export interface TypeStat {
  chips: number;
  uncorrected: number;
  corrected: number;
}

export interface StudyRow {
  name: string;
  hidden: number[];
  norm: ChipNorm;
  calibImages: number;
  /** 'all' or the one defect type left out of training. */
  heldOutType: SpatialPattern | null;
  group: 'size' | 'loo' | 'calib';
  cost: Cost;
  trainChips: number;
  samples: number;
  trainSeconds: number;
  /** Over the held-out chips it was evaluated on (all, or those of heldOutType). */
  summary: Summary;
  uncorrected: Summary;
  byType: Partial<Record<SpatialPattern, TypeStat>>;
}

export interface OracleRow {
  chip: number;
  type: ChipDefect['type'];
  uncorrected: number;
  oracle: number;
  /** The main-size correctors (one per normalisation) on the same chip. */
  corrected: Record<string, number>;
}

export interface StudyResult {
  populationText: string;
  mainNetwork: { parameters: number; macs: number };
  mainSize: number[];
  uncorrected: Summary;
  uncorrectedByType: Partial<Record<SpatialPattern, { chips: number; mean: number }>>;
  rows: StudyRow[];
  oracle: OracleRow[];
  heldOut: HeldOutChip[];
  seconds: number;
}

export function costOf(c: Corrector, main: { parameters: number; macs: number }): Cost {
  const k = networkCost(c.model);
  return { ...k, relParameters: k.parameters / main.parameters, relMacs: k.macs / main.macs };
}

/**
 * The corrector experiments on one population: a training pool and a held-out pool of chips
 * (split by chip), a size x normalisation sweep, the leave-one-defect-type-out matrix, a sweep of
 * calibration images and a per-chip oracle. Every corrector answers on the same held-out voltages.
 */
export function runStudy(
  env: CorrectorEnv,
  pop: Population,
  train: Split,
  test: Split,
  cfg: StudyConfig,
  kernels: Kernels,
  progress: Progress = silentProgress,
): StudyResult {
  const t0 = performance.now();
  const main = networkCost(env.model);
  const maxCalib = Math.max(cfg.probes.calibImages, ...cfg.calibSweep, 0);
  const probes = makeProbes(env, train, cfg.seed, { ...cfg.probes, calibImages: cfg.probes.calibImages }, maxCalib);
  progress.start(cfg.trainChips, 'training chips');
  const set = generateVoltageSet(
    env,
    pop,
    probes,
    train,
    { seed: cfg.seed, firstChip: 0, chips: cfg.trainChips, imagesPerChip: cfg.imagesPerChip },
    (r, done) => progress.update(done, `chip ${r.chip} ${r.type} ${r.kind}: ${(100 * r.uncorrected).toFixed(1)}%`),
  );
  progress.stop();
  progress.log(`${cfg.trainChips} training chips, ${set.n} samples, ${describePopulation(pop)}`);

  interface Job {
    shape: CorrectorShape;
    heldOutType: SpatialPattern | null;
    group: StudyRow['group'];
  }
  const calibK = (norm: ChipNorm) => (norm === 'calib' ? cfg.probes.calibImages : 0);
  const jobs: Job[] = [];
  for (const hidden of cfg.sizes)
    for (const norm of cfg.norms) jobs.push({ shape: { hidden, norm, calibImages: calibK(norm) }, heldOutType: null, group: 'size' });
  if (cfg.loo)
    for (const norm of cfg.norms)
      for (const t of pop.patterns)
        jobs.push({ shape: { hidden: cfg.mainSize, norm, calibImages: calibK(norm) }, heldOutType: t, group: 'loo' });
  for (const k of cfg.calibSweep)
    if (k !== cfg.probes.calibImages || !cfg.norms.includes('calib') || !cfg.sizes.some((s) => same(s, cfg.mainSize)))
      jobs.push({ shape: { hidden: cfg.mainSize, norm: 'calib', calibImages: k }, heldOutType: null, group: 'calib' });

  const trained: { job: Job; t: TrainedCorrector; seconds: number }[] = [];
  jobs.forEach((job, i) => {
    const chips = set.chips.map((_, c) => c).filter((c) => job.heldOutType === null || set.chips[c].type !== job.heldOutType);
    const name = `${correctorName(job.shape)}${job.heldOutType ? ` without ${job.heldOutType}` : ''}`;
    const s0 = performance.now();
    progress.start(cfg.training.epochs, `${i + 1}/${jobs.length} ${name}`);
    const t = trainCorrector(set, job.shape, { ...cfg.training, valFraction: 0 }, kernels, chips, {
      onEpoch: (s) => progress.update(s.epoch, `loss ${s.loss.toFixed(3)} train ${(100 * s.trainAccuracy).toFixed(1)}%`),
    });
    progress.stop();
    const seconds = (performance.now() - s0) / 1000;
    trained.push({ job, t, seconds });
    progress.log(
      `trained ${name} (${t.corrector.model.parameterCount} parameters) on ${t.trainChips} chips: train accuracy ${(100 * (t.history.at(-1)?.trainAccuracy ?? 0)).toFixed(2)}%, ${seconds.toFixed(1)} s`,
    );
  });

  const predictors: Predictor[] = trained.map(
    ({ job, t }) =>
      (f, n, chip) =>
        job.heldOutType && chip.defect.type !== job.heldOutType ? null : correctChip(t.corrector, f, n, chip, kernels),
  );
  progress.start(cfg.evalChips, 'held-out chips');
  const heldOut = evaluateChips(
    env,
    pop,
    probes,
    test,
    { seed: cfg.seed, firstChip: cfg.trainChips, chips: cfg.evalChips },
    predictors,
    (r, done) => progress.update(done, `chip ${r.chip}: ${(100 * r.uncorrected).toFixed(1)}% uncorrected`),
  );
  progress.stop();

  const rows: StudyRow[] = trained.map(({ job, t, seconds }, q) => {
    const evaluated = heldOut.filter((h) => h.corrected[q] !== null);
    const byType: StudyRow['byType'] = {};
    for (const type of pop.patterns) {
      const of = evaluated.filter((h) => h.type === type);
      if (of.length)
        byType[type] = {
          chips: of.length,
          uncorrected: mean(of.map((h) => h.uncorrected)),
          corrected: mean(of.map((h) => h.corrected[q] as number)),
        };
    }
    return {
      name: correctorName(job.shape),
      hidden: job.shape.hidden,
      norm: job.shape.norm,
      calibImages: t.corrector.calibImages,
      heldOutType: job.heldOutType,
      group: job.group,
      cost: costOf(t.corrector, main),
      trainChips: t.trainChips,
      samples: t.samples,
      trainSeconds: seconds,
      summary: summarize(evaluated.map((h) => h.corrected[q] as number)),
      uncorrected: summarize(evaluated.map((h) => h.uncorrected)),
      byType,
    };
  });

  const oracle = runOracle(env, pop, probes, train, test, cfg, kernels, heldOut, trained, progress);
  const uncorrectedByType: StudyResult['uncorrectedByType'] = {};
  for (const type of pop.patterns) {
    const of = heldOut.filter((h) => h.type === type);
    if (of.length) uncorrectedByType[type] = { chips: of.length, mean: mean(of.map((h) => h.uncorrected)) };
  }
  return {
    populationText: describePopulation(pop),
    mainNetwork: main,
    mainSize: cfg.mainSize,
    uncorrected: summarize(heldOut.map((h) => h.uncorrected)),
    uncorrectedByType,
    rows,
    oracle,
    heldOut,
    seconds: (performance.now() - t0) / 1000,
  };
}

function runOracle(
  env: CorrectorEnv,
  pop: Population,
  probes: ReturnType<typeof makeProbes>,
  train: Split,
  test: Split,
  cfg: StudyConfig,
  kernels: Kernels,
  heldOut: HeldOutChip[],
  trained: { job: { shape: CorrectorShape; heldOutType: SpatialPattern | null; group: string }; t: TrainedCorrector }[],
  progress: Progress,
): OracleRow[] {
  const n = Math.min(cfg.oracleChips, heldOut.length);
  if (n <= 0) return [];
  const mains = trained.map((x, q) => ({ ...x, q })).filter((x) => x.job.group === 'size' && same(x.job.shape.hidden, cfg.mainSize));
  const rows: OracleRow[] = [];
  progress.start(n, 'per-chip oracle');
  for (let i = 0; i < n; i++) {
    const h = heldOut[i];
    const one: VoltageSet = generateVoltageSet(env, pop, probes, train, {
      seed: cfg.seed,
      firstChip: h.chip,
      chips: 1,
      imagesPerChip: cfg.oracleImages,
    });
    const t = trainCorrector(
      one,
      { hidden: cfg.mainSize, norm: 'none', calibImages: 0 },
      { ...cfg.training, epochs: Math.max(cfg.training.epochs, 30), batchSize: 64, valFraction: 0 },
      kernels,
    );
    const [r] = evaluateChips(env, pop, probes, test, { seed: cfg.seed, firstChip: h.chip, chips: 1 }, [
      (f, m, chip) => correctChip(t.corrector, f, m, chip, kernels),
    ]);
    const corrected: Record<string, number> = {};
    for (const m of mains) corrected[correctorName(m.job.shape)] = h.corrected[m.q] as number;
    rows.push({ chip: h.chip, type: h.type, uncorrected: h.uncorrected, oracle: r.corrected[0] as number, corrected });
    progress.update(i + 1, `chip ${h.chip}: oracle ${(100 * (r.corrected[0] as number)).toFixed(1)}%`);
  }
  progress.stop();
  return rows;
}

const mean = (a: number[]): number => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : Number.NaN);
const same = (a: number[], b: number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

const pc = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : '-');
const pp = (x: number): string => (Number.isFinite(x) ? (100 * x).toFixed(2) : '-');

/** The study as Markdown tables (docs/corrector.md holds them). */
export function studyMarkdown(r: StudyResult, software: number): string {
  const out: string[] = [];
  const u = r.uncorrected;
  out.push(
    `Population: ${r.populationText}. Main network: ${r.mainNetwork.parameters} parameters, ${r.mainNetwork.macs} multiply-adds per image; software accuracy ${pc(software)}.`,
    '',
    `Correctors trained on ${r.rows[0]?.trainChips ?? 0} chips (${r.rows[0]?.samples ?? 0} samples); held out: ${u.n} other chips on the whole test set.`,
    '',
    `Uncorrected, ${u.n} held-out chips: ${pc(u.mean)} +- ${pp(u.std)} (min ${pc(u.min)}, max ${pc(u.max)}).`,
    '',
  );
  const size = r.rows.filter((x) => x.group === 'size');
  if (size.length) {
    out.push(
      '| corrector | normalisation | parameters | MACs | vs main (params / MACs) | mean | std (pp) | min | p2.5 | normalised |',
      '|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const x of size)
      out.push(
        `| ${x.hidden.length ? `mlp ${x.hidden.join('-')}` : 'linear'} | ${normLabel(x)} | ${x.cost.parameters} | ${x.cost.macs} | ${rel(x.cost.relParameters)} / ${rel(x.cost.relMacs)} | ${pc(x.summary.mean)} | ${pp(x.summary.std)} | ${pc(x.summary.min)} | ${pc(x.summary.p025)} | ${pc(x.summary.mean / software)} |`,
      );
    out.push('');
  }
  const loo = r.rows.filter((x) => x.group === 'loo');
  if (loo.length) {
    const norms = [...new Set(loo.map((x) => x.norm))];
    const inDist = (norm: ChipNorm) => size.find((x) => x.norm === norm && same(x.hidden, loo[0].hidden));
    out.push(
      `Leave-one-defect-type-out (corrector mlp ${loo[0].hidden.join('-') || 'linear'}): trained on the other types, tested on held-out chips of the type; "all" = trained on every type.`,
      '',
      `| held-out type | chips | uncorrected | ${norms.map((n) => `${n}: all | ${n}: left out`).join(' | ')} |`,
      `|---|---|---|${norms.map(() => '---|---').join('|')}|`,
    );
    for (const type of Object.keys(r.uncorrectedByType) as SpatialPattern[]) {
      const ub = r.uncorrectedByType[type];
      const cells = norms.map((n) => {
        const all = inDist(n)?.byType[type]?.corrected ?? Number.NaN;
        const left = loo.find((x) => x.norm === n && x.heldOutType === type)?.summary.mean ?? Number.NaN;
        return `${pc(all)} | ${pc(left)}`;
      });
      out.push(`| ${type} | ${ub?.chips ?? 0} | ${pc(ub?.mean ?? Number.NaN)} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  const calib = r.rows.filter((x) => x.norm === 'calib' && same(x.hidden, r.mainSize) && x.group !== 'loo');
  if (calib.length > 1) {
    out.push(
      `Calibration images per chip ('calib' corrector mlp ${r.mainSize.join('-') || 'linear'}):`,
      '',
      '| calibration images per chip | mean | std (pp) | min | normalised |',
      '|---|---|---|---|---|',
    );
    for (const x of [...calib].sort((a, b) => a.calibImages - b.calibImages))
      out.push(
        `| ${x.calibImages} | ${pc(x.summary.mean)} | ${pp(x.summary.std)} | ${pc(x.summary.min)} | ${pc(x.summary.mean / software)} |`,
      );
    out.push('');
  }
  if (r.oracle.length) {
    const names = Object.keys(r.oracle[0].corrected);
    out.push(
      `Per-chip oracle (a corrector trained on thousands of labelled images of that one chip) on the first ${r.oracle.length} held-out chips:`,
      '',
      `| | uncorrected | ${names.join(' | ')} | oracle |`,
      `|---|---|${names.map(() => '---|').join('')}---|`,
      `| mean | ${pc(mean(r.oracle.map((o) => o.uncorrected)))} | ${names.map((n) => pc(mean(r.oracle.map((o) => o.corrected[n])))).join(' | ')} | ${pc(mean(r.oracle.map((o) => o.oracle)))} |`,
      '',
    );
  }
  return out.join('\n');
}

const rel = (x: number): string => (x >= 0.1 ? x.toFixed(2) : x.toPrecision(2));
const normLabel = (x: StudyRow): string => (x.norm === 'calib' ? `calib (${x.calibImages} images)` : x.norm);
