import { XbarError } from '../core/errors.js';
import { errorLines, type SpiceEngine } from './engine.js';
import { netlistText, type SpiceNetlist } from './netlist.js';

export interface SpiceFailure {
  image: number;
  message: string;
}

export interface SpiceOutputs {
  /** Output voltages [images, outputs]; NaN for an image SPICE could not solve. */
  volts: Float64Array;
  failures: SpiceFailure[];
  /** Engine runs (1 unless a failure made the sweep restart after the failed image). */
  runs: number;
  seconds: number;
}

const CONVERGENCE = /too small|iteration limit|gmin|source stepping|singular matrix|trouble with node|no convergence/i;

/**
 * Runs the netlist over all its images in one sweep. When the simulator gives up on an image (a
 * convergence failure), that image is recorded with the simulator's message and the sweep
 * restarts at the next one: a failure is reported per image, never swallowed or spread.
 */
export async function runNetlist(engine: SpiceEngine, net: SpiceNetlist, deck = netlistText): Promise<SpiceOutputs> {
  const t0 = performance.now();
  const n = net.images;
  const nOut = net.outputs.length;
  const volts = new Float64Array(n * nOut).fill(Number.NaN);
  const failures: SpiceFailure[] = [];
  let runs = 0;
  for (let start = 0; start < n; ) {
    const r = await engine.run(deck(net, start, n - 1));
    runs++;
    const got = Math.min(r.points, n - start);
    const sweep = r.vectors.get('v(v-sweep)');
    const cols = net.outputs.map((o) => {
      const v = r.vectors.get(`v(${o})`);
      if (!v) throw new XbarError(`the SPICE results have no vector v(${o}): ${errorLines(r.log) || 'the netlist may be malformed'}`);
      return v;
    });
    for (let p = 0; p < got; p++) {
      if (sweep && Math.round(sweep[p]) !== start + p)
        throw new XbarError(`SPICE sweep point ${p} is image ${sweep[p]}, expected ${start + p}`);
      for (let j = 0; j < nOut; j++) volts[(start + p) * nOut + j] = cols[j][p];
    }
    if (start + got >= n) break;
    const message = errorLines(r.log);
    if (got === 0 && !CONVERGENCE.test(r.log))
      throw new XbarError(`${engine.name} SPICE run failed: ${message || 'no results and no message'}`);
    failures.push({ image: start + got, message: message || 'the analysis stopped at this image' });
    start += got + 1;
  }
  return { volts, failures, runs, seconds: (performance.now() - t0) / 1000 };
}
