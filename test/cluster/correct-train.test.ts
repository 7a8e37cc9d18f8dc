import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKernels } from '../../src/core/kernels-node.js';
import type { CorrectTrainOptions } from '../../src/study/corrector.js';
import { runCorrectTrain, runCorrectTrainShard } from '../../src/study/corrector-node.js';
import { mergeRun } from '../../src/study/merge-node.js';
import { xbar } from '../xbar-cli.js';

/**
 * correct train's training chips generated in shards and merged: the voltage set put together is
 * the one process's bit for bit, so the corrector trained on it is the same corrector (its
 * weights.bin byte for byte) and every other file equal but for timings and --out.
 */
const kernels = loadKernels({ prefer: 'js' });
const quiet = { start() {}, update() {}, log() {}, stop() {} };
const work = mkdtempSync(join(tmpdir(), 'xbar-merge-correct-train-'));
const model = join(work, 'model');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const base = (): Omit<CorrectTrainOptions, 'out'> & { kernels: 'js' } => ({
  model,
  device: 'reram-generic',
  seed: 3,
  trainChips: 7,
  imagesPerChip: 40,
  evalChips: 2,
  normImages: 60,
  calibImages: 10,
  ridge: 0.1,
  epochs: 2,
  batchSize: 64,
  lr: 0.003,
  hidden: '16',
  norm: 'calib',
  valFraction: 0.2,
  limitTest: 100,
  kernels: 'js',
});

/** A corrector folder without what says when, how long and where it ran. */
function comparable(dir: string) {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => !['createdAt', 'seconds', 'trainSeconds', 'out'].includes(k))
          .map(([k, x]) => [k, strip(x)]),
      );
    return v;
  };
  const json = (f: string) => strip(JSON.parse(readFileSync(join(dir, f), 'utf8')));
  return {
    weights: readFileSync(join(dir, 'weights.bin')).toString('base64'),
    model: json('model.json'),
    corrector: json('corrector.json'),
    results: json('results.json'),
  };
}

const whole = join(work, 'whole');
beforeAll(() => {
  const r = xbar('train', '--model', 'mlp-paper', '--epochs', '2', '--limit-train', '1500', '--out', model, '--quiet');
  expect(r.code, r.err).toBe(0);
  runCorrectTrain({ ...base(), out: whole }, kernels, quiet);
}, 300_000);

describe('xbar merge (correct train)', () => {
  it.each([1, 2, 3, 7])(
    '%i shards of the training chips merged train the same corrector as one process',
    async (n) => {
      for (let k = 1; k <= n; k++)
        runCorrectTrainShard({ ...base(), shard: { k, n }, out: join(work, `p${n}`, String(k)) }, kernels, quiet);
      const r = await mergeRun([join(work, `p${n}`)], join(work, `m${n}`));
      expect(r.corrector?.result.trainChips).toBeGreaterThan(0);
      const a = comparable(whole);
      const b = comparable(join(work, `m${n}`));
      expect(b.weights).toBe(a.weights);
      expect(b).toEqual(a);
      // Every training chip once, in index order, with its own defect.
      const chips = (a.corrector as { meta: { trainingChips: { chip: number }[] } }).meta.trainingChips.map((c) => c.chip);
      expect(chips).toEqual([0, 1, 2, 3, 4, 5, 6]);
    },
    300_000,
  );

  it('refuses a part of other options and a part whose voltages were changed', async () => {
    runCorrectTrainShard({ ...base(), imagesPerChip: 30, shard: { k: 2, n: 2 }, out: join(work, 'other') }, kernels, quiet);
    await expect(mergeRun([join(work, 'p2', '1'), join(work, 'other')], join(work, 'bad'))).rejects.toThrow(/--images-per-chip 30 vs 40/);
    cpSync(join(work, 'p2'), join(work, 'tampered'), { recursive: true });
    const bin = join(work, 'tampered', '2', 'voltages.bin');
    const bytes = readFileSync(bin);
    bytes[0] ^= 1;
    writeFileSync(bin, bytes);
    await expect(mergeRun([join(work, 'tampered')], join(work, 'bad'))).rejects.toThrow(/voltages.bin changed after the run wrote it/);
  }, 300_000);
});
