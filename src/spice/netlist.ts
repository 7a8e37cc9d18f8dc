import { XbarError } from '../core/errors.js';
import type { LayerChip } from '../crossbar/chip.js';
import { cellAt, cellGain, cellIndex, type Mapping, mappingOf, physicalCols, significances } from '../crossbar/mapping.js';
import type { CrossbarPlan, LayerPlan, Tile } from '../crossbar/plan.js';
import type { Device } from '../device/config.js';
import { Activation } from '../nn/activation.js';
import { Dense } from '../nn/dense.js';
import type { Model } from '../nn/model.js';
import { Dropout, Flatten } from '../nn/shape.js';
import { VERSION } from '../version.js';

/**
 * The fully analog network of one chip as a SPICE netlist (ngspice syntax), the same circuit as
 * the behavioural model in crossbar/ (docs/spice.md):
 *
 * - word line i of a layer is driven by an ideal source at u_i * vRead / xMax, u = [x, 1] (the
 *   bias row is driven as the input "1");
 * - every weight is a pair of resistors 1/G+ and 1/G- (the programmed values of the chip: variation
 *   and stuck cells included) from its word line to its two bit lines, or under the reference
 *   mapping one resistor 1/G, with each array's reference column beside; with N cells per weight,
 *   N such pairs (or cells) on their own bit lines (crossbar/mapping.ts);
 * - every bit line ends in a transimpedance amplifier: an op-amp (VCVS of open-loop gain A, or an
 *   ideal nullor when A is infinite) with feedback resistor RF, the bit line sitting at its virtual
 *   ground;
 * - a behavioural source per weight column sums sig_s (V- - V+) over the slices and row tiles
 *   (V- = the reference column's TIA under the reference mapping) and scales it to the layer output
 *   y in weight units (1 V per unit); with ADCs (circuit.adcBits) each row tile's partial sum first
 *   passes its ADC: gain and offset of this chip (crossbar/converters.ts), clipping at the
 *   calibrated full scale and rounding to the nearest code (floor(u q + 0.5) / q, as Math.round);
 *   a second one is the neuron: the activation,
 *   clipped at the rail when the circuit saturates, scaled to the next layer's word-line voltage
 *   (or, for the last layer, to plan.voltsPerUnit: the output voltages out0, out1, ...);
 * - optional wire resistance r per segment, with the topology of crossbar/wires.ts.
 *
 * Many input vectors share one netlist: the node `img` is swept by `.dc V_IMG from to 1`, and every
 * first-layer input is a pwl table over the image index, so one parse serves every image and each
 * image starts from the previous one's solution.
 */
export interface NetlistOptions {
  /** Open-loop gain of every TIA op-amp; Infinity = ideal op-amps (0 V ammeter + CCVS). */
  opampGain: number;
  /** First line of the netlist, and extra comment lines under it. */
  title?: string;
  comments?: string[];
  /** Extra element lines appended before the analysis (probes, test fixtures). */
  extra?: string[];
}

export interface SpiceNetlist {
  /** Everything but the analysis line and `.end`. */
  body: string;
  /** Output nodes of the last layer, in order: out0, out1, ... (volts). */
  outputs: string[];
  images: number;
  /** Resistors (cells and wire segments), arrays and op-amps, for the summary. */
  counts: { cells: number; wires: number; arrays: number; opamps: number };
}

/** The whole deck: the netlist swept over images from..to (inclusive). */
export function netlistText(net: SpiceNetlist, from = 0, to = net.images - 1): string {
  return `${net.body}.dc V_IMG ${from} ${to} 1\n.end\n`;
}

/** Shortest exact-enough number form SPICE reads (12 significant digits, no unit suffixes). */
export const num = (v: number): string => String(Number(v.toPrecision(12)));

/** Throws a one-line XbarError unless the model and circuit have a SPICE netlist here. */
export function checkSpiceSupport(model: Model, plan: CrossbarPlan, device: Device): void {
  let prev: unknown = null;
  model.layers.forEach((l, i) => {
    const ok = l instanceof Dense || l instanceof Flatten || l instanceof Dropout || (l instanceof Activation && prev instanceof Dense);
    if (!ok)
      throw new XbarError(
        `SPICE export supports dense (MLP) models only: layer ${i} is ${l.spec.type}${l instanceof Activation ? ' not after a dense layer' : ''}; simulate conv models with 'xbar simulate'`,
      );
    prev = l;
  });
  const c = plan.circuit;
  if (c.dacBits > 0) throw new XbarError(`the SPICE netlist drives its word lines with ideal sources: use --dac-bits 0 (got ${c.dacBits})`);
  if (c.adcBits > 0 && c.adcNoise > 0)
    throw new XbarError(
      `ADC noise (${c.adcNoise} LSB) is drawn per conversion and has no netlist equivalent: use --adc-noise 0 (offsets and gain errors are in the netlist)`,
    );
  if (device.readNoise > 0)
    throw new XbarError(
      `read noise (${device.readNoise}) is drawn per inference and has no netlist equivalent: use a device with readNoise 0`,
    );
}

/**
 * Builds the netlist of one chip for n input vectors x [n, nIn0].
 * `chip` is programChip(...).layers: the conductances are used as programmed.
 */
export function buildNetlist(
  model: Model,
  plan: CrossbarPlan,
  chip: LayerChip[],
  device: Device,
  x: Float32Array,
  n: number,
  opts: NetlistOptions,
): SpiceNetlist {
  checkSpiceSupport(model, plan, device);
  if (!(opts.opampGain > 0)) throw new XbarError(`op-amp gain must be positive (got ${opts.opampGain})`);
  const first = plan.layers[0];
  if (x.length !== n * first.nIn) throw new XbarError(`expected ${n} input vectors of ${first.nIn} values, got ${x.length} values`);
  const c = plan.circuit;
  const span = device.gMax - device.gMin;
  const m = mappingOf(c);
  const sig = significances(m);
  const counts = { cells: 0, wires: 0, arrays: 0, opamps: 0 };
  const out: string[] = [];
  const line = (s: string) => out.push(s);

  line(`* ${opts.title ?? 'xbar crossbar network'}`);
  for (const s of opts.comments ?? []) line(`* ${s}`);
  line(`* Generated by xbar ${VERSION}. ngspice syntax (B-sources with pwl/min/max). Units: volts, ohms.`);
  line(
    `* Circuit: ${c.arrayRows}x${c.arrayCols} arrays, vRead ${num(c.vRead)} V, ${c.scaling} scaling, ` +
      `${c.saturate ? `rails at ${num(c.railHeadroom)}x the calibrated range` : 'no saturation'}, ` +
      `wire resistance ${num(c.wireResistance)} ohm, op-amp gain ${Number.isFinite(opts.opampGain) ? num(opts.opampGain) : 'ideal'}.`,
  );
  const nOut = plan.layers[plan.layers.length - 1].nOut;
  line(`* Device ${device.name}: G ${num(device.gMin)}..${num(device.gMax)} S. Outputs: nodes out0..out${nOut - 1} (V).`);
  line('.options reltol=1e-6 vntol=1e-9');
  line('');
  line('* Image index: swept by .dc; the first layer reads its inputs from pwl tables over it.');
  line('V_IMG img 0 DC 0');

  plan.layers.forEach((lp, li) => {
    const lc = chip[li];
    const last = li === plan.layers.length - 1;
    const vPerUnit = c.vRead / lp.xMax;
    line('');
    line(
      `* ===== Layer ${li} (model layer ${lp.layerIndex}): dense ${lp.nIn} -> ${lp.nOut}, ${lp.activation?.fn ?? 'linear'}, ` +
        `${lp.rowTiles.length}x${lp.rowTiles[0].length} arrays, wMax ${num(lp.wMax)}, input full scale ${num(lp.xMax)} =` +
        ` ${num(c.vRead)} V =====`,
    );
    line(`* Word-line drivers: row i at u_i * ${num(vPerUnit)} V; row ${lp.nIn} is the bias row (u = 1).`);
    if (li === 0) {
      for (let i = 0; i < lp.nIn; i++) {
        const v: number[] = [];
        for (let k = 0; k < n; k++) v.push(x[k * lp.nIn + i] * vPerUnit);
        if (v.every((e) => e === v[0])) line(`V_L0_X${i} l0_x${i} 0 DC ${num(v[0])}`);
        else {
          // One (image, volts) pair per image, eight to a continuation line.
          const pairs = v.map((e, k) => `${k}, ${num(e)}`);
          const chunks: string[] = [];
          for (let k = 0; k < pairs.length; k += 8) chunks.push(pairs.slice(k, k + 8).join(', '));
          line(`B_L0_X${i} l0_x${i} 0 V = pwl(v(img),\n+ ${chunks.join(',\n+ ')})`);
        }
      }
    } else line(`* Rows 0..${lp.nIn - 1} are driven by layer ${li - 1}'s neurons (nodes l${li}_x0..l${li}_x${lp.nIn - 1}).`);
    line(`V_L${li}_BIAS l${li}_x${lp.nIn} 0 DC ${num(vPerUnit)}`);

    // Feedback resistor: the layer's calibrated largest partial sum maps to a vRead-sized TIA output.
    const fs = Math.max(...lp.adcFullScale);
    const rf = (lp.xMax * lp.wMax) / (fs * span);
    lp.tiles.forEach((t, ti) => {
      counts.arrays++;
      tileCells(lp, lc, t, m, `L${li}_T${ti}`, `l${li}_t${ti}`, `l${li}_x`, c.wireResistance, line, counts);
      const cols = physicalCols(t.c1 - t.c0, m);
      line(`* TIAs of array ${ti}: op-amp + feedback RF = ${num(rf)} ohm; b<col> is the virtual ground, o<col> the output`);
      for (let p = 0; p < cols; p++) {
        const name = `L${li}_T${ti}_${p}`;
        const b = `l${li}_t${ti}_b${p}`;
        const o = `l${li}_t${ti}_o${p}`;
        counts.opamps++;
        if (Number.isFinite(opts.opampGain)) {
          line(`E_${name} ${o} 0 0 ${b} ${num(opts.opampGain)}`);
          line(`RF_${name} ${b} ${o} ${num(rf)}`);
        } else {
          line(`VA_${name} ${b} 0 DC 0`);
          line(`H_${name} ${o} 0 VA_${name} ${num(-rf)}`);
        }
      }
    });

    line(
      `* Column sums: y_j = sum_s sig_s (V- - V+) * ${cellGain(m)} * xMax * colScale_j / (RF * vRead * span), 1 V per weight unit` +
        (m.cells > 1 ? ` (sig = ${Array.from(sig, num).join(', ')})` : '') +
        '.',
    );
    for (let j = 0; j < lp.nOut; j++) {
      const k = (cellGain(m) * lp.xMax * lp.colScale[j]) / (rf * c.vRead * span);
      const tileTerms = lp.rowTiles.map((row) => {
        const ti = lp.tiles.indexOf(row.find((t) => j >= t.c0 && j < t.c1) as Tile);
        const w = lp.tiles[ti].c1 - lp.tiles[ti].c0;
        const o = (pc: number) => `v(l${li}_t${ti}_o${pc})`;
        return Array.from({ length: m.cells }, (_, s) => {
          const jj = (j - lp.tiles[ti].c0) * m.cells + s;
          const diff = m.scheme === 'reference' ? `${o(w * m.cells)} - ${o(jj)}` : `${o(2 * jj + 1)} - ${o(2 * jj)}`;
          return m.cells > 1 ? `${num(sig[s])} * (${diff})` : diff;
        });
      });
      if (c.adcBits > 0) {
        // Each row tile's partial sum (weight units), then its ADC: y_j is the sum of the codes.
        const q = 2 ** (c.adcBits - 1) - 1;
        const codes = tileTerms.map((terms, t) => {
          const p = `l${li}_p${t}_${j}`;
          line(`B_L${li}_P${t}_${j} ${p} 0 V = ${num(k)} * (${terms.join(' + ')})`);
          const fs = lp.adcFullScale[t];
          const e = lc.adc ? { g: lc.adc.gain[t * lp.nOut + j], o: lc.adc.offset[t * lp.nOut + j] } : { g: 1, o: 0 };
          const u = `min(max(v(${p}) * ${num(e.g / fs)} + ${num(e.o)}, -1), 1)`;
          return `floor(${u} * ${q} + 0.5)`;
        });
        line(`B_L${li}_Y${j} l${li}_y${j} 0 V = ${codes.map((cd, t) => `${num(lp.adcFullScale[t] / q)} * ${cd}`).join(' + ')}`);
      } else line(`B_L${li}_Y${j} l${li}_y${j} 0 V = ${num(k)} * (${tileTerms.flat().join(' + ')})`);
    }

    const scale = last ? plan.voltsPerUnit : c.vRead / plan.layers[li + 1].xMax;
    const rail = Number.isFinite(lp.rail) ? ` clipped at +-${num(lp.rail)}` : '';
    line(
      `* Neurons: ${lp.activation?.fn ?? 'linear'}${rail}, times ${num(scale)} V per unit${last ? ' (output voltages)' : " (next layer's word lines)"}`,
    );
    for (let j = 0; j < lp.nOut; j++) {
      let e = activation(lp, `v(l${li}_y${j})`);
      if (Number.isFinite(lp.rail)) e = `min(max(${e}, ${num(-lp.rail)}), ${num(lp.rail)})`;
      line(`B_L${li}_H${j} ${last ? `out${j}` : `l${li + 1}_x${j}`} 0 V = ${num(scale)} * ${e}`);
    }
  });

  const outputs = Array.from({ length: nOut }, (_, j) => `out${j}`);
  line('');
  for (const e of opts.extra ?? []) line(e);
  line(`.save ${outputs.map((o) => `v(${o})`).join(' ')}`);
  return { body: `${out.join('\n')}\n`, outputs, images: n, counts };
}

function activation(lp: LayerPlan, v: string): string {
  const a = lp.activation;
  switch (a?.fn) {
    case 'relu':
      return `max(${v}, 0)`;
    case 'crelu':
      return `min(max(${v}, 0), ${num(a.cap)})`;
    case 'sigmoid':
      return `1 / (1 + exp(-${v}))`;
    case 'tanh':
      return `tanh(${v})`;
    default:
      return v;
  }
}

/**
 * The cells of one array: weight rows t.r0..t.r1, physical columns as mapping.ts lays them out
 * (one differential pair per weight: 2j = G+ and 2j+1 = G- of weight column t.c0 + j). Without wires a cell joins its row's driver to its column's TIA input; with
 * wires, word line i runs driver -r- (i,0) -r- (i,1) ... (open right end) and bit line p runs
 * (0,p) -r- (1,p) ... (rows-1,p) -r- TIA input (open top end).
 */
function tileCells(
  lp: LayerPlan,
  lc: LayerChip,
  t: Tile,
  m: Mapping,
  name: string,
  node: string,
  input: string,
  r: number,
  line: (s: string) => void,
  counts: SpiceNetlist['counts'],
): void {
  const rows = t.r1 - t.r0;
  const w = t.c1 - t.c0;
  const cols = physicalCols(w, m);
  const layout =
    m.scheme === 'reference'
      ? `${m.cells > 1 ? `${m.cells} data cells per weight, ` : ''}last = reference column`
      : `${m.cells > 1 ? `${m.cells} pairs per weight, ` : ''}even = G+, odd = G-`;
  line(
    `* Array ${name}: weight rows ${t.r0}..${t.r1 - 1}${t.r1 > lp.nIn ? ` (row ${lp.nIn} = bias)` : ''}, weight columns ${t.c0}..${t.c1 - 1} ` +
      `-> ${rows} word lines x ${cols} bit lines (${layout})`,
  );
  const where = Array.from({ length: cols }, (_, pc) => cellAt(pc, w, m));
  const wl = (i: number, p: number) => (r > 0 ? `${node}_w${i}_${p}` : `${input}${t.r0 + i}`);
  const bl = (i: number, p: number) => (r > 0 ? `${node}_c${i}_${p}` : `${node}_b${p}`);
  for (let i = 0; i < rows; i++) {
    const row = t.r0 + i;
    line(`* row ${row}${row === lp.nIn ? ' (bias)' : ''}`);
    if (r > 0) {
      line(`RW_${name}_${i}_0 ${input}${row} ${wl(i, 0)} ${num(r)}`);
      for (let p = 1; p < cols; p++) line(`RW_${name}_${i}_${p} ${wl(i, p - 1)} ${wl(i, p)} ${num(r)}`);
      counts.wires += cols;
    }
    for (let p = 0; p < cols; p++) {
      const at = where[p];
      const g = (at.neg ? lc.gNeg : lc.gPos)[cellIndex(lp, t, i, at)];
      // Single pairs keep their names (R_<array>_<row>_<weight column>P/N); otherwise the physical column.
      const id = m.scheme === 'differential' && m.cells === 1 ? `${t.c0 + at.j}${at.neg ? 'N' : 'P'}` : `c${p}`;
      // A cell whose programming noise reached 0 S is open: no resistor (1/0 is not a netlist value).
      line(g > 0 ? `R_${name}_${row}_${id} ${wl(i, p)} ${bl(i, p)} ${num(1 / g)}` : `* R_${name}_${row}_${id} open (0 S)`);
      counts.cells++;
    }
  }
  if (r > 0) {
    line(`* bit-line wires of array ${name}`);
    for (let p = 0; p < cols; p++) {
      for (let i = 1; i < rows; i++) line(`RB_${name}_${i}_${p} ${bl(i - 1, p)} ${bl(i, p)} ${num(r)}`);
      line(`RB_${name}_${rows}_${p} ${bl(rows - 1, p)} ${node}_b${p} ${num(r)}`);
      counts.wires += rows;
    }
  }
}
