import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKernels } from '../../src/core/kernels-node.js';
import { mergeRun } from '../../src/study/merge-node.js';
import { runSimulate, type SimulateOptions } from '../../src/study/simulate-node.js';
import { runTrain } from '../../src/study/train-node.js';
import { comparable } from './compare.js';

/** simulate split into shards and merged equals the unsharded run, file for file (timings and timestamps aside). */
const kernels = loadKernels();
const quiet = { start() {}, update() {}, log() {}, stop() {} };
const work = mkdtempSync(join(tmpdir(), 'xbar-merge-'));
const model = join(work, 'model');
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(() => {
  runTrain({ model: 'mlp-paper', epochs: 3, limitTrain: 1500, seed: 1, out: model } as never, kernels, quiet);
}, 300_000);

const base: SimulateOptions = {
  model,
  device: 'reram-generic',
  chips: 5,
  seed: 3,
  limitTest: 300,
  sweep: 'sigma=0.05,0.3',
  faults: 'random:sa0=0.01,sa1=0.02+[ring:radius=0.3@layers=0]',
  readNoise: 0.02,
  maps: 3,
  workers: 1,
};

const run = (o: SimulateOptions) => runSimulate(o, kernels, quiet);
async function shardsInto(o: SimulateOptions, n: number, dir: string): Promise<string> {
  for (let k = 1; k <= n; k++) await run({ ...o, shard: { k, n }, out: join(dir, String(k)) });
  return dir;
}

describe('xbar merge (simulate)', () => {
  it.each([1, 2, 3, 7])(
    '%i shards of a sweep merged equal the unsharded run',
    async (n) => {
      const whole = join(work, 'whole');
      if (!existsSync(whole)) await run({ ...base, out: whole });
      const parts = await shardsInto(base, n, join(work, `parts-${n}`));
      const merged = join(work, `merged-${n}`);
      const r = await mergeRun([parts], merged);
      expect(r.shards).toBe(n);
      const a = comparable(whole);
      const b = comparable(merged);
      expect(b.maps.map((m) => m[0])).toEqual(a.maps.map((m) => m[0]));
      expect(a.maps.length).toBe(2 * 3 * 4 * 2); // 2 points x 3 chips x 4 layers x (json, svg)
      expect(b).toEqual(a);
    },
    300_000,
  );

  it('a time sweep under another sweep: merged equals the unsharded run', async () => {
    const o = { ...base, time: '1s,1d,1y', sweep: 'read-noise=0,0.05', chips: 4, maps: 0 };
    const whole = join(work, 'whole-time');
    await run({ ...o, out: whole });
    const parts = await shardsInto(o, 3, join(work, 'parts-time'));
    await mergeRun([join(parts, '1'), join(parts, '2'), join(parts, '3')], join(work, 'merged-time'));
    const a = comparable(whole);
    expect(JSON.parse(a.json).points.map((p: { value: string }) => p.value)).toEqual([
      '0@1s',
      '0@1d',
      '0@1y',
      '0.05@1s',
      '0.05@1d',
      '0.05@1y',
    ]);
    expect(comparable(join(work, 'merged-time'))).toEqual(a);
  }, 300_000);

  it('refuses parts of another run (one line naming the difference), missing and duplicated shards', async () => {
    const dir = join(work, 'bad');
    // The three shards of the first test, copied.
    cpSync(join(work, 'parts-3'), join(dir, 'ok'), { recursive: true });
    await run({ ...base, seed: 4, shard: { k: 2, n: 3 }, out: join(dir, 'seed4') });
    await run({ ...base, sigma: 0.1, shard: { k: 2, n: 3 }, out: join(dir, 'sigma') });
    const ok = (k: number) => join(dir, 'ok', String(k));
    const merge = (...parts: string[]) => mergeRun(parts, join(dir, 'out'));
    await expect(merge(ok(1), join(dir, 'seed4'), ok(3))).rejects.toThrow(/seed4 is not a part of the same run as .*: seed 4 vs 3/);
    await expect(merge(ok(1), join(dir, 'sigma'), ok(3))).rejects.toThrow(/--sigma 0.1 vs \(not set\)/);
    await expect(merge(ok(1), ok(3))).rejects.toThrow(/^shard 2 of 3 is missing/);
    cpSync(ok(3), join(dir, 'copy3'), { recursive: true });
    await expect(merge(ok(1), ok(2), ok(3), join(dir, 'copy3'))).rejects.toThrow(/shards held by more than one part: 3 \(/);
    // A part changed after its shard wrote it is refused by its manifest.
    writeFileSync(join(ok(2), 'part.json'), readFileSync(join(ok(2), 'part.json'), 'utf8').replace('"seed":3', '"seed":5'));
    await expect(merge(join(dir, 'ok'))).rejects.toThrow(/part.json changed after the run wrote it/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  }, 300_000);
});
