import { z } from 'zod';
import type { Part } from '../cluster/part.js';
import { XbarError } from '../core/errors.js';
import type { CostSummary } from '../cost/recovery.js';
import type { ReadAt } from '../crossbar/age.js';
import { type ChipResult, type MonteCarloResult, resultsPerRead } from '../crossbar/montecarlo.js';
import { summarize } from '../crossbar/stats.js';

/**
 * xbar simulate's share of a sharded run (the `data` of its part, src/cluster/part.ts) and the
 * assembly of the parts into the rows the unsharded run writes. Rows are made by the same
 * `pointRows` in both, and summaries by the same `summarize` over the chips in index order, so
 * the merged results files equal the unsharded run's except for timings and timestamps.
 */

export interface PointConfig {
  device: unknown;
  circuit: unknown;
  faults: string;
  /** The read time (seconds after programming) and drift compensation, with --time. */
  read?: ReadAt;
}

/** One results row: a sweep point (or, with several read times, a point at one time). */
export interface SweepRow {
  key: string;
  value: string;
  result: MonteCarloResult;
  /** Energy, latency and area per inference of this point's mapping (docs/cost.md), nominal conductances. */
  cost: CostSummary;
}

/** A sweep point as a shard ran it: its chips of the point (ChipResult.reads with several read times). */
export interface SimulatePartPoint {
  /** The point's position in the sweep. */
  index: number;
  value: string;
  /** One per row the point makes (per read time with several, else one). */
  configs: PointConfig[];
  cost: CostSummary;
  images: number;
  seconds: number;
  chips: ChipResult[];
}

export interface SimulatePartData {
  sweepKey: string;
  /** The read-time labels, with --time. */
  times: string[] | null;
  points: number;
  chips: number;
  dataset: string;
  run: SimulatePartPoint[];
}

/**
 * The rows of one point's result: with several read times one per time (keyed 'time', or
 * 'key+time' with values 'v@t' under another sweep), else one.
 */
export function pointRows(
  sweepKey: string,
  times: string[] | null,
  value: string,
  result: MonteCarloResult,
  cost: CostSummary,
): SweepRow[] {
  if (!times || times.length < 2) return [{ key: sweepKey, value, result, cost }];
  return resultsPerRead(result, times.length).map((r, i) =>
    sweepKey
      ? { key: `${sweepKey}+time`, value: `${value}@${times[i]}`, result: r, cost }
      : { key: 'time', value: times[i], result: r, cost },
  );
}

const finite = z.number();
const chipSchema = z.object({
  chip: z.number().int().nonnegative(),
  accuracy: finite,
  correct: z.number().int().nonnegative(),
  faultyWeights: z.array(z.number()),
  reads: z.array(z.object({ accuracy: finite, correct: z.number().int().nonnegative() })).optional(),
});
const dataSchema = z.object({
  sweepKey: z.string(),
  times: z.array(z.string()).nullable(),
  points: z.number().int().positive(),
  chips: z.number().int().positive(),
  dataset: z.string(),
  run: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      value: z.string(),
      configs: z.array(z.object({ device: z.unknown(), circuit: z.unknown(), faults: z.string(), read: z.unknown().optional() })).min(1),
      cost: z.object({ energy: finite, latency: finite, pipelineInterval: finite, area: finite, topsPerWatt: finite }),
      images: z.number().int().nonnegative(),
      seconds: finite,
      chips: z.array(chipSchema),
    }),
  ),
});

/**
 * The rows and per-row configurations of the whole run from its parts (checked by
 * loadParts: one run, shards 1..N in order). Each point's chips are concatenated in chip order
 * and must be exactly chips 0..C-1; the point's configuration and cost must agree between the
 * shards that ran it.
 */
export function mergeSimulateParts(parts: { dir: string; part: Part }[]): {
  data: SimulatePartData;
  rows: SweepRow[];
  configs: PointConfig[];
} {
  const datas = parts.map(({ dir, part }) => {
    const r = dataSchema.safeParse(part.data);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new XbarError(`${dir}: part.json's simulate data is damaged (${issue.path.join('.')}: ${issue.message}): run the shard again`);
    }
    return r.data as SimulatePartData;
  });
  const head = datas[0];
  const rows: SweepRow[] = [];
  const configs: PointConfig[] = [];
  for (let index = 0; index < head.points; index++) {
    const held = datas.flatMap((d, i) => d.run.filter((p) => p.index === index).map((p) => ({ p, dir: parts[i].dir })));
    if (!held.length) throw new XbarError(`no part holds sweep point ${index + 1}: the parts are not one whole run`);
    const first = held[0];
    for (const h of held.slice(1)) {
      const what =
        h.p.value !== first.p.value
          ? 'sweep value'
          : JSON.stringify(h.p.configs) !== JSON.stringify(first.p.configs)
            ? 'configuration'
            : JSON.stringify(h.p.cost) !== JSON.stringify(first.p.cost)
              ? 'cost'
              : h.p.images !== first.p.images
                ? 'test images'
                : null;
      if (what)
        throw new XbarError(`${h.dir} and ${first.dir} disagree on the ${what} of sweep point ${index + 1}: run those shards again`);
    }
    const chips = held.flatMap((h) => h.p.chips);
    chips.forEach((c, i) => {
      if (c.chip !== i)
        throw new XbarError(
          `sweep point ${index + 1}: the parts hold chip ${c.chip} where chip ${i} belongs: run the shards of this run again`,
        );
    });
    if (chips.length !== head.chips)
      throw new XbarError(
        `sweep point ${index + 1}: the parts hold ${chips.length} of its ${head.chips} chips: run the shards of this run again`,
      );
    const result: MonteCarloResult = {
      chips,
      summary: summarize(chips.map((c) => c.accuracy)),
      // The chips' compute time summed over the shards (timings are not compared).
      seconds: held.reduce((a, h) => a + h.p.seconds, 0),
      images: first.p.images,
    };
    rows.push(...pointRows(head.sweepKey, head.times, first.p.value, result, first.p.cost));
    configs.push(...first.p.configs);
  }
  return { data: head, rows, configs };
}
