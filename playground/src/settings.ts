import { z } from 'zod';
import { devicePresetNames, parseFaultSpec, XbarError } from '../../src/browser.js';

/**
 * One simulation setting of the page: the same knobs `xbar simulate` takes, named as its flags
 * (camel-cased), so that a setting is also the `command` record of a results file and turns
 * into the command line that reproduces it.
 */
export const settingsSchema = z.strictObject({
  device: z.enum(devicePresetNames as [string, ...string[]]).default('reram-generic'),
  sigma: z.number().min(0).max(10).optional(),
  readNoise: z.number().min(0).max(10).optional(),
  levels: z
    .int()
    .min(0)
    .max(1 << 20)
    .optional(),
  arraySize: z
    .int()
    .min(2)
    .max(1 << 16)
    .optional(),
  dacBits: z.int().min(0).max(24).optional(),
  adcBits: z.int().min(0).max(24).optional(),
  /** Fault spec in the text form `--faults` takes ('' = none). */
  faults: z.string().default(''),
  chips: z.int().min(1).max(100_000).default(20),
  seed: z
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(1),
});
export type Settings = z.output<typeof settingsSchema>;

export function parseSettings(input: unknown): Settings {
  const r = settingsSchema.safeParse(input);
  if (!r.success) throw new XbarError(`settings are invalid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (r.data.faults.trim()) parseFaultSpec(r.data.faults.trim());
  return r.data;
}

/** Where the shipped assets sit in the repository, for the command lines the page prints. */
export const REPO_MODELS = 'playground/assets/models';
export const REPO_DATA = 'playground/assets/data/mnist';

/** The `xbar simulate` options of a setting (the results file's `command`). */
export function commandOf(s: Settings, model: string): Record<string, unknown> {
  const c: Record<string, unknown> = { model, device: s.device };
  for (const k of ['sigma', 'readNoise', 'levels', 'arraySize', 'dacBits', 'adcBits'] as const) if (s[k] !== undefined) c[k] = s[k];
  if (s.faults.trim()) c.faults = s.faults.trim();
  c.chips = s.chips;
  c.seed = s.seed;
  c.dataDir = REPO_DATA;
  c.kernels = 'js';
  return c;
}

/** The `xbar simulate` argument list of a setting (without the leading `xbar simulate`). */
export function cliArgs(s: Settings, modelDir: string, dataDir = REPO_DATA): string[] {
  const a = ['--model', modelDir, '--device', s.device];
  // An .onnx file names no dataset; the page runs it on its MNIST images.
  if (modelDir.toLowerCase().endsWith('.onnx')) a.push('--dataset', 'mnist');
  const flag = (k: string) => `--${k.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`;
  for (const k of ['sigma', 'readNoise', 'levels', 'arraySize', 'dacBits', 'adcBits'] as const)
    if (s[k] !== undefined) a.push(flag(k), String(s[k]));
  if (s.faults.trim()) a.push('--faults', s.faults.trim());
  a.push('--chips', String(s.chips), '--seed', String(s.seed), '--data-dir', dataDir, '--kernels', 'js');
  return a;
}

/** The command line, quoted for a POSIX shell. */
export function cliLine(s: Settings, modelDir: string): string {
  const q = (v: string) => (/^[\w.,=/:-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  return `xbar simulate ${cliArgs(s, modelDir).map(q).join(' ')}`;
}
