import { z } from 'zod';
import { XbarError } from '../core/errors.js';

/** The architecture of a sequential network, as saved in model.json and accepted from --model FILE. */
const int = (min: number) => z.number().int().min(min);
export const layerSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('dense'), units: int(1) }),
  z.strictObject({
    type: z.literal('conv2d'),
    filters: int(1),
    kernel: int(1),
    stride: int(1).optional(),
    padding: z.enum(['same', 'valid']).optional(),
  }),
  z.strictObject({ type: z.literal('maxpool'), size: int(1), stride: int(1).optional() }),
  z.strictObject({ type: z.literal('avgpool'), size: int(1), stride: int(1).optional() }),
  z.strictObject({
    type: z.literal('activation'),
    fn: z.enum(['relu', 'sigmoid', 'tanh', 'crelu', 'linear']),
    cap: z.number().positive().optional(),
  }),
  z.strictObject({ type: z.literal('flatten') }),
  z.strictObject({ type: z.literal('dropout'), rate: z.number().min(0).lt(1) }),
  /** CorrectNet error compensation (compensation.ts): per-channel affine plus a rank-r residual. */
  z.strictObject({ type: z.literal('compensation'), rank: int(0), kernel: int(1).optional() }),
]);

export const modelSpecSchema = z.strictObject({
  /** [height, width, channels] of one input image (a flat input is [1, 1, n]). */
  inputShape: z.tuple([int(1), int(1), int(1)]),
  layers: z.array(layerSpecSchema).min(1),
});

export type ModelSpec = z.infer<typeof modelSpecSchema>;

/** Validates untrusted JSON into a ModelSpec, turning schema errors into one readable line. */
export function parseModelSpec(json: unknown, source: string): ModelSpec {
  const r = modelSpecSchema.safeParse(json);
  if (r.success) return r.data;
  throw new XbarError(`invalid model spec in ${source}: ${formatIssues(r.error)}`);
}

export function formatIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
