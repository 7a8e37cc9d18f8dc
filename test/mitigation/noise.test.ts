import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { philoxStream } from '../../src/core/philox.js';
import { Rng } from '../../src/core/rng.js';
import { programChip } from '../../src/crossbar/chip.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { runMonteCarlo } from '../../src/crossbar/montecarlo.js';
import { calibrateRails, planCrossbars } from '../../src/crossbar/plan.js';
import { loadDataset } from '../../src/data/node.js';
import { resolveDevice } from '../../src/device/config.js';
import { withCompensation } from '../../src/mitigation/correctnet/compensation.js';
import { softwareChipAccuracy } from '../../src/mitigation/correctnet/correctnet.js';
import { perturbLayer, Rails, WeightNoise, weightedLayers } from '../../src/mitigation/noise.js';
import { buildModel } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';
import { train } from '../../src/nn/train.js';

const model = buildModel(presets['mlp-paper'].spec, 4);
const calib = new Rng(2).fillNormal(new Float32Array(50 * 64), 0.5, 0.2);

describe('noise injection follows the simulator', () => {
  it.each([
    ['reram-generic', 0.3, 'layer'],
    ['reram-generic', 1.0, 'column'],
    ['reram-liu2017', 0.2, 'layer'],
  ] as const)('a software chip (%s, sigma %f, %s scaling) equals programChip bit for bit', (preset, sigma, scaling) => {
    const device = resolveDevice(preset, { programSigma: sigma });
    const plan = planCrossbars(model, resolveCircuit({ scaling }), calib, 50, jsKernels);
    const seed = 11;
    for (const chipIndex of [0, 7]) {
      const chip = programChip(plan, device, [], seed, chipIndex);
      weightedLayers(model).forEach((l, k) => {
        const out = { weight: new Float32Array(l.weight.value.length), bias: new Float32Array(l.bias.value.length) };
        perturbLayer(l.weight.value, l.bias.value, device, scaling, philoxStream(seed, chipIndex, k, 1), out);
        const wEff = chip.layers[k].wEff;
        expect(Array.from(out.weight)).toEqual(Array.from(wEff.subarray(0, out.weight.length)));
        expect(Array.from(out.bias)).toEqual(Array.from(wEff.subarray(out.weight.length)));
      });
    }
  });

  it('with rails, a software chip is the simulated chip: the same accuracy, chip for chip', () => {
    const digits = loadDataset('digits8', { limitTrain: 1500, limitTest: 400 });
    const m = buildModel(presets['mlp-paper'].spec, 8);
    train(
      m,
      digits.train,
      null,
      { epochs: 2, batchSize: 50, optimizer: { name: 'adam', lr: 0.01 }, schedule: 'constant', seed: 1 },
      jsKernels,
    );
    const device = resolveDevice('reram-generic', { programSigma: 0.4 });
    const calib = { x: digits.train.x.subarray(0, 1000 * 64), n: 1000 };
    const plan = planCrossbars(m, resolveCircuit({}), calib.x, calib.n, jsKernels);
    const sim = runMonteCarlo(m, plan, device, [], digits.test, { chips: 6, seed: 9 }, jsKernels).chips.map((c) => c.accuracy);
    expect(softwareChipAccuracy(m, digits.test, device, 6, 9, jsKernels, { calib })).toEqual(sim);
    // Without rails the saturation is missing: at a large sigma some chip differs.
    const wide = resolveDevice('reram-generic', { programSigma: 1.2 });
    const simWide = runMonteCarlo(m, plan, wide, [], digits.test, { chips: 6, seed: 9 }, jsKernels).chips.map((c) => c.accuracy);
    expect(softwareChipAccuracy(m, digits.test, wide, 6, 9, jsKernels, { calib })).toEqual(simWide);
    expect(softwareChipAccuracy(m, digits.test, wide, 6, 9, jsKernels)).not.toEqual(simWide);
    const rails = new Rails(m);
    rails.calibrate(calib.x, calib.n, jsKernels);
    expect(rails.rails).toEqual(plan.layers.map((l) => l.rail));
  });

  it('calibrateRails gives the rails of planCrossbars: modules, graphs, linear layers, no saturation', () => {
    const lenet = withCompensation(
      buildModel(presets.lenet5.spec, 3),
      [
        { layer: 0, rank: 4, kernel: 1 },
        { layer: 2, rank: 0, kernel: 1 },
      ],
      4,
    );
    const linearMid = buildModel(
      {
        inputShape: [8, 8, 1],
        layers: [
          { type: 'flatten' },
          { type: 'dense', units: 20 },
          { type: 'dense', units: 16 },
          { type: 'activation', fn: 'tanh' },
          { type: 'dense', units: 10 },
        ],
      },
      5,
    );
    const resnet = buildModel(presets['resnet-small'].spec, 6);
    for (const m of [lenet, linearMid, resnet, model]) {
      const n = 6;
      const x = new Rng(7).fillNormal(new Float32Array(n * m.inputSize), 0.4, 0.3);
      for (const circuit of [resolveCircuit({}), resolveCircuit({ saturate: false }), resolveCircuit({ railHeadroom: 1.5 })])
        expect(calibrateRails(m, circuit, x, n, jsKernels)).toEqual(planCrossbars(m, circuit, x, n, jsKernels).layers.map((l) => l.rail));
    }
  });

  it('sigma 0 on a continuous device gives the weights back', () => {
    const device = resolveDevice('ideal');
    const l = weightedLayers(model)[1];
    const out = { weight: new Float32Array(l.weight.value.length), bias: new Float32Array(l.bias.value.length) };
    perturbLayer(l.weight.value, l.bias.value, device, 'layer', philoxStream(1, 0, 0, 1), out);
    for (let i = 0; i < out.weight.length; i++) expect(out.weight[i]).toBeCloseTo(l.weight.value[i], 6);
  });

  it('the multiplicative part has the log-normal mean exp(sigma^2 / 2)', () => {
    const device = resolveDevice('reram-generic', { programSigma: 0.5 });
    const w = new Float32Array(20000).fill(0.5);
    const b = new Float32Array(1).fill(0.5);
    const out = { weight: new Float32Array(w.length), bias: new Float32Array(1) };
    perturbLayer(w, b, device, 'layer', philoxStream(3, 0, 0, 1), out);
    const mean = out.weight.reduce((a, v) => a + v, 0) / w.length;
    // G+ = gMin + span: mean (gMin + span) e^(s^2/2) - gMin e^(s^2/2), in weight units: 0.5 e^(s^2/2).
    expect(mean / (0.5 * Math.exp(0.125))).toBeCloseTo(1, 1);
  });

  it('apply / restore puts the exact weights back, and training with it stays finite', () => {
    const m = buildModel(presets['mlp-paper'].spec, 5);
    const before = m.params.map((p) => Float32Array.from(p.value));
    const noise = new WeightNoise(m, { device: resolveDevice('reram-generic', { programSigma: 0.4 }), seed: 2 });
    noise.apply(0);
    expect(m.params[0].value).not.toEqual(before[0]);
    noise.restore();
    m.params.forEach((p, i) => {
      expect(p.value).toEqual(before[i]);
    });
    const digits = loadDataset('digits8', { limitTrain: 500, limitTest: 100 });
    const h = train(
      m,
      digits.train,
      null,
      { epochs: 1, batchSize: 50, optimizer: { name: 'adam', lr: 0.01 }, schedule: 'constant', seed: 1 },
      jsKernels,
      noise.hooks(),
    );
    expect(Number.isFinite(h[0].loss)).toBe(true);
  });

  it('a ramp grows the variation from 0 to its full sigma over the first draws', () => {
    const m = buildModel(presets['mlp-paper'].spec, 7);
    const l = weightedLayers(m)[0];
    const clean = Float32Array.from(l.weight.value);
    const device = resolveDevice('reram-generic', { programSigma: 0.5 });
    const deviation = (noise: WeightNoise, draw: number) => {
      noise.apply(draw);
      let s = 0;
      for (let i = 0; i < clean.length; i++) s += Math.abs(Math.log(Math.abs(l.weight.value[i] / clean[i])));
      noise.restore();
      return s / clean.length;
    };
    const ramped = new WeightNoise(m, { device, seed: 3, rampDraws: 10 });
    const full = new WeightNoise(m, { device, seed: 3 });
    expect(deviation(ramped, 0)).toBeLessThan(0.3 * deviation(full, 0));
    expect(deviation(ramped, 4)).toBeLessThan(deviation(full, 4));
    expect(deviation(ramped, 20)).toBe(deviation(full, 20));
  });

  it('noise on selected layers only leaves the others alone', () => {
    const m = buildModel(presets['mlp-paper'].spec, 6);
    const ws = weightedLayers(m);
    const before = ws.map((l) => Float32Array.from(l.weight.value));
    const noise = new WeightNoise(m, { device: resolveDevice('reram-generic', { programSigma: 0.4 }), seed: 2, layers: [2] });
    noise.apply(3);
    expect(ws[0].weight.value).toEqual(before[0]);
    expect(ws[2].weight.value).not.toEqual(before[2]);
    noise.restore();
    expect(() => new WeightNoise(m, { device: resolveDevice('ideal'), seed: 1, layers: [9] })).toThrow(/weighted layers 0..3/);
  });
});
