import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKernels } from '../../src/core/kernels-node.js';
import { runCorrectEval } from '../../src/study/corrector-node.js';
import { mergeRun } from '../../src/study/merge-node.js';

/** correct eval split into shards and merged equals the unsharded run (createdAt and --out aside). */
const bin = resolve(import.meta.dirname, '../../dist/cli/main.js');
const xbar = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const kernels = loadKernels();
const quiet = { start() {}, update() {}, log() {}, stop() {} };
const work = mkdtempSync(join(tmpdir(), 'xbar-merge-correct-'));
const corrector = join(work, 'corrector');
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(() => {
  const model = join(work, 'model');
  let r = xbar('train', '--model', 'mlp-paper', '--epochs', '2', '--limit-train', '1500', '--out', model, '--quiet');
  expect(r.status, r.stderr).toBe(0);
  const small = ['--images-per-chip', '60', '--epochs', '2', '--hidden', '16', '--limit-test', '200', '--threads', '1'];
  r = xbar('correct', 'train', '-m', model, '--train-chips', '12', '--eval-chips', '0', ...small, '--out', corrector, '--quiet');
  expect(r.status, r.stderr).toBe(0);
}, 300_000);

const base = { corrector, chips: 7, limitTest: 200 };
const comparable = (dir: string) => {
  const j = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  j.createdAt = undefined;
  j.command.out = undefined;
  return JSON.stringify(j);
};

describe('xbar merge (correct eval)', () => {
  it.each([1, 2, 3, 7])(
    '%i shards of the held-out chips merged equal the unsharded run',
    async (n) => {
      const whole = join(work, 'whole');
      if (n === 1) runCorrectEval({ ...base, out: whole } as never, kernels, quiet);
      for (let k = 1; k <= n; k++)
        runCorrectEval({ ...base, shard: { k, n }, out: join(work, `p${n}`, String(k)) } as never, kernels, quiet);
      const r = await mergeRun([join(work, `p${n}`)], join(work, `m${n}`));
      expect(r.heldOut?.heldOutChips).toBe(7);
      expect(comparable(join(work, `m${n}`))).toEqual(comparable(whole));
      expect(JSON.parse(readFileSync(join(whole, 'results.json'), 'utf8')).chips.map((c: { chip: number }) => c.chip)).toEqual([
        12, 13, 14, 15, 16, 17, 18,
      ]);
    },
    300_000,
  );

  it('refuses a part evaluated on other chips', async () => {
    runCorrectEval({ ...base, firstChip: 30, shard: { k: 2, n: 2 }, out: join(work, 'other') } as never, kernels, quiet);
    await expect(mergeRun([join(work, 'p2', '1'), join(work, 'other')], join(work, 'bad'))).rejects.toThrow(
      /--first-chip 30 vs \(not set\)/,
    );
  }, 300_000);
});
