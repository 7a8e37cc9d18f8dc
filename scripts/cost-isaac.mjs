#!/usr/bin/env node
// xbar's cost model against ISAAC (Shafiee et al., ISCA 2016): the energy of one read of one
// 128 x 128 array with an 8-bit ADC and 1-bit DACs, the unit ISAAC's Table 1 budgets (per IMA:
// 8 arrays, 8 ADCs at 1.28 GS/s, 8 x 128 1-bit DACs, sample-and-holds, shift-and-add, in one
// 100 ns cycle). Behind docs/cost.md's comparison; needs `npm run build`.
//
//   node scripts/cost-isaac.mjs [--tech FILE]
//
// The xbar side maps a dense layer 127 -> 64 (with the bias: 128 rows, 64 weight columns = 128
// physical columns, one array) with uniform random weights onto reram-generic cells (1-100 uS),
// drives every row with 1-bit inputs that are 1 half the time (activity 0.5), and converts every
// weight column with an 8-bit ADC.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildModel, costOfModel, eng, jsKernels, planCrossbars, Rng, resolveCircuit, resolveDevice, resolveTech } from '../dist/index.js';

const { values } = parseArgs({ options: { tech: { type: 'string' } } });
const tech = resolveTech(values.tech ? JSON.parse(readFileSync(values.tech, 'utf8')) : {}, values.tech ?? 'technology file');

// ISAAC Table 1 (32 nm), per IMA and 100 ns cycle: ADC 16 mW (8), DAC 4 mW (8 x 128), S+H 10 uW (8 x 128),
// arrays 2.4 mW (8), shift-and-add 0.2 mW (4). Per array and cycle: power / 8 arrays x 100 ns.
const cycle = 100e-9;
const isaac = {
  adc: (16e-3 / 8) * cycle,
  dac: (4e-3 / 8) * cycle,
  cells: (2.4e-3 / 8) * cycle,
  'sample-and-hold + shift-and-add': ((10e-6 + 0.2e-3) / 8) * cycle,
};
const isaacTotal = Object.values(isaac).reduce((a, b) => a + b, 0);

const rows = 128;
const model = buildModel({ inputShape: [1, 1, rows - 1], layers: [{ type: 'flatten' }, { type: 'dense', units: 64 }] }, 1);
const rng = new Rng(7);
for (const p of model.params) for (let i = 0; i < p.value.length; i++) p.value[i] = 2 * rng.uniform() - 1;
const nCalib = 256;
const calib = new Float32Array(nCalib * (rows - 1));
for (let i = 0; i < calib.length; i++) calib[i] = rng.uniform() < 0.5 ? 0 : 1;
const circuit = resolveCircuit({ arrayRows: 128, arrayCols: 128, dacBits: 1, adcBits: 8 });
const plan = planCrossbars(model, circuit, calib, nCalib, jsKernels);
const device = resolveDevice('reram-generic');
const activity = [new Float64Array(rows).fill(0.5).fill(1, rows - 1)];
const c = costOfModel({ model, plan, device, activity }, tech).rows[0];
const xbar = {
  adc: c.energy.adc,
  dac: c.energy.dac,
  cells: c.energy.cells,
  'TIAs + word lines + digital adds': c.energy.tia + c.energy.wires + c.energy.digital,
};
const xbarArray = c.energyTotal - c.energy.movement;

console.log(`one read of a 128 x 128 array, 8-bit ADC, 1-bit inputs (technology ${tech.name})`);
console.log('part                                 ISAAC        xbar');
const names = ['adc', 'dac', 'cells'];
for (const n of names) console.log(`${n.padEnd(35)}  ${eng(isaac[n], 'J').padStart(9)}  ${eng(xbar[n], 'J').padStart(10)}`);
console.log(
  `${'other (*)'.padEnd(35)}  ${eng(isaac['sample-and-hold + shift-and-add'], 'J').padStart(9)}  ${eng(xbar['TIAs + word lines + digital adds'], 'J').padStart(10)}`,
);
console.log(
  `${'total (no buffers)'.padEnd(35)}  ${eng(isaacTotal, 'J').padStart(9)}  ${eng(xbarArray, 'J').padStart(10)}  ratio xbar/ISAAC ${(xbarArray / isaacTotal).toFixed(2)}`,
);
console.log('(*) ISAAC: sample-and-holds and shift-and-add; xbar: TIAs, word-line charging, digital adds');
console.log(`ADC conversions per read: ISAAC 128 (one per physical column), xbar ${c.adcConversions} (one per differential weight column)`);
console.log(
  `sum of the array's conductances ${eng(c.conductance, 'S')}; read latency xbar ${eng(c.latency, 's')}, ISAAC cycle ${eng(cycle, 's')}`,
);
