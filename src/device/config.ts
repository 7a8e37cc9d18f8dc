import { z } from 'zod';
import { XbarError } from '../core/errors.js';
import { formatIssues } from '../nn/spec.js';
import { type Curve, curveMin } from './curve.js';

/** A quantity against the conductance (curve.ts): a polynomial, a power law or a table. */
export const curveSchema = z.union([
  z.strictObject({
    poly: z.array(z.number()).min(1),
    of: z.enum(['g', 'ln g']).default('g'),
    clamp: z.tuple([z.number(), z.number()]).optional(),
  }),
  z.strictObject({
    power: z.tuple([z.number(), z.number()]),
    clamp: z.tuple([z.number(), z.number()]).optional(),
  }),
  z.strictObject({
    table: z
      .array(z.tuple([z.number().positive(), z.number()]))
      .min(1)
      .refine((t) => t.every((p, i) => i === 0 || p[0] > t[i - 1][0]), 'table conductances must be strictly ascending'),
    clamp: z.tuple([z.number(), z.number()]).optional(),
  }),
]);

/**
 * Programming noise whose spread depends on the target conductance, as measured on real arrays
 * (write-verify leaves a spread that is largest mid-range): each cell's programmed conductance is
 * G' = max(0, G exp(sigma_ln(G) z1) + sigma_G(G) z2), z1, z2 ~ N(0, 1), drawn once per chip, with
 * both curves evaluated at the target G (curve.ts). Either part may be absent.
 */
export const programNoiseSchema = z
  .strictObject({
    /** Additive Gaussian spread in conductance, siemens, against the target. */
    gaussian: curveSchema.optional(),
    /** Log-normal spread (sigma of ln G), against the target. */
    lognormal: curveSchema.optional(),
  })
  .refine((p) => p.gaussian || p.lognormal, 'programNoise needs gaussian, lognormal or both');

/**
 * Upper bounds of the device's dimensionless parameters. The JSON device file, the command-line
 * flags (--sigma, --read-noise, --levels) and --sweep values all go through these, so a value
 * refused on one path is refused on every path. A new bounded field gets its entry here.
 */
export const DEVICE_LIMITS = {
  /** exp(10 sigma) spreads conductances over 4e4x: far beyond any device worth simulating. */
  programSigma: 10,
  readNoise: 10,
  levels: 1 << 20,
} as const;

/**
 * A ReRAM device model, in siemens. Kept apart from the circuit and the layer mapping, as aihwkit
 * keeps device configs apart from tiles: the same network can be simulated on several devices.
 */
/**
 * Power-law drift after programming (PCM): G(t) = G(0) ((t + t0) / t0)^(-nu), t seconds since
 * programming ended, nu ~ |N(mean(T), std(T)^2)| per cell, drawn once per chip from its target T.
 */
export const driftSchema = z.strictObject({
  /** First read after programming, seconds: the drift law's reference time. */
  t0: z.number().positive(),
  nuMean: curveSchema,
  nuStd: curveSchema.default({ poly: [0], of: 'g' }),
});

/**
 * Relaxation (ReRAM): the spread of G about its target grows after programming. Published as the
 * spread at a few times; between them it is interpolated linearly in ln t, never decreasing, and
 * held after the last one (nothing is known past it). A cell's deviation grows from its programmed
 * value by sqrt(S(t)^2 - S_prog^2) z, z ~ N(0, 1) drawn once per cell, so the total spread about
 * the target is S(t) when programming left S_prog (programNoise.gaussian).
 */
export const relaxationSchema = z.strictObject({
  points: z
    .array(z.strictObject({ t: z.number().positive(), gaussian: curveSchema }))
    .min(1)
    .refine((p) => p.every((x, i) => i === 0 || x.t > p[i - 1].t), 'relaxation points must be in increasing t'),
});

/**
 * Read noise that grows with time (PCM's accumulated 1/f noise): when read t seconds after
 * programming, a cell shows G (1 + q(G) sqrt(ln((t + t0 + tRead) / (2 tRead))) z), z ~ N(0, 1) drawn
 * per cell and per read time (t0 of the drift law, 0 without drift).
 */
export const noise1fSchema = z.strictObject({
  q: curveSchema,
  tRead: z.number().positive(),
});

export const deviceSchema = z
  .strictObject({
    name: z.string().default('custom'),
    /** Conductance range a healthy cell can be programmed to (HRS .. LRS). */
    gMin: z.number().positive(),
    gMax: z.number().positive(),
    /** Programmable levels between gMin and gMax (inclusive); 0 = continuous. */
    levels: z.number().int().min(0).max(DEVICE_LIMITS.levels).default(0),
    /** Programming variation: G' = G * exp(theta), theta ~ N(0, sigma^2), once per chip. */
    programSigma: z.number().min(0).max(DEVICE_LIMITS.programSigma).default(0),
    /** Conductance-dependent programming noise (after programSigma's log-normal, when both are set). */
    programNoise: programNoiseSchema.optional(),
    /** Time after programming (`--time`); absent parts do not age. */
    drift: driftSchema.optional(),
    relaxation: relaxationSchema.optional(),
    noise1f: noise1fSchema.optional(),
    /** Read noise: each read sees G * (1 + eta), eta ~ N(0, readNoise^2), new every inference. */
    readNoise: z.number().min(0).max(DEVICE_LIMITS.readNoise).default(0),
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
    const curves: [(string | number)[], Curve | undefined][] = [
      [['programNoise', 'gaussian'], d.programNoise?.gaussian],
      [['programNoise', 'lognormal'], d.programNoise?.lognormal],
      [['drift', 'nuStd'], d.drift?.nuStd],
      [['noise1f', 'q'], d.noise1f?.q],
      ...(d.relaxation?.points ?? []).map((p, i): [(string | number)[], Curve] => [['relaxation', 'points', i, 'gaussian'], p.gaussian]),
    ];
    for (const [path, c] of curves) {
      const low = c && d.gMax > d.gMin ? curveMin(c, d.gMin, d.gMax) : null;
      if (low && low.v < 0)
        ctx.addIssue({
          code: 'custom',
          path,
          message: `spread is negative (${low.v.toPrecision(3)}) at G = ${low.g.toPrecision(3)} S: a spread must be >= 0 over gMin..gMax`,
        });
    }
  });

export type DeviceInput = z.input<typeof deviceSchema>;
type DeviceOutput = z.output<typeof deviceSchema>;
/** Optional parts of a device: absent means the model is off, and old chips stay bit-identical. */
type OptionalParts = 'programNoise' | 'drift' | 'relaxation' | 'noise1f';
export type Device = Required<Omit<DeviceOutput, 'stuckOn' | 'stuckOff' | OptionalParts>> &
  Pick<DeviceOutput, OptionalParts> & {
    stuckOn: [number, number];
    stuckOff: [number, number];
  };

const uS = 1e-6;
/** Wan et al. 2022's conductance spread 1 s after write-verify (aihwkit's fit), uS per power of G/40 uS. */
const WAN_1S = [0.348 * uS, 16.03 * uS, -43.853 * uS, 45.393 * uS, -16.815 * uS];

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
  'pcm-joshi2020': {
    name: 'pcm-joshi2020',
    description:
      'PCM (doped GST, IBM 1-million-device chip), 0-25 uS: Gaussian programming noise sigma_G = 0.26348 + 1.9650 u - 1.1731 u^2 uS, ' +
      'u = G/25 uS, fitted on measured devices in Nandakumar et al., ICECS 2019, the PCM model of Joshi et al., Nat. Commun. 11, 2473 (2020) ' +
      '; drift G(t) = G(0) ((t + 20 s)/20 s)^-nu, nu ~ |N(mu, s^2)|, mu = clamp(0.0244 - 0.0155 ln u, 0.049, 0.1), ' +
      's = clamp(-0.0059 - 0.0125 ln u, 0.008, 0.045); accumulated 1/f noise q = min(0.2, 0.0088 u^-0.65), tRead 250 ns ' +
      "(constants as in aihwkit's PCMLikeNoiseModel); gMin 0.1 uS stands for the RESET state (the fit starts at 0, xbar needs G > 0)",
    gMin: 0.1 * uS,
    gMax: 25 * uS,
    programNoise: { gaussian: { poly: [0.26348 * uS, 1.965 * uS, -1.1731 * uS] } },
    drift: {
      t0: 20,
      nuMean: { poly: [0.0244, -0.0155], of: 'ln g', clamp: [0.049, 0.1] },
      nuStd: { poly: [-0.0059, -0.0125], of: 'ln g', clamp: [0.008, 0.045] },
    },
    noise1f: { q: { power: [0.0088, -0.65], clamp: [0, 0.2] }, tRead: 250e-9 },
  },
  'reram-wan2022': {
    name: 'reram-wan2022',
    description:
      'ReRAM of NeuRRAM (Wan et al., Nature 608, 504 (2022)), 0-40 uS: Gaussian spread of the conductance 1 s after write-verify, ' +
      'sigma_G = 0.348 + 16.030 u - 43.853 u^2 + 45.393 u^3 - 16.815 u^4 uS, u = G/40 uS, a fit to Extended Data Fig. 3d ' +
      "(aihwkit's ReRamWan2022NoiseModel); relaxation to the same figure's spreads 1 day and 2 days after programming " +
      "(held after 2 days: no later data); gMin 1 uS is xbar's HRS floor, not from the paper",
    gMin: 1 * uS,
    gMax: 40 * uS,
    programNoise: { gaussian: { poly: WAN_1S } },
    relaxation: {
      points: [
        { t: 1, gaussian: { poly: WAN_1S } },
        { t: 86400, gaussian: { poly: [0.701 * uS, 22.086 * uS, -50.773 * uS, 47.095 * uS, -16.458 * uS] } },
        { t: 2 * 86400, gaussian: { poly: [0.782 * uS, 20.274 * uS, -43.507 * uS, 37.062 * uS, -11.934 * uS] } },
      ],
    },
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
