import { z } from 'zod';

// The pattern parameters and their validation, apart from the fault-map code (pattern.ts) so
// that the simulator's worker threads do not load zod (~55 ms of their start-up).

const frac = z.number().min(0).max(1);
const kind = z.enum(['stuck-on', 'stuck-off', 'stuck-at']);
// Geometry is in relative array coordinates: a cell's centre is u = (col + 0.5) / cols across,
// v = (row + 0.5) / rows down, so one pattern means the same on a 65x16 tile and a 256x256 one.
const region = {
  density: frac.default(1),
  kind: kind.default('stuck-on'),
  level: frac.default(0.5),
};
const centre = { cx: frac.default(0.5), cy: frac.default(0.5) };

export const patternSchema = z.discriminatedUnion('pattern', [
  z.strictObject({
    pattern: z.literal('random'),
    /** Stuck-at-0 rate: cells stuck at high resistance (stuck-off, near Gmin). */
    sa0: frac.default(0),
    /** Stuck-at-1 rate: cells stuck at low resistance (stuck-on, near Gmax). */
    sa1: frac.default(0),
    /** Rate of cells stuck at an intermediate conductance `level`. */
    stuckAt: frac.default(0),
    level: frac.default(0.5),
  }),
  z.strictObject({ pattern: z.literal('circle'), ...centre, radius: z.number().min(0).max(2).default(0.3), ...region }),
  z.strictObject({ pattern: z.literal('circle-complement'), ...centre, radius: z.number().min(0).max(2).default(0.3), ...region }),
  z.strictObject({
    pattern: z.literal('ring'),
    ...centre,
    radius: z.number().min(0).max(2).default(0.35),
    width: z.number().min(0).max(2).default(0.1),
    ...region,
  }),
  z.strictObject({
    pattern: z.literal('rows'),
    from: frac.default(0),
    to: frac.default(0.25),
    every: z.int().min(1).default(1),
    ...region,
  }),
  z.strictObject({
    pattern: z.literal('columns'),
    from: frac.default(0),
    to: frac.default(0.25),
    every: z.int().min(1).default(1),
    ...region,
  }),
  z.strictObject({ pattern: z.literal('checkerboard'), block: z.int().min(1).default(1), ...region }),
  z.strictObject({ pattern: z.literal('row-gradient'), min: frac.default(0), ...region }),
  z.strictObject({ pattern: z.literal('column-gradient'), min: frac.default(0), ...region }),
]);
export type PatternSpec = z.output<typeof patternSchema>;
export type PatternInput = z.input<typeof patternSchema>;
export type PatternName = PatternSpec['pattern'];
export const patternNames = patternSchema.options.map((o) => o.shape.pattern.value) as PatternName[];
