import { VERSION } from '../version.js';
import type { MonteCarloResult } from './montecarlo.js';

/**
 * The results file of a simulation (`results.json` of `xbar simulate --out`, format
 * `xbar-simulate` version 1), built apart from any file system so that the CLI and the browser
 * playground write the same thing and `xbar report` reads both.
 */
export const SIMULATE_RESULTS_FORMAT = 'xbar-simulate';
export const SIMULATE_RESULTS_VERSION = 1;

export interface SimulatePoint {
  /** The sweep key and value of this point ('' and '' without a sweep). */
  key: string;
  value: string;
  device: unknown;
  circuit: unknown;
  /** The fault spec in its text form ('' for none). */
  faults: string;
  /** When the chips were read (simulate --time), if that is set. */
  read?: unknown;
  /** Energy, latency and area of the point (simulate --tech), if costed. */
  cost?: unknown;
  result: MonteCarloResult;
}

export function simulateResultsJson(run: {
  /** The options that reproduce the run (the CLI's flags, camel-cased). */
  command: object;
  model: string;
  dataset: string;
  points: SimulatePoint[];
  createdAt?: string;
}) {
  return {
    format: SIMULATE_RESULTS_FORMAT,
    version: SIMULATE_RESULTS_VERSION,
    xbarVersion: VERSION,
    createdAt: run.createdAt ?? new Date().toISOString(),
    command: { ...run.command },
    model: run.model,
    dataset: run.dataset,
    points: run.points.map((p) => ({
      key: p.key,
      value: p.value,
      device: p.device,
      circuit: p.circuit,
      faults: p.faults,
      ...(p.read !== undefined ? { read: p.read } : {}),
      summary: p.result.summary,
      seconds: p.result.seconds,
      images: p.result.images,
      cost: p.cost,
      chips: p.result.chips,
    })),
  };
}
