import { describe, expect, it } from 'vitest';
import type { Kernels } from '../../src/core/kernels.js';
import { jsKernels } from '../../src/core/kernels-js.js';
import { Rng } from '../../src/core/rng.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { runMonteCarlo } from '../../src/crossbar/montecarlo.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { loadDataset } from '../../src/data/node.js';
import { resolveDevice } from '../../src/device/config.js';
import { buildModel } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';
import { train } from '../../src/nn/train.js';

/**
 * The variation stream before 0.2 (CHANGELOG.md): sfc32 from Rng.derive(seed, chip, layer, 1),
 * two normals per cell by Box-Muller with Math.log, cos, sin and exp. Kept here only to show that
 * the Philox stream that replaced it draws chips of the same accuracy distribution.
 */
const sfc32Variation: Kernels = {
  ...jsKernels,
  lognormalPairs(tPos, tNeg, sigma, st, gPos, gNeg) {
    const rng = Rng.derive(st.key0, st.key1, st.ctr2, st.ctr3);
    for (let i = 0; i < tPos.length; i++) {
      let u = 0;
      while (u === 0) u = rng.uniform();
      const v = rng.uniform();
      const r = Math.sqrt(-2 * Math.log(u));
      gPos[i] = tPos[i] * Math.exp(sigma * (r * Math.cos(2 * Math.PI * v)));
      gNeg[i] = tNeg[i] * Math.exp(sigma * (r * Math.sin(2 * Math.PI * v)));
    }
  },
};

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { mean, sd };
};

describe('the Philox variation stream against the sfc32 stream it replaced', () => {
  it('200 chips: the same mean and spread of accuracy within Monte Carlo error', () => {
    const digits = loadDataset('digits8', { limitTrain: 1500, limitTest: 300 });
    const model = buildModel(presets['mlp-paper'].spec, 8);
    train(
      model,
      digits.train,
      null,
      { epochs: 2, batchSize: 50, optimizer: { name: 'adam', lr: 0.01 }, schedule: 'constant', seed: 1 },
      jsKernels,
    );
    const plan = planCrossbars(model, resolveCircuit({}), digits.train.x.subarray(0, 500 * 64), 500, jsKernels);
    // A sigma that costs accuracy and spreads it (sd ~ several points), so that a wrong transform shows.
    const device = resolveDevice('reram-generic', { programSigma: 0.3 });
    const chips = 200;
    const acc = (k: Kernels) => runMonteCarlo(model, plan, device, [], digits.test, { chips, seed: 4 }, k).chips.map((c) => c.accuracy);
    const now = stats(acc(jsKernels));
    const before = stats(acc(sfc32Variation));
    expect(now.sd).toBeGreaterThan(0.01);
    // Two independent samples of 200 chips: the difference of means has std sqrt(sd1^2 + sd2^2) / sqrt(200);
    // 4 of those (a false alarm once in ~16000 runs, and these seeds are fixed).
    expect(Math.abs(now.mean - before.mean)).toBeLessThan(4 * Math.sqrt((now.sd ** 2 + before.sd ** 2) / chips));
    // log of a sample sd has std ~ 1/sqrt(2(n - 1)); the log ratio of two, sqrt(2) times that.
    expect(Math.abs(Math.log(now.sd / before.sd))).toBeLessThan(4 * Math.sqrt(2 / (2 * (chips - 1))));
  });
});
