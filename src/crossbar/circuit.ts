import { z } from 'zod';
import { XbarError } from '../core/errors.js';
import { formatIssues } from '../nn/spec.js';

/** Upper bounds shared by the circuit config, its command-line flags and --sweep values. */
export const CIRCUIT_LIMITS = {
  arraySize: 1 << 16,
  converterBits: 24,
  /** Ohms per segment: 1 MOhm already swamps every cell's resistance. */
  wireResistance: 1e6,
} as const;

/**
 * The peripheral circuit around the arrays: array size, read voltages and converters, neuron
 * saturation, wires. Separate from the device (what a cell is) and from the mapping (which weight
 * goes where).
 */
export const circuitSchema = z
  .strictObject({
    /** Physical array size in cells. A weight column takes 2N physical columns (differential) or N plus a shared reference column (mapping.ts). */
    arrayRows: z.number().int().min(2).max(CIRCUIT_LIMITS.arraySize).default(128),
    arrayCols: z.number().int().min(2).max(CIRCUIT_LIMITS.arraySize).default(128),
    /**
     * Weight scaling: 'layer' maps the layer's largest |weight| to the full conductance swing;
     * 'column' does so per output column (a TIA gain per column), so that small-weight columns use
     * the whole swing too.
     */
    scaling: z.enum(['layer', 'column']).default('layer'),
    /** How a weight sits on cells (mapping.ts): a differential pair, or one cell against a shared reference column. */
    mapping: z.enum(['differential', 'reference']).default('differential'),
    /** Cells (pairs, under the differential mapping) per weight, each slice on its own bit lines. */
    cellsPerWeight: z.number().int().min(1).max(8).default(1),
    /** 0 = each slice holds the whole weight (significance 1/N); K = K-bit slices of an N*K-bit weight. */
    sliceBits: z.number().int().min(0).max(8).default(0),
    /** Full-scale read voltage on a word line, volts. */
    vRead: z.number().positive().default(0.2),
    /** Input DAC resolution in bits; 0 = ideal analog inputs. */
    dacBits: z.number().int().min(0).max(CIRCUIT_LIMITS.converterBits).default(0),
    /** ADC resolution at each tile's outputs, in bits; 0 = no ADC (fully analog, as in the papers). */
    adcBits: z.number().int().min(0).max(CIRCUIT_LIMITS.converterBits).default(0),
    /** Static offset of each ADC, std in LSB, drawn once per chip (converters.ts). */
    adcOffset: z.number().min(0).default(0),
    /** Static gain error of each ADC, relative std, drawn once per chip. */
    adcGainError: z.number().min(0).default(0),
    /** Noise of every conversion, std in LSB. */
    adcNoise: z.number().min(0).default(0),
    /** Input DAC integral non-linearity: bow-shaped, this many LSB at mid-code. */
    dacInl: z.number().min(0).default(0),
    /** Neurons saturate at their rail: outputs clip at railHeadroom x the largest calibrated activation. */
    saturate: z.boolean().default(true),
    railHeadroom: z.number().min(1).default(1.5),
    /** Wire resistance per cell-to-cell segment, ohms; 0 = ideal wires. */
    wireResistance: z.number().min(0).max(CIRCUIT_LIMITS.wireResistance).default(0),
    /** Training images used to calibrate voltage ranges (DAC, TIA gain, ADC full scale, rails). */
    calibrationImages: z.number().int().min(1).default(1000),
  })
  .superRefine((c, ctx) => {
    for (const k of ['adcOffset', 'adcGainError', 'adcNoise'] as const)
      if (c[k] > 0 && c.adcBits === 0)
        ctx.addIssue({ code: 'custom', path: [k], message: `${k} is an ADC error: it needs adcBits > 0 (--adc-bits)` });
    if (c.sliceBits > 0 && c.cellsPerWeight < 2)
      ctx.addIssue({ code: 'custom', path: ['sliceBits'], message: 'bit slices need cellsPerWeight >= 2 (--cells-per-weight)' });
    const need = c.mapping === 'reference' ? c.cellsPerWeight + 1 : 2 * c.cellsPerWeight;
    if (c.arrayCols < need)
      ctx.addIssue({
        code: 'custom',
        path: ['arrayCols'],
        message: `an array of ${c.arrayCols} columns cannot hold one weight column of the ${c.mapping} mapping with ${c.cellsPerWeight} cell(s) per weight (needs ${need})`,
      });
    if (c.dacInl > 0 && c.dacBits === 0)
      ctx.addIssue({ code: 'custom', path: ['dacInl'], message: 'dacInl is a DAC error: it needs dacBits > 0 (--dac-bits)' });
  });

export type CircuitInput = z.input<typeof circuitSchema>;
export type Circuit = z.output<typeof circuitSchema>;

export const idealCircuit: CircuitInput = { saturate: false, dacBits: 0, adcBits: 0, wireResistance: 0 };

export function resolveCircuit(input: CircuitInput = {}, source = 'circuit config'): Circuit {
  const r = circuitSchema.safeParse(input);
  if (!r.success) throw new XbarError(`invalid ${source}: ${formatIssues(r.error)}`);
  return r.data;
}
