import type { Circuit } from '../crossbar/circuit.js';
import { mappingOf, physicalCols, weightColsPerArray } from '../crossbar/mapping.js';
import type { LayerPlan } from '../crossbar/plan.js';
import type { Tech } from './tech.js';

/**
 * The first-order cost model: energy, latency and area of one inference of a network as xbar
 * maps it (one LayerPlan per weighted layer) plus the digital blocks around it (compensation
 * modules, correctors). Pure functions of counts, conductances and the technology constants;
 * docs/cost.md writes every term out and checks them by hand.
 */

/** One weighted layer as costed: its plan, how often its arrays are read, and its conductances. */
export interface CostLayer {
  plan: LayerPlan;
  /** Array reads per inference: 1 for a dense layer, one per output position for a convolution. */
  reads: number;
  /**
   * Programmed conductances, siemens, [nIn + 1, nOut] row-major per slice (a chip's, or the nominal
   * targets; N slices and gNeg = the reference cell under the reference mapping: crossbar/mapping.ts).
   */
  gPos: ArrayLike<number>;
  gNeg: ArrayLike<number>;
  /**
   * Mean over inputs of (x_i / xMax)^2 per row (nIn + 1 values; the bias row is driven at full
   * scale): what a word line's read voltage squared averages to, in units of vRead^2. Absent =
   * every row at full scale (the worst case).
   */
  activity?: ArrayLike<number>;
  /** Values of the layer's input and output tensors per inference (data movement between arrays). */
  inputValues: number;
  outputValues: number;
}

/** A digital block beside the arrays: a compensation module after a layer, or an output corrector. */
export interface DigitalBlock {
  name: string;
  /** The weighted layer it follows (its row in the breakdown), or null for one at the output. */
  after: number | null;
  macs: number;
  params: number;
  /** Executions per inference (output positions of a conv layer's module, 1 otherwise), for latency. */
  reads: number;
  /** Analog values it must digitise per inference (beyond those the circuit already converts) and values it returns to the analog domain. */
  convertIn: number;
  convertOut: number;
}

export const ENERGY_PARTS = ['cells', 'wires', 'tia', 'neurons', 'dac', 'adc', 'digital', 'movement'] as const;
export type EnergyPart = (typeof ENERGY_PARTS)[number];
export const AREA_PARTS = ['cells', 'tia', 'neurons', 'dac', 'adc', 'digital'] as const;
export type AreaPart = (typeof AREA_PARTS)[number];

export interface LayerCost {
  name: string;
  /** Weighted layer index, or null for a block at the network's output. */
  layer: number | null;
  kind: 'dense' | 'conv2d' | 'digital';
  arrays: number;
  /** Mapped cells (2N per weight differential, N per weight plus a reference column per array; bias row included). */
  cells: number;
  reads: number;
  macs: number;
  /** Sum of the mapped cells' conductances, siemens. */
  conductance: number;
  /** Sum over rows of activity x the row's conductance (what the read energy scales with), siemens; and of the activities. */
  drivenConductance: number;
  drivenRows: number;
  dacBits: number;
  adcBits: number;
  dacConversions: number;
  adcConversions: number;
  energy: Record<EnergyPart, number>;
  energyTotal: number;
  /** Seconds for one inference to pass this stage. */
  latency: number;
  area: Record<AreaPart, number>;
  areaTotal: number;
}

export interface NetworkCost {
  tech: string;
  rows: LayerCost[];
  energy: Record<EnergyPart, number>;
  energyTotal: number;
  /** Sum of the stages' latencies: one inference from input to answer. */
  latency: number;
  /** The slowest stage: time between inferences when the layers run as a pipeline. */
  pipelineInterval: number;
  area: Record<AreaPart, number>;
  areaTotal: number;
  /** Multiply-adds of the weighted layers (analog) and of the digital blocks. */
  macs: number;
  digitalMacs: number;
  /** 2 x all multiply-adds / energy, in tera-operations per second per watt. */
  topsPerWatt: number;
}

const zeros = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * Energy of one conversion of a `bits`-bit ADC: the larger of the Walden term (FOM_W 2^B, which
 * dominates at low resolution) and the Schreier term (thermal noise: P / fs = 10^((SNDR - FOM_S)/10) / 2
 * at Nyquist, SNDR = 6.02 B + 1.76 dB, which grows 4x per bit and dominates at high resolution).
 */
export function adcEnergy(bits: number, tech: Tech): number {
  if (bits <= 0) return 0;
  const walden = tech.adc.walden * 2 ** bits;
  const schreier = 10 ** ((6.02 * bits + 1.76 - tech.adc.schreier) / 10) / 2;
  return Math.max(walden, schreier);
}

/** Energy of one conversion of a `bits`-bit DAC (Walden form). */
export function dacEnergy(bits: number, tech: Tech): number {
  return bits > 0 ? tech.dac.walden * 2 ** bits : 0;
}

/** Area of one converter: the reference area doubled per bit above (halved per bit below) its bits. */
export const adcArea = (bits: number, tech: Tech): number => (bits > 0 ? tech.adc.area * 2 ** (bits - tech.adc.areaBits) : 0);
export const dacArea = (bits: number, tech: Tech): number => (bits > 0 ? tech.dac.area * 2 ** (bits - tech.dac.areaBits) : 0);

/**
 * The converters a layer has. DAC: the circuit's dacBits when it has them; otherwise a DAC only
 * where the input is digital (the first layer, and every layer after a per-tile ADC) at the
 * technology's io.bits, since an analog neuron drives the next layer's word lines directly.
 * ADC: one per tile column group at adcBits when the circuit has them; otherwise only the last
 * layer's outputs are converted, at io.bits.
 */
export function converterBits(circuit: Circuit, tech: Tech, first: boolean, last: boolean): { dac: number; adc: number; perTile: boolean } {
  const dac = circuit.dacBits > 0 ? circuit.dacBits : first || circuit.adcBits > 0 ? tech.io.bits : 0;
  if (circuit.adcBits > 0) return { dac, adc: circuit.adcBits, perTile: true };
  return { dac, adc: last ? tech.io.bits : 0, perTile: false };
}

/** Cost of one weighted layer on its arrays (terms in docs/cost.md, equations 1-9). */
export function layerCost(l: CostLayer, circuit: Circuit, tech: Tech, first: boolean, last: boolean): LayerCost {
  const lp = l.plan;
  const R = l.reads;
  const V = circuit.vRead;
  const t = tech.array.readTime;
  const rows = lp.nIn + 1;
  const arrays = lp.tiles.length;
  const colTiles = lp.rowTiles[0]?.length ?? 0;
  const weightCols = lp.tiles.reduce((a, tl) => a + (tl.c1 - tl.c0), 0);
  const act = (i: number) => (l.activity ? l.activity[i] : 1);
  const m = mappingOf(circuit);
  const ref = m.scheme === 'reference';
  const n = rows * lp.nOut;
  // Sensed bit lines (one TIA each; a differential pair shares one): a slice per weight column, and
  // under the reference mapping each array's reference column.
  const senseCols = weightCols * m.cells + (ref ? arrays : 0);

  // (1) Cells: each driven row i puts v_i^2 G on every cell of its row for the read time.
  let conductance = 0;
  let weightedG = 0;
  let activeRows = 0;
  for (let i = 0; i < rows; i++) {
    let gRow = 0;
    for (let s = 0; s < m.cells; s++)
      for (let j = 0; j < lp.nOut; j++) gRow += l.gPos[s * n + i * lp.nOut + j] + (ref ? 0 : l.gNeg[s * n + i * lp.nOut + j]);
    // A reference cell per row of each column tile (gNeg holds it at every weight of the array).
    if (ref) for (const tl of lp.rowTiles[0] ?? []) gRow += l.gNeg[i * lp.nOut + tl.c0];
    conductance += gRow;
    weightedG += act(i) * gRow;
    activeRows += act(i);
  }
  const energy = zeros(ENERGY_PARTS);
  energy.cells = R * V * V * t * weightedG;
  // (2) Word lines: charging each driven row's wire (all arrayCols cells of each column tile) to v_i.
  const rowWire = circuit.arrayCols * tech.array.cellWidthF * tech.array.featureSize * tech.array.wireCapacitance;
  energy.wires = R * V * V * rowWire * colTiles * activeRows;
  // (3) TIAs: one per weight column of every tile, on for the read.
  energy.tia = R * senseCols * tech.periphery.tiaPower * t;
  const conv = converterBits(circuit, tech, first, last);
  // (4) Neurons: one analog neuron per output when the layer's outputs stay analog.
  energy.neurons = conv.perTile ? 0 : R * lp.nOut * tech.periphery.neuronPower * t;
  // (5) DACs: one conversion per input row per read (the bias row is a fixed reference).
  const dacConversions = conv.dac ? R * lp.nIn : 0;
  energy.dac = dacConversions * dacEnergy(conv.dac, tech);
  // (6) ADCs: per tile and weight column with an ADC circuit, else the last layer's outputs.
  const adcPerRead = conv.perTile ? weightCols : conv.adc ? lp.nOut : 0;
  const adcConversions = R * adcPerRead;
  energy.adc = adcConversions * adcEnergy(conv.adc, tech);
  // (7) Digital: with per-tile ADCs, partial sums of the row tiles are added and the activation applied digitally.
  const digitalOps = conv.perTile ? R * lp.nOut * lp.rowTiles.length : 0;
  energy.digital = digitalOps * tech.digital.addEnergy;
  // (8) Movement: digital values between arrays go through a buffer (one write, one read per bit);
  // the network's input is read from one. Analog outputs drive the next word lines (term 2).
  const inBits = first ? l.inputValues * conv.dac : 0;
  const outBits = conv.adc ? l.outputValues * conv.adc * 2 : 0;
  energy.movement = (inBits + outBits) * tech.movement.bufferEnergyPerBit;

  // (9) Latency of one read: DAC, array settling, the ADC's share of columns, digital adds; reads in sequence.
  const perAdc = adcPerRead ? Math.min(tech.adc.columnsPerAdc, conv.perTile ? colsPerTile(lp) : lp.nOut) : 0;
  const tRead =
    (conv.dac ? 1 / tech.dac.sampleRate : 0) +
    t +
    perAdc / tech.adc.sampleRate +
    (conv.perTile ? Math.ceil((lp.nOut * lp.rowTiles.length) / tech.digital.macsPerCycle) / tech.digital.clock : 0);
  const latency = R * tRead;

  // Area: whole physical arrays, a TIA per weight column, a DAC per row, an ADC per columnsPerAdc weight columns.
  const area = zeros(AREA_PARTS);
  const F = tech.array.featureSize;
  area.cells = arrays * circuit.arrayRows * circuit.arrayCols * tech.array.cellHeightF * tech.array.cellWidthF * F * F;
  const colsPerArray = weightColsPerArray(circuit.arrayCols, m);
  area.tia = arrays * (colsPerArray * m.cells + (ref ? 1 : 0)) * tech.periphery.tiaArea;
  area.neurons = conv.perTile ? 0 : lp.nOut * tech.periphery.neuronArea;
  area.dac = conv.dac ? arrays * circuit.arrayRows * dacArea(conv.dac, tech) : 0;
  area.adc = conv.perTile
    ? arrays * Math.ceil(colsPerArray / tech.adc.columnsPerAdc) * adcArea(conv.adc, tech)
    : conv.adc
      ? Math.ceil(lp.nOut / tech.adc.columnsPerAdc) * adcArea(conv.adc, tech)
      : 0;
  area.digital = conv.perTile ? Math.min(tech.digital.macsPerCycle, lp.nOut) * tech.digital.macArea : 0;

  return {
    name: `${lp.kind} ${lp.weighted}`,
    layer: lp.weighted,
    kind: lp.kind,
    arrays,
    cells: lp.tiles.reduce((a, tl) => a + (tl.r1 - tl.r0) * physicalCols(tl.c1 - tl.c0, m), 0),
    reads: R,
    macs: R * lp.nIn * lp.nOut,
    conductance,
    drivenConductance: weightedG,
    drivenRows: activeRows,
    dacBits: conv.dac,
    adcBits: conv.adc,
    dacConversions,
    adcConversions,
    energy,
    energyTotal: sum(energy),
    latency,
    area,
    areaTotal: sum(area),
  };
}

function colsPerTile(lp: LayerPlan): number {
  return Math.max(1, ...lp.tiles.map((t) => t.c1 - t.c0));
}

/**
 * Cost of a digital block: its MACs (each with one weight fetched from SRAM), the conversions it
 * adds (ADC in, DAC out, at io.bits), its latency on a macsPerCycle-lane unit, and its area
 * (weights in SRAM, one MAC unit, its converters).
 */
export function blockCost(b: DigitalBlock, tech: Tech): LayerCost {
  const bitsIo = tech.io.bits;
  const energy = zeros(ENERGY_PARTS);
  energy.digital = b.macs * (tech.digital.macEnergy + tech.digital.weightBits * tech.digital.sramEnergyPerBit);
  energy.adc = b.convertIn * adcEnergy(bitsIo, tech);
  energy.dac = b.convertOut * dacEnergy(bitsIo, tech);
  energy.movement = (b.convertIn + b.convertOut) * bitsIo * tech.movement.bufferEnergyPerBit;
  const perRead = (n: number) => (b.reads > 0 ? n / b.reads : 0);
  const latency =
    Math.ceil(b.macs / tech.digital.macsPerCycle) / tech.digital.clock +
    b.reads * (Math.min(tech.adc.columnsPerAdc, perRead(b.convertIn)) / tech.adc.sampleRate) +
    (b.convertOut ? b.reads / tech.dac.sampleRate : 0);
  const area = zeros(AREA_PARTS);
  area.digital = b.params * tech.digital.weightBits * tech.digital.sramAreaPerBit + tech.digital.macsPerCycle * tech.digital.macArea;
  area.adc = b.convertIn ? Math.ceil(perRead(b.convertIn) / tech.adc.columnsPerAdc) * adcArea(bitsIo, tech) : 0;
  area.dac = b.convertOut ? perRead(b.convertOut) * dacArea(bitsIo, tech) : 0;
  return {
    name: b.name,
    layer: b.after,
    kind: 'digital',
    arrays: 0,
    cells: 0,
    reads: b.reads,
    macs: b.macs,
    conductance: 0,
    drivenConductance: 0,
    drivenRows: 0,
    dacBits: b.convertOut ? bitsIo : 0,
    adcBits: b.convertIn ? bitsIo : 0,
    dacConversions: b.convertOut,
    adcConversions: b.convertIn,
    energy,
    energyTotal: sum(energy),
    latency,
    area,
    areaTotal: sum(area),
  };
}

/** The whole network: its layers in order, each followed by the digital blocks placed after it. */
export function costNetwork(layers: CostLayer[], blocks: DigitalBlock[], circuit: Circuit, tech: Tech): NetworkCost {
  const rows: LayerCost[] = [];
  layers.forEach((l, k) => {
    rows.push(layerCost(l, circuit, tech, k === 0, k === layers.length - 1));
    for (const b of blocks) if (b.after === l.plan.weighted) rows.push(blockCost(b, tech));
  });
  for (const b of blocks) if (b.after === null) rows.push(blockCost(b, tech));
  return totals(rows, tech.name);
}

export function totals(rows: LayerCost[], tech: string): NetworkCost {
  const energy = zeros(ENERGY_PARTS);
  const area = zeros(AREA_PARTS);
  for (const r of rows) {
    for (const k of ENERGY_PARTS) energy[k] += r.energy[k];
    for (const k of AREA_PARTS) area[k] += r.area[k];
  }
  const energyTotal = sum(energy);
  const macs = rows.filter((r) => r.kind !== 'digital').reduce((a, r) => a + r.macs, 0);
  const digitalMacs = rows.filter((r) => r.kind === 'digital').reduce((a, r) => a + r.macs, 0);
  return {
    tech,
    rows,
    energy,
    energyTotal,
    latency: rows.reduce((a, r) => a + r.latency, 0),
    pipelineInterval: Math.max(0, ...rows.map((r) => r.latency)),
    area,
    areaTotal: sum(area),
    macs,
    digitalMacs,
    topsPerWatt: energyTotal > 0 ? (2 * (macs + digitalMacs)) / energyTotal / 1e12 : 0,
  };
}
