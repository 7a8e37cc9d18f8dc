import type { Kernels } from '../core/kernels.js';
import { programChip } from '../crossbar/chip.js';
import type { CrossbarPlan } from '../crossbar/plan.js';
import { simulateBatch } from '../crossbar/simulate.js';
import type { Split } from '../data/dataset.js';
import type { Device } from '../device/config.js';
import type { FaultSpec } from '../faults/index.js';
import type { Model } from '../nn/model.js';
import type { SpiceEngine } from './engine.js';
import { buildNetlist, checkSpiceSupport, type SpiceNetlist } from './netlist.js';
import { runNetlist, type SpiceFailure } from './run.js';

export interface CompareConfig {
  chips: number;
  seed: number;
  firstChip?: number;
  /** TIA op-amp open-loop gain; Infinity = ideal op-amps. */
  opampGain: number;
  /**
   * The plan the behavioural model runs with, when it differs from the circuit in the netlist:
   * e.g. ideal wires against a netlist with wire resistance, to see what IR drop costs.
   */
  modelPlan?: CrossbarPlan;
}

/** Behavioural model vs SPICE on one chip, over the same images. Errors are in volts at the outputs. */
export interface ChipComparison {
  chip: number;
  images: number;
  maxAbsError: number;
  meanAbsError: number;
  /** Per image, max_j |V_spice - V_model| / max_j |V_model|; the largest over images. */
  maxRelError: number;
  /** Share of images with the same predicted class (a SPICE failure counts as a disagreement). */
  agreement: number;
  behaviouralAccuracy: number;
  /** Accuracy from the SPICE outputs (a failed image counts as wrong). */
  spiceAccuracy: number;
  failures: SpiceFailure[];
  /** Behavioural: programming the chip (incl. the IR-drop solve) + simulating the images. */
  behaviouralSeconds: number;
  /** SPICE: building the netlist + the engine runs. */
  spiceSeconds: number;
  spiceRuns: number;
}

export interface CompareSummary {
  chips: number;
  images: number;
  maxAbsError: number;
  meanAbsError: number;
  maxRelError: number;
  agreement: number;
  behaviouralAccuracy: number;
  spiceAccuracy: number;
  failures: number;
  behaviouralSecondsPerImage: number;
  spiceSecondsPerImage: number;
  speedup: number;
}

export interface CompareResult {
  engine: string;
  chips: ChipComparison[];
  summary: CompareSummary;
  netlist: SpiceNetlist['counts'];
}

export interface CompareHooks {
  onChip?: (r: ChipComparison, done: number) => void;
  /** Each chip's netlist, e.g. to save it. */
  onNetlist?: (chip: number, net: SpiceNetlist) => void;
}

const argmax = (v: ArrayLike<number>, off: number, n: number): number => {
  let best = 0;
  for (let j = 1; j < n; j++) if (v[off + j] > v[off + best]) best = j;
  return best;
};

/**
 * Runs the same chips (programChip: same seeds, defect maps and variation as `xbar simulate`)
 * through the behavioural model and through SPICE, on the first `test.n` images, and compares the
 * output voltages and predictions.
 */
export async function compareWithSpice(
  model: Model,
  plan: CrossbarPlan,
  dev: Device,
  faults: FaultSpec,
  test: Split,
  cfg: CompareConfig,
  engine: SpiceEngine,
  kernels: Kernels,
  hooks: CompareHooks = {},
): Promise<CompareResult> {
  checkSpiceSupport(model, plan, dev);
  const n = test.n;
  const nOut = model.outputSize;
  const first = cfg.firstChip ?? 0;
  const chips: ChipComparison[] = [];
  let counts: SpiceNetlist['counts'] = { cells: 0, wires: 0, arrays: 0, opamps: 0 };
  for (let c = first; c < first + cfg.chips; c++) {
    let t = performance.now();
    const mplan = cfg.modelPlan ?? plan;
    const chip = programChip(mplan, dev, faults, cfg.seed, c, { kernels });
    const h = simulateBatch(model, mplan, chip.layers, dev, test.x, n, { kernels, rng: null }).data;
    const vModel = Float64Array.from(h, (v) => v * mplan.voltsPerUnit);
    const behaviouralSeconds = (performance.now() - t) / 1000;

    // The same chip: conductances do not depend on the wires, so either plan programs the same cells.
    t = performance.now();
    const net = buildNetlist(model, plan, chip.layers, dev, test.x, n, {
      opampGain: cfg.opampGain,
      title: `xbar chip ${c} (seed ${cfg.seed}), ${n} images`,
    });
    counts = net.counts;
    hooks.onNetlist?.(c, net);
    const netSeconds = (performance.now() - t) / 1000;
    const sp = await runNetlist(engine, net);

    let maxAbs = 0;
    let sumAbs = 0;
    let nAbs = 0;
    let maxRel = 0;
    let agree = 0;
    let okModel = 0;
    let okSpice = 0;
    const failed = new Set(sp.failures.map((f) => f.image));
    for (let i = 0; i < n; i++) {
      const pm = argmax(vModel, i * nOut, nOut);
      if (pm === test.y[i]) okModel++;
      if (failed.has(i)) continue;
      const ps = argmax(sp.volts, i * nOut, nOut);
      if (ps === test.y[i]) okSpice++;
      if (ps === pm) agree++;
      let imgMax = 0;
      let imgScale = 0;
      for (let j = 0; j < nOut; j++) {
        const e = Math.abs(sp.volts[i * nOut + j] - vModel[i * nOut + j]);
        imgMax = Math.max(imgMax, e);
        imgScale = Math.max(imgScale, Math.abs(vModel[i * nOut + j]));
        sumAbs += e;
        nAbs++;
      }
      maxAbs = Math.max(maxAbs, imgMax);
      maxRel = Math.max(maxRel, imgScale > 0 ? imgMax / imgScale : imgMax > 0 ? Number.POSITIVE_INFINITY : 0);
    }
    const r: ChipComparison = {
      chip: c,
      images: n,
      maxAbsError: maxAbs,
      meanAbsError: nAbs ? sumAbs / nAbs : 0,
      maxRelError: maxRel,
      agreement: n ? agree / n : 1,
      behaviouralAccuracy: n ? okModel / n : 0,
      spiceAccuracy: n ? okSpice / n : 0,
      failures: sp.failures,
      behaviouralSeconds,
      spiceSeconds: netSeconds + sp.seconds,
      spiceRuns: sp.runs,
    };
    chips.push(r);
    hooks.onChip?.(r, chips.length);
  }
  return { engine: `${engine.name} (${engine.version})`, chips, summary: summarize(chips), netlist: counts };
}

function summarize(chips: ChipComparison[]): CompareSummary {
  const images = chips.reduce((a, c) => a + c.images, 0);
  const mean = (f: (c: ChipComparison) => number) => (images ? chips.reduce((a, c) => a + f(c) * c.images, 0) / images : 0);
  const beh = chips.reduce((a, c) => a + c.behaviouralSeconds, 0) / Math.max(images, 1);
  const sp = chips.reduce((a, c) => a + c.spiceSeconds, 0) / Math.max(images, 1);
  return {
    chips: chips.length,
    images,
    maxAbsError: Math.max(0, ...chips.map((c) => c.maxAbsError)),
    meanAbsError: mean((c) => c.meanAbsError),
    maxRelError: Math.max(0, ...chips.map((c) => c.maxRelError)),
    agreement: mean((c) => c.agreement),
    behaviouralAccuracy: mean((c) => c.behaviouralAccuracy),
    spiceAccuracy: mean((c) => c.spiceAccuracy),
    failures: chips.reduce((a, c) => a + c.failures.length, 0),
    behaviouralSecondsPerImage: beh,
    spiceSecondsPerImage: sp,
    speedup: beh > 0 ? sp / beh : Number.POSITIVE_INFINITY,
  };
}
