import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKernels } from '../../src/core/kernels-node.js';
import { REINFORCE_DEFAULTS } from '../../src/mitigation/correctnet/placement.js';
import { type CorrectnetOptions, correctnetShard, prepareCorrectnet, runCorrectnet } from '../../src/study/correctnet-node.js';
import { mergeRun } from '../../src/study/merge-node.js';
import { xbar } from '../xbar-cli.js';
import { comparableCorrectnet } from './compare.js';

/**
 * correctnet's chip evaluations (the sweeps of every method and the per-chip calibrations) split
 * into shards and merged equal the unsharded run: every file, timings and the --out path aside.
 */
const kernels = loadKernels({ prefer: 'js' });
const quiet = { start() {}, update() {}, log() {}, stop() {} };
const work = mkdtempSync(join(tmpdir(), 'xbar-merge-correctnet-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// A small study with every kind of chip evaluation: 5 methods x 2 sigmas x 3 chips of sweeps (one
// sigma without variation: one chip counted for all) and 2 calibrated columns x 3 chips.
const o: Omit<CorrectnetOptions, 'out'> & { kernels: 'js' } = {
  model: 'mlp-paper',
  limitTrain: 1000,
  limitTest: 100,
  plainEpochs: 1,
  finetuneEpochs: 1,
  sigmas: '0,0.6',
  targetSigma: '0.6',
  chips: 3,
  seed: 1,
  device: 'reram-generic',
  lipschitz: 'spectral',
  lambda: 0.01,
  lipschitzBound: 1,
  noiseRamp: 0.5,
  budget: 0.5,
  ranks: '1',
  compKernel: 1,
  compEpochs: 1,
  compLr: 0.003,
  search: 'rl',
  maxExhaustive: 100,
  episodes: 8,
  rlBatch: REINFORCE_DEFAULTS.batch,
  rlLr: REINFORCE_DEFAULTS.lr,
  searchTrain: 100,
  searchEpochs: 1,
  searchChips: 1,
  valImages: 50,
  overheadWeight: 0.1,
  workers: 1,
  calibrate: '50',
  calibrateChips: 3,
  calibrateEpochs: 1,
  calibrateLr: 0.003,
  calibrateBases: 'plain,lipschitz',
  calibrateLoss: 'ce',
  kernels: 'js',
};

const whole = join(work, 'whole');
const prepared = join(work, 'prepared');
beforeAll(async () => {
  await runCorrectnet({ ...o, out: whole }, kernels, quiet);
  await prepareCorrectnet({ ...o, out: prepared }, kernels, quiet);
}, 300_000);

describe('xbar merge (correctnet)', () => {
  it.each([1, 2, 3, 7])(
    '%i shards reusing the prepared steps, merged, equal the unsharded run',
    async (n) => {
      const sweepChips: number[] = [];
      const calibratedChips: number[] = [];
      for (let k = 1; k <= n; k++) {
        const { share } = await correctnetShard(
          { ...o, reuse: prepared, shard: { k, n }, out: join(work, `p${n}`, String(k)) },
          kernels,
          quiet,
        );
        sweepChips.push(share.sweep.count);
        calibratedChips.push(share.calibration.count);
      }
      // Every shard gets its share of both populations: 5 x 2 x 3 sweep chips, 2 x 3 calibrated.
      expect(sweepChips.reduce((a, b) => a + b)).toBe(30);
      expect(calibratedChips.reduce((a, b) => a + b)).toBe(6);
      expect(Math.max(...calibratedChips) - Math.min(...calibratedChips)).toBeLessThanOrEqual(1);
      const r = await mergeRun([join(work, `p${n}`)], join(work, `m${n}`));
      expect(r.correctnet?.methods.map((m) => m.method)).toContain('lipschitz+cal50');
      expect(comparableCorrectnet(join(work, `m${n}`))).toEqual(comparableCorrectnet(whole));
    },
    300_000,
  );

  it('with --target-sigma auto and no prepared steps (each shard computes them), through the CLI', () => {
    const args = [
      'correctnet',
      '--model',
      'mlp-paper',
      ...['--limit-train', '1000', '--limit-test', '100', '--plain-epochs', '1', '--finetune-epochs', '1'],
      ...['--sigmas', '0,0.6,1.2', '--chips', '2', '--budget', '0.5', '--ranks', '1', '--comp-epochs', '1'],
      ...['--episodes', '8', '--search', 'rl', '--search-train', '100', '--search-chips', '1', '--val-images', '50'],
      ...['--calibrate', '50', '--calibrate-chips', '2', '--calibrate-epochs', '1', '--calibrate-bases', 'lipschitz'],
      ...['--workers', '1', '--kernels', 'js', '--quiet'],
    ];
    const run = (...extra: string[]) => {
      const r = xbar(...args, ...extra);
      expect(r.code, r.err).toBe(0);
      return r.out;
    };
    run('--out', join(work, 'auto-whole'));
    for (const k of [1, 2]) expect(run('--shard', `${k}/2`, '--out', join(work, 'auto-parts', String(k)))).toMatch(/part written/);
    const m = xbar('merge', join(work, 'auto-parts'), '--out', join(work, 'auto-merged'), '--quiet');
    expect(m.code, m.err).toBe(0);
    const merged = comparableCorrectnet(join(work, 'auto-merged'));
    expect(merged).toEqual(comparableCorrectnet(join(work, 'auto-whole')));
    // The plain network's sweep chose the target: it is a shared step, not a shard's.
    expect((merged.results as { headline: { targetRule: string } }).headline.targetRule).toMatch(/plain network/);
  }, 300_000);

  it('refuses a part of another run and a damaged reuse folder', async () => {
    await correctnetShard({ ...o, calibrateEpochs: 2, reuse: prepared, shard: { k: 2, n: 2 }, out: join(work, 'other') }, kernels, quiet);
    await expect(mergeRun([join(work, 'p2', '1'), join(work, 'other')], join(work, 'bad'))).rejects.toThrow(
      /other is not a part of the same run as .*: --calibrate-epochs 2 vs 1/,
    );
    await expect(
      correctnetShard({ ...o, reuse: join(work, 'p2'), shard: { k: 1, n: 2 }, out: join(work, 'bad-reuse') }, kernels, quiet),
    ).rejects.toThrow(/not a finished run \(no manifest.json\)/);
  }, 300_000);
});
