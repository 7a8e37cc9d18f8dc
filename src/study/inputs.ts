import { XbarError } from '../core/errors.js';
import { type CircuitInput, idealCircuit } from '../crossbar/circuit.js';
import type { Dataset } from '../data/dataset.js';
import type { ModelSpec } from '../nn/spec.js';

/**
 * The chip a study runs on, as the flat options every command shares (xbar simulate's flags):
 * a device preset or file with overrides, and the circuit around the arrays.
 */
export interface HardwareOptions {
  device: string;
  sigma?: number;
  readNoise?: number;
  levels?: number;
  arraySize?: number;
  dacBits?: number;
  adcBits?: number;
  adcOffset?: number;
  adcGainError?: number;
  adcNoise?: number;
  dacInl?: number;
  wireResistance?: number;
  scaling?: 'layer' | 'column';
  /** How weights sit on cells (crossbar/mapping.ts): a differential pair, or one cell against a reference column. */
  mapping?: 'differential' | 'reference';
  /** Cells (pairs, when differential) per weight. */
  cellsPerWeight?: number;
  /** With several cells per weight: bits per slice (0: each cell holds the whole weight). */
  sliceBits?: number;
  saturate?: boolean;
  ideal?: boolean;
}

/** The circuit of the options: the ideal periphery with --ideal, else the defaults, with the options' overrides. */
export function circuitFrom(o: HardwareOptions): CircuitInput {
  const c: CircuitInput = o.ideal ? { ...idealCircuit } : {};
  if (o.arraySize !== undefined) {
    c.arrayRows = o.arraySize;
    c.arrayCols = o.arraySize;
  }
  if (o.dacBits !== undefined) c.dacBits = o.dacBits;
  if (o.adcBits !== undefined) c.adcBits = o.adcBits;
  if (o.adcOffset !== undefined) c.adcOffset = o.adcOffset;
  if (o.adcGainError !== undefined) c.adcGainError = o.adcGainError;
  if (o.adcNoise !== undefined) c.adcNoise = o.adcNoise;
  if (o.dacInl !== undefined) c.dacInl = o.dacInl;
  if (o.wireResistance !== undefined) c.wireResistance = o.wireResistance;
  if (o.scaling !== undefined) c.scaling = o.scaling;
  if (o.mapping !== undefined) c.mapping = o.mapping;
  if (o.cellsPerWeight !== undefined) c.cellsPerWeight = o.cellsPerWeight;
  if (o.sliceBits !== undefined) c.sliceBits = o.sliceBits;
  if (o.saturate === false) c.saturate = false;
  return c;
}

/** The model's [h, w, c] input must match the dataset's [c, h, w] images. */
export function checkCompatible(spec: ModelSpec, ds: Dataset, what: string): void {
  const [c, h, w] = ds.inputShape;
  const [mh, mw, mc] = spec.inputShape;
  if (mh !== h || mw !== w || mc !== c)
    throw new XbarError(
      `${what} expects ${mh}x${mw}x${mc} inputs but dataset '${ds.name}' has ${h}x${w}x${c} images: pick the matching --dataset`,
    );
}
