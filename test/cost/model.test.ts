import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { adcEnergy } from '../../src/cost/model.js';
import { costOfModel, measureActivity, overhead } from '../../src/cost/network.js';
import { compensationRecoveryCost, siteOverhead } from '../../src/cost/recovery.js';
import { defaultTech, resolveTech } from '../../src/cost/tech.js';
import { programChip } from '../../src/crossbar/chip.js';
import { type CircuitInput, resolveCircuit } from '../../src/crossbar/circuit.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { resolveDevice } from '../../src/device/config.js';
import { parseFaultSpec } from '../../src/faults/index.js';
import { withCompensation } from '../../src/mitigation/correctnet/compensation.js';
import { placementSites } from '../../src/mitigation/correctnet/correctnet.js';
import { buildModel, setWeights } from '../../src/nn/model.js';
import type { ModelSpec } from '../../src/nn/spec.js';

/**
 * The tiny network of docs/cost.md ("a network by hand"): one dense layer 2 -> 1 with weights
 * (0.5, -1) and bias 0.25, on one 4 x 4 array, ideal device 1-100 uS, vRead 0.2 V, no
 * converters in the circuit (so an 8-bit DAC drives the inputs and an 8-bit ADC reads the
 * output, the technology's io.bits), default technology. Every expected number below is typed
 * in from the hand calculation, not computed by the model's code.
 */
const tech = defaultTech();
const device = resolveDevice('ideal');
const tinySpec: ModelSpec = { inputShape: [1, 1, 2], layers: [{ type: 'flatten' as const }, { type: 'dense' as const, units: 1 }] };
const tiny = setWeights(buildModel(tinySpec, 1), [new Float32Array([0.5, -1]), new Float32Array([0.25])]);
// Two calibration inputs: x0 takes 1 and 0.5, x1 takes 0.5 and 0; the largest |x| is 1.
const calib = new Float32Array([1, 0.5, 0.5, 0]);
const planFor = (c: CircuitInput = {}) =>
  planCrossbars(tiny, resolveCircuit({ arrayRows: 4, arrayCols: 4, vRead: 0.2, ...c }), calib, 2, jsKernels);

describe('cost of a tiny network, term by term by hand', () => {
  const plan = planFor();
  const activity = measureActivity(tiny, plan, calib, 2, jsKernels);
  const cost = costOfModel({ model: tiny, plan, device, activity }, tech);
  const row = cost.rows[0];

  it('measures the word lines activity: mean of (x/xMax)^2 per row, 1 on the bias row', () => {
    // x0: (1^2 + 0.5^2)/2 = 0.625; x1: (0.5^2 + 0^2)/2 = 0.125.
    expect([...activity[0]]).toEqual([0.625, 0.125, 1]);
  });

  it('sums the programmed conductances', () => {
    // G+ = 1 + 99 w+ uS, G- = 1 + 99 w- uS: row 0 50.5 + 1, row 1 1 + 100, bias 25.75 + 1 = 179.25 uS.
    expect(row.conductance).toBeCloseTo(179.25e-6, 12);
    expect(row.arrays).toBe(1);
    expect(row.cells).toBe(6);
  });

  it('gets every energy term of the hand calculation', () => {
    // (1) V^2 t sum_i a_i G_i = 0.04 * 1e-8 * (0.625*51.5 + 0.125*101 + 1*26.75) uS = 4e-10 * 71.5625e-6.
    expect(row.energy.cells).toBeCloseTo(2.8625e-14, 20);
    // (2) word line C = 4 cells * 12 F * 32 nm * 0.2 fF/um = 3.072e-16 F; 0.04 V^2 * C * (0.625 + 0.125 + 1).
    expect(row.energy.wires).toBeCloseTo(2.1504e-17, 23);
    // (3) one TIA (one weight column) * 20 uW * 10 ns; (4) one neuron likewise.
    expect(row.energy.tia).toBeCloseTo(2e-13, 20);
    expect(row.energy.neurons).toBeCloseTo(2e-13, 20);
    // (5) two 8-bit DAC conversions at 6.5 fJ * 256 = 1.664 pJ each.
    expect(row.energy.dac).toBeCloseTo(3.328e-12, 20);
    // (6) one 8-bit ADC conversion: Walden 1.664 pJ beats Schreier 10^((49.92 - 180)/10)/2 = 0.049 pJ.
    expect(row.energy.adc).toBeCloseTo(1.664e-12, 20);
    expect(row.energy.digital).toBe(0);
    // (8) 2 input values read and 1 output value written and read, 8 bits each: 32 bits * 0.15625 pJ.
    expect(row.energy.movement).toBeCloseTo(5e-12, 20);
    expect(cost.energyTotal).toBeCloseTo(2.8625e-14 + 2.1504e-17 + 2e-13 + 2e-13 + 3.328e-12 + 1.664e-12 + 5e-12, 20);
  });

  it('gets the latency and the area of the hand calculation', () => {
    // DAC 1/1.2 GHz + read 10 ns + one column on the ADC at 1.2 GS/s.
    expect(row.latency).toBeCloseTo(1 / 1.2e9 + 1e-8 + 1 / 1.2e9, 18);
    expect(cost.pipelineInterval).toBe(row.latency);
    // 16 cells of 48 F^2 at 32 nm; 2 TIAs (4 physical columns); 1 neuron; 4 DACs of 8 bits (1-bit
    // area 0.166 um^2 doubled 7 times); 1 ADC of 8 bits (1200 um^2).
    expect(row.area.cells).toBeCloseTo(16 * 48 * 32e-9 ** 2, 22);
    expect(row.area.tia).toBeCloseTo(2 * 5e-11, 20);
    expect(row.area.neurons).toBeCloseTo(5e-11, 20);
    expect(row.area.dac).toBeCloseTo(4 * 1.66e-13 * 128, 20);
    expect(row.area.adc).toBeCloseTo(1.2e-9, 20);
  });

  it('reports TOPS/W as 2 x MACs / energy', () => {
    expect(cost.macs).toBe(2);
    expect(cost.topsPerWatt).toBeCloseTo(4 / cost.energyTotal / 1e12, 12);
  });
});

describe('cost model behaviour', () => {
  it('puts an ADC on every tile column with per-tile ADCs and adds the row tiles digitally', () => {
    // 2 inputs + bias on 2-row arrays: two row tiles, so two conversions per output and a digital add.
    const plan = planFor({ arrayRows: 2, adcBits: 4 });
    const c = costOfModel({ model: tiny, plan, device }, tech).rows[0];
    expect(c.arrays).toBe(2);
    expect(c.adcConversions).toBe(2);
    expect(c.adcBits).toBe(4);
    expect(c.energy.adc).toBeCloseTo(2 * 6.5e-15 * 16, 20);
    expect(c.energy.digital).toBeCloseTo(2 * 3e-14, 20);
    expect(c.energy.neurons).toBe(0);
  });

  it('ADC energy per conversion follows Walden at low bits and the 4x-per-bit Schreier term at high bits', () => {
    expect(adcEnergy(4, tech) / adcEnergy(3, tech)).toBeCloseTo(2, 9);
    expect(adcEnergy(16, tech) / adcEnergy(15, tech)).toBeCloseTo(10 ** 0.602, 6);
    fc.assert(fc.property(fc.integer({ min: 1, max: 23 }), (b) => adcEnergy(b + 1, tech) > adcEnergy(b, tech)));
  });

  it('array read energy scales with vRead^2 and with the conductances of the chip it is given', () => {
    const base = costOfModel({ model: tiny, plan: planFor(), device }, tech).rows[0].energy.cells;
    const doubled = costOfModel({ model: tiny, plan: planFor({ vRead: 0.4 }), device }, tech).rows[0].energy.cells;
    expect(doubled / base).toBeCloseTo(4, 9);
    // Every cell stuck on at gMax: 6 cells * 100 uS instead of 179.25 uS.
    const plan = planFor();
    const chip = programChip(plan, device, parseFaultSpec('random:sa1=1'), 3, 0);
    const stuck = costOfModel({ model: tiny, plan, device, conductances: { kind: 'chip', chip, seed: 3 } }, tech).rows[0];
    expect(stuck.conductance).toBeCloseTo(600e-6, 10);
  });

  it('costs a compensation module after a hidden layer with its conversions in an analog circuit', () => {
    const spec: ModelSpec = {
      inputShape: [1, 1, 2],
      layers: [{ type: 'flatten' as const }, { type: 'dense' as const, units: 3 }, { type: 'dense' as const, units: 1 }],
    };
    const base = buildModel(spec, 2);
    const comp = withCompensation(base, [{ layer: 0, rank: 1 }], 1);
    const circuit = resolveCircuit({ arrayRows: 4, arrayCols: 8 });
    const plan0 = planCrossbars(base, circuit, calib, 2, jsKernels);
    const plan1 = planCrossbars(comp, circuit, calib, 2, jsKernels);
    const c0 = costOfModel({ model: base, plan: plan0, device }, tech);
    const c1 = costOfModel({ model: comp, plan: plan1, device }, tech);
    const block = c1.rows.find((r) => r.kind === 'digital');
    expect(block).toBeDefined();
    // rank 1 on 3 channels: 3 (affine) + 3 (down) + 3 (up) MACs, 3 values out through the ADC and back through DACs.
    expect(block?.macs).toBe(9);
    expect(block?.adcConversions).toBe(3);
    expect(block?.dacConversions).toBe(3);
    const o = overhead(c0, c1);
    expect(o.energy).toBeCloseTo(block?.energyTotal ?? 0, 18);
    expect(o.energyShare).toBeGreaterThan(0);
  });
});

describe('technology file', () => {
  it('takes a partial file over the defaults and keeps the sources', () => {
    const t = resolveTech({ adc: { walden: 1e-15 } }, 'my.json');
    expect(t.adc.walden).toBe(1e-15);
    expect(t.sources['adc.walden']).toBe('my.json');
    expect(t.adc.sampleRate).toBe(1.2e9);
    expect(t.sources['digital.macEnergy']).toMatch(/Horowitz/);
  });

  it('refuses unknown constants and impossible values with one line naming them', () => {
    expect(() => resolveTech({ adc: { waldn: 1 } }, 't.json')).toThrow(/t\.json.*waldn/);
    expect(() => resolveTech({ array: { readTime: -1 } }, 't.json')).toThrow(/array\.readTime/);
    expect(() => resolveTech([], 't.json')).toThrow(/JSON object/);
  });

  it('every default constant has a source', () => {
    for (const [k, s] of Object.entries(tech.sources)) expect(s.length, k).toBeGreaterThan(10);
  });
});

describe('recovery costs and the placement overhead', () => {
  const spec: ModelSpec = {
    inputShape: [1, 1, 2],
    layers: [{ type: 'flatten' }, { type: 'dense', units: 3 }, { type: 'activation', fn: 'relu' }, { type: 'dense', units: 2 }],
  };
  const base = buildModel(spec, 4);
  const ctx = { circuit: resolveCircuit({ arrayRows: 4, arrayCols: 8 }), device, calib, n: 2, kernels: jsKernels, tech };

  it('a method costs its blocks: with = base + blocks, on the same arrays', () => {
    const comp = withCompensation(base, [{ layer: 0, rank: 1 }], 1);
    const r = compensationRecoveryCost(comp, ctx);
    expect(r.blocks).toHaveLength(1);
    expect(r.overhead.energy).toBeCloseTo(r.blocks[0].energyTotal, 18);
    expect(r.withMethod.energy).toBeCloseTo(r.base.energy + r.blocks[0].energyTotal, 18);
    expect(r.overhead.latency).toBeCloseTo(r.blocks[0].latency, 18);
  });

  it("siteOverhead is a module's energy (or latency) over the network's, and the placement uses it instead of parameters", () => {
    const energy = siteOverhead(base, 'energy', ctx);
    const site = { layer: 0, rank: 1 };
    const r = compensationRecoveryCost(withCompensation(base, [site], 1), ctx);
    expect(energy(site)).toBeCloseTo(r.overhead.energyShare, 12);
    const latency = siteOverhead(base, 'latency', ctx);
    expect(latency(site)).toBeCloseTo(r.overhead.latencyShare, 12);
    const sensitivity = [0, 1].map((layer) => ({ layer, accuracy: 0.5, drop: 0.1 }));
    const byParams = placementSites({ base, ranks: [1], kernel: 1, sensitivity });
    const byEnergy = placementSites({ base, ranks: [1], kernel: 1, sensitivity, overhead: energy });
    expect(byEnergy.cost(0, 1)).toBeCloseTo(energy(site), 12);
    expect(byEnergy.cost(0, 1)).not.toBeCloseTo(byParams.cost(0, 1), 3);
    expect(byEnergy.cost(1, 0)).toBe(0);
  });
});
