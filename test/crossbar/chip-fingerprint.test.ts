import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { loadKernels } from '../../src/core/kernels-node.js';
import { programChip } from '../../src/crossbar/chip.js';
import { type CircuitInput, resolveCircuit } from '../../src/crossbar/circuit.js';
import { runMonteCarlo } from '../../src/crossbar/montecarlo.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { loadDataset } from '../../src/data/node.js';
import { type DeviceInput, resolveDevice } from '../../src/device/config.js';
import { parseFaultSpec } from '../../src/faults/index.js';
import { buildModel } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';

/**
 * Chip i of seed s is a documented object: its fault positions, stuck values and variation draws
 * are streams that published figures depend on. These fingerprints (FNV-1a over the bits of every
 * programmed array) were taken before the programming and Monte Carlo paths were optimised; a
 * change that moves any draw or any conductance, on any kernels, fails here. Change them only
 * with a stream change recorded in CHANGELOG.md.
 */
function fnv(h: number, a: ArrayBufferView): number {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return h;
}

const digits = loadDataset('digits8', { limitTrain: 300, limitTest: 400 });
const model = buildModel(presets['mlp-paper'].spec, 7);
const planFor = (c: CircuitInput) =>
  planCrossbars(model, resolveCircuit({ arrayRows: 32, arrayCols: 16, ...c }), digits.train.x, 300, jsKernels);

const cases: [string, CircuitInput, Partial<DeviceInput>, string][] = [
  ['sigma', {}, { programSigma: 0.1 }, ''],
  ['random faults', {}, { programSigma: 0 }, 'random:sa0=0.0175,sa1=0.0904'],
  ['sparse faults', {}, { programSigma: 0 }, 'random:sa0=0.004,sa1=0.004'],
  ['faults and sigma', {}, { programSigma: 0.05 }, 'circle:radius=0.3,density=0.3+random:sa0=0.01,stuckAt=0.01,level=0.4'],
  ['gradients', {}, { programSigma: 0 }, 'row-gradient:min=0,density=0.2,kind=stuck-on+columns:from=0,to=0.5,every=3,density=0.5'],
  ['reference, sliced', { mapping: 'reference', cellsPerWeight: 2, sliceBits: 2 }, { programSigma: 0.1 }, 'random:sa0=0.02,sa1=0.05'],
  [
    'reference, sliced, faults only',
    { mapping: 'reference', cellsPerWeight: 2, sliceBits: 2 },
    { programSigma: 0 },
    'circle:radius=0.3,density=0.3+random:sa0=0.02,sa1=0.05',
  ],
];

describe('programmed chips are the documented chips (fingerprints from before the optimisations)', () => {
  for (const [name, circuit, dev, spec] of cases)
    it(name, () => {
      const p = planFor(circuit);
      const d = resolveDevice('reram-generic', dev);
      const faults = spec ? parseFaultSpec(spec) : [];
      const got: number[] = [];
      for (const kernels of [jsKernels, loadKernels()])
        for (const c of [0, 3]) {
          const chip = programChip(p, d, faults, 9, c, { kernels });
          let h = 0x811c9dc5;
          for (const l of chip.layers) {
            h = fnv(fnv(fnv(h, l.gPos), l.gNeg), l.wEff);
            for (const m of l.faults) if (m) h = fnv(fnv(h, m.kind), m.level);
            if (l.sparse) h = fnv(fnv(h, l.sparse.index), l.sparse.delta);
            h = fnv(h, new Int32Array([l.faultyCells]));
          }
          got.push(h);
        }
      // Native and JS kernels program the same chips.
      expect(got.slice(2)).toEqual(got.slice(0, 2));
      expect(got.slice(0, 2)).toEqual(EXPECTED[name]);
    });

  it('a Monte Carlo run on the JS kernels gives the documented chips', () => {
    const p = planFor({});
    const d = resolveDevice('reram-generic', { programSigma: 0.1 });
    let h = 0x811c9dc5;
    const r = runMonteCarlo(
      model,
      p,
      d,
      parseFaultSpec('random:sa0=0.01,sa1=0.02'),
      digits.test,
      { chips: 5, seed: 4, batchSize: 150, chipsPerChunk: 2 },
      jsKernels,
      {
        onOutputs: (chip, first, volts) => {
          h = fnv(fnv(h, new Int32Array([chip, first])), volts);
        },
      },
    );
    expect([...r.chips.map((c) => c.correct), h]).toEqual(EXPECTED_RUN);
  });
});

// Taken at 0412964 (main, 2026-12-06) with the JS kernels.
const EXPECTED: Record<string, number[]> = {
  sigma: [987455111, 2564174819],
  'random faults': [3819748565, 2877111928],
  'sparse faults': [4072158768, 981577030],
  'faults and sigma': [1037740608, 2745533480],
  gradients: [2047719071, 560942669],
  'reference, sliced': [3326511965, 2630442775],
  'reference, sliced, faults only': [726426054, 3639683433],
};
/** Correct answers of the five chips, then the fingerprint of every output voltage. */
const EXPECTED_RUN = [34, 46, 34, 44, 65, 2080062671];
