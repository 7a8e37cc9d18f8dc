import { z } from 'zod';
import { XbarError } from '../core/errors.js';
import { formatIssues } from '../nn/spec.js';

/**
 * A ReRAM device model, in siemens. Kept apart from the circuit and the layer mapping, as aihwkit
 * keeps device configs apart from tiles: the same network can be simulated on several devices.
 */
export const deviceSchema = z
  .strictObject({
    name: z.string().default('custom'),
    /** Conductance range a healthy cell can be programmed to (HRS .. LRS). */
    gMin: z.number().positive(),
    gMax: z.number().positive(),
    /** Programmable levels between gMin and gMax (inclusive); 0 = continuous. */
    levels: z.number().int().min(0).default(0),
    /** Programming variation: G' = G * exp(theta), theta ~ N(0, sigma^2), once per chip. */
    programSigma: z.number().min(0).default(0),
    /** Read noise: each read sees G * (1 + eta), eta ~ N(0, readNoise^2), new every inference. */
    readNoise: z.number().min(0).default(0),
    /** Conductance of a stuck-on cell: uniform in [lo, hi] per cell (lo = hi for a fixed value). */
    stuckOn: z.tuple([z.number().positive(), z.number().positive()]).optional(),
    /** Conductance of a stuck-off cell: uniform in [lo, hi] per cell. */
    stuckOff: z.tuple([z.number().positive(), z.number().positive()]).optional(),
  })
  .superRefine((d, ctx) => {
    if (d.gMax <= d.gMin) ctx.addIssue({ code: 'custom', message: `gMax (${d.gMax}) must be above gMin (${d.gMin})` });
    if (d.levels === 1) ctx.addIssue({ code: 'custom', path: ['levels'], message: 'levels must be 0 (continuous) or at least 2' });
    for (const k of ['stuckOn', 'stuckOff'] as const) {
      const r = d[k];
      if (r && r[1] < r[0]) ctx.addIssue({ code: 'custom', path: [k], message: `${k} range [${r}] is reversed` });
    }
  });

export type DeviceInput = z.input<typeof deviceSchema>;
export type Device = Required<Omit<z.output<typeof deviceSchema>, 'stuckOn' | 'stuckOff'>> & {
  stuckOn: [number, number];
  stuckOff: [number, number];
};

const uS = 1e-6;

/** Named device presets, each with its source. Values in siemens. */
export const devicePresets: Record<string, DeviceInput & { description: string }> = {
  ideal: { name: 'ideal', description: 'no variation, no noise, continuous levels, 1-100 uS', gMin: 1 * uS, gMax: 100 * uS },
  'reram-generic': {
    name: 'reram-generic',
    description: 'generic ReRAM: 1-100 uS (10 kOhm-1 MOhm, as in Ma et al. 2023), continuous levels, sigma 0.1',
    gMin: 1 * uS,
    gMax: 100 * uS,
    programSigma: 0.1,
  },
  'reram-liu2017': {
    name: 'reram-liu2017',
    description: 'Liu et al. DAC 2017 ranges: normal 1-300 uS with 64 levels, stuck-on 300-1200 uS, stuck-off 0.01-1 uS',
    gMin: 1 * uS,
    gMax: 300 * uS,
    levels: 64,
    stuckOn: [300 * uS, 1200 * uS],
    stuckOff: [0.01 * uS, 1 * uS],
  },
};

export const devicePresetNames = Object.keys(devicePresets);

/** Validates a device from a preset name plus overrides, or from JSON; one readable error line. */
export function resolveDevice(base: string | DeviceInput, overrides: Partial<DeviceInput> = {}, source = 'device'): Device {
  let input: DeviceInput;
  if (typeof base === 'string') {
    const p = devicePresets[base];
    if (!p) throw new XbarError(`unknown device preset '${base}': use one of ${devicePresetNames.join(', ')}, or a JSON device file`);
    const { description: _d, ...rest } = p;
    input = rest;
  } else input = base;
  const r = deviceSchema.safeParse({ ...input, ...overrides });
  if (!r.success) throw new XbarError(`invalid ${source}: ${formatIssues(r.error)}`);
  const d = r.data;
  return { ...d, stuckOn: d.stuckOn ?? [d.gMax, d.gMax], stuckOff: d.stuckOff ?? [d.gMin, d.gMin] };
}
