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

// Refusing a region that holds no point of the array: such a term gives 0 faults, which a user
// who wrote it did not mean (rows:from=0.5,to=0.2, ring:width=0).
const band = z
  .strictObject({ from: frac.default(0), to: frac.default(0.25), every: z.int().min(1).default(1), ...region })
  .refine((b) => b.from < b.to, { message: 'the band is empty: from must be below to', path: ['to'] });
/** Farthest point of the unit array from (cx, cy): a complement with this radius or more is empty. */
const farthest = (cx: number, cy: number) => Math.hypot(Math.max(cx, 1 - cx), Math.max(cy, 1 - cy));

export const patternSchema = z.discriminatedUnion('pattern', [
  z
    .strictObject({
      pattern: z.literal('random'),
      /** Stuck-at-0 rate: cells stuck at high resistance (stuck-off, near Gmin). */
      sa0: frac.default(0),
      /** Stuck-at-1 rate: cells stuck at low resistance (stuck-on, near Gmax). */
      sa1: frac.default(0),
      /** Rate of cells stuck at an intermediate conductance `level`. */
      stuckAt: frac.default(0),
      level: frac.default(0.5),
    })
    // The three kinds share the array's cells: together they cannot exceed all of them.
    .refine((r) => r.sa0 + r.sa1 + r.stuckAt <= 1 + 1e-12, {
      message: 'the rates sa0 + sa1 + stuckAt add up to more than 1 (every cell)',
    }),
  z
    .strictObject({ pattern: z.literal('circle'), ...centre, radius: z.number().min(0).max(2).default(0.3), ...region })
    .refine((c) => c.radius > 0, { message: 'a circle of radius 0 is empty', path: ['radius'] }),
  z
    .strictObject({ pattern: z.literal('circle-complement'), ...centre, radius: z.number().min(0).max(2).default(0.3), ...region })
    .refine((c) => c.radius < farthest(c.cx, c.cy), {
      message: 'the complement is empty: the circle covers the whole array',
      path: ['radius'],
    }),
  z
    .strictObject({
      pattern: z.literal('ring'),
      ...centre,
      radius: z.number().min(0).max(2).default(0.35),
      width: z.number().min(0).max(2).default(0.1),
      ...region,
    })
    .refine((r) => r.width > 0, { message: 'a ring of width 0 is empty', path: ['width'] })
    .refine((r) => r.radius - r.width / 2 < farthest(r.cx, r.cy), { message: 'the ring lies outside the array', path: ['radius'] }),
  band.safeExtend({ pattern: z.literal('rows') }),
  band.safeExtend({ pattern: z.literal('columns') }),
  z.strictObject({ pattern: z.literal('checkerboard'), block: z.int().min(1).default(1), ...region }),
  z.strictObject({ pattern: z.literal('row-gradient'), min: frac.default(0), ...region }),
  z.strictObject({ pattern: z.literal('column-gradient'), min: frac.default(0), ...region }),
]);
export type PatternSpec = z.output<typeof patternSchema>;
export type PatternInput = z.input<typeof patternSchema>;
export type PatternName = PatternSpec['pattern'];
export const patternNames = patternSchema.options.map((o) => o.shape.pattern.value) as PatternName[];
