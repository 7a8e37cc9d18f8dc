import { z } from 'zod';
import { chipsOfPoint, type ItemRange, itemBlock, type Shard } from '../cluster/shard.js';
import { XbarError } from '../core/errors.js';

/**
 * How `xbar correctnet --shard K/N` splits its chip evaluations (pure; the pipeline is
 * correctnet-node.ts). Two populations are split, each on its own, so that every shard gets its
 * share of both: the sweep items (method x sigma x chip, point-major, as simulate's) and the
 * per-chip calibrations (calibrated column x chip), which cost 100-1000 times a sweep chip.
 * Everything before them (training, placement, compensation, the calibrated modules' placement)
 * is shared: a `--prepare` run computes it once, or each shard computes it (the same steps).
 */

/** What the chip evaluations are, from the options alone. */
export interface CorrectnetWork {
  /**
   * The methods whose sigma sweeps the shards run, in the table's order. The plain network's
   * sweep is one of them only with a given --target-sigma: with 'auto' it chooses the target,
   * so it is a shared step.
   */
  sweepMethods: string[];
  sigmas: number[];
  chips: number;
  /** The per-chip calibrated columns (`<base>+cal<n>`), in the table's order. */
  columns: string[];
  calibrateChips: number;
}

/** A shard's share: its block of each population, and the chips of each point and column in it. */
export interface ShardWork {
  sweep: ItemRange & { total: number };
  calibration: ItemRange & { total: number };
  /** Sweep points with chips in this shard (point-major order). */
  points: { method: string; sigma: number; chips: ItemRange }[];
  /** Calibrated columns with chips in this shard. */
  columns: { method: string; chips: ItemRange }[];
}

export function shardWork(w: CorrectnetWork, shard: Shard): ShardWork {
  const sweepTotal = w.sweepMethods.length * w.sigmas.length * w.chips;
  const calTotal = w.columns.length * w.calibrateChips;
  const sweep = itemBlock(sweepTotal, shard);
  const calibration = itemBlock(calTotal, shard);
  const points: ShardWork['points'] = [];
  w.sweepMethods.forEach((method, m) => {
    w.sigmas.forEach((sigma, s) => {
      const chips = chipsOfPoint(sweep, w.chips, m * w.sigmas.length + s);
      if (chips.count) points.push({ method, sigma, chips });
    });
  });
  const columns: ShardWork['columns'] = [];
  w.columns.forEach((method, c) => {
    const chips = chipsOfPoint(calibration, w.calibrateChips, c);
    if (chips.count) columns.push({ method, chips });
  });
  return { sweep: { ...sweep, total: sweepTotal }, calibration: { ...calibration, total: calTotal }, points, columns };
}

const count = z.number().int().nonnegative();
const calibratedChip = z.object({
  chip: count,
  accuracy: z.number(),
  calSeconds: z.number(),
  simSeconds: z.number(),
});
export type CalibratedChip = z.infer<typeof calibratedChip>;

/** part.json's data of a correctnet shard: its chips of each sweep point and calibrated column. */
export const correctnetPartData = z.object({
  targetSigma: z.number(),
  sweeps: z.array(
    z.object({
      method: z.string(),
      sigma: z.number(),
      first: count,
      accuracies: z.array(z.number()),
      seconds: z.number(),
    }),
  ),
  calibrated: z.array(z.object({ method: z.string(), chips: z.array(calibratedChip) })),
});
export type CorrectnetPartData = z.infer<typeof correctnetPartData>;

/** A sweep point's chips, in chip order, and the seconds the shards spent on it (summed). */
export interface MergedPoint {
  sigma: number;
  accuracies: number[];
  seconds: number;
}

export interface MergedEvaluations {
  sweeps: Map<string, MergedPoint[]>;
  calibrated: Map<string, CalibratedChip[]>;
}

/**
 * The parts' chips put together, in chip order: each part must hold exactly its shard's blocks
 * (else one line naming the part and the point), and together every chip of every point.
 * `parts` in shard order (loadParts).
 */
export function assembleCorrectnet(parts: { dir: string; shard: Shard; data: unknown }[], w: CorrectnetWork): MergedEvaluations {
  const sweeps = new Map<string, MergedPoint[]>(
    w.sweepMethods.map((m) => [m, w.sigmas.map((sigma) => ({ sigma, accuracies: [], seconds: 0 }))]),
  );
  const calibrated = new Map<string, CalibratedChip[]>(w.columns.map((m) => [m, []]));
  for (const { dir, shard, data } of parts) {
    const r = correctnetPartData.safeParse(data);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new XbarError(
        `${dir}: part.json's correctnet data is damaged (${issue.path.join('.')}: ${issue.message}): run the shard again`,
      );
    }
    const want = shardWork(w, shard);
    const d = r.data;
    const wrong = (what: string) => new XbarError(`${dir}: shard ${shard.k}/${shard.n} should hold ${what}: run the shard again`);
    if (d.sweeps.length !== want.points.length) throw wrong(`${want.points.length} sweep points, not ${d.sweeps.length}`);
    want.points.forEach((p, i) => {
      const got = d.sweeps[i];
      if (got.method !== p.method || got.sigma !== p.sigma || got.first !== p.chips.first || got.accuracies.length !== p.chips.count)
        throw wrong(`chips ${p.chips.first}..${p.chips.first + p.chips.count - 1} of ${p.method} at sigma ${p.sigma}`);
      const point = (sweeps.get(p.method) as MergedPoint[])[w.sigmas.indexOf(p.sigma)];
      point.accuracies.push(...got.accuracies);
      point.seconds += got.seconds;
    });
    if (d.calibrated.length !== want.columns.length) throw wrong(`${want.columns.length} calibrated columns, not ${d.calibrated.length}`);
    want.columns.forEach((c, i) => {
      const got = d.calibrated[i];
      const chips = got.chips.map((x) => x.chip);
      if (got.method !== c.method || chips.length !== c.chips.count || chips.some((x, j) => x !== c.chips.first + j))
        throw wrong(`calibrated chips ${c.chips.first}..${c.chips.first + c.chips.count - 1} of ${c.method}`);
      (calibrated.get(c.method) as CalibratedChip[]).push(...got.chips);
    });
  }
  // Shards 1..N hold every block once (loadParts), so each point is whole; checked all the same.
  for (const [method, points] of sweeps)
    for (const p of points)
      if (p.accuracies.length !== w.chips)
        throw new XbarError(
          `the parts hold ${p.accuracies.length} of the ${w.chips} chips of ${method} at sigma ${p.sigma}: run the missing shards`,
        );
  for (const [method, chips] of calibrated)
    if (chips.length !== w.calibrateChips)
      throw new XbarError(
        `the parts hold ${chips.length} of the ${w.calibrateChips} calibrated chips of ${method}: run the missing shards`,
      );
  return { sweeps, calibrated };
}
