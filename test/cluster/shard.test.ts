import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chipsOfPoint, itemBlock, parseShard } from '../../src/cluster/shard.js';

describe('itemBlock', () => {
  it('shards 1..N cover every item exactly once, in order, sizes within one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 300 }), (items, n) => {
        let next = 0;
        const sizes: number[] = [];
        for (let k = 1; k <= n; k++) {
          const b = itemBlock(items, { k, n });
          expect(b.first).toBe(next);
          next += b.count;
          sizes.push(b.count);
        }
        expect(next).toBe(items);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it("a block's chips per sweep point add up to the block, and every (point, chip) once over all shards", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 50 }), (points, chips, n) => {
        const seen = new Map<string, number>();
        for (let k = 1; k <= n; k++) {
          const b = itemBlock(points * chips, { k, n });
          let held = 0;
          for (let p = 0; p < points; p++) {
            const r = chipsOfPoint(b, chips, p);
            expect(r.first + r.count).toBeLessThanOrEqual(chips);
            held += r.count;
            for (let c = r.first; c < r.first + r.count; c++) seen.set(`${p}:${c}`, (seen.get(`${p}:${c}`) ?? 0) + 1);
          }
          expect(held).toBe(b.count);
        }
        expect(seen.size).toBe(points * chips);
        expect([...seen.values()].every((v) => v === 1)).toBe(true);
      }),
    );
  });
});

describe('parseShard', () => {
  it('reads K/N', () => {
    expect(parseShard('3/7')).toEqual({ k: 3, n: 7 });
    expect(() => parseShard('0/7')).toThrow(/not one of 1..7/);
    expect(() => parseShard('8/7')).toThrow(/not one of 1..7/);
    expect(() => parseShard('1/0')).toThrow(/at least 1/);
    expect(() => parseShard('2-of-3')).toThrow(/must be K\/N/);
  });

  it('auto in a Slurm array counts from the array minimum, whatever the first id', () => {
    const env = { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '4', SLURM_ARRAY_TASK_COUNT: '4' };
    expect(parseShard('auto', env)).toEqual({ k: 2, n: 4 });
    expect(parseShard('auto', { ...env, SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_MIN: '0' })).toEqual({ k: 1, n: 4 });
  });

  it('auto/N takes the Slurm task id as the shard number, or the Kubernetes index + 1', () => {
    // A resubmitted --array=2,5 has count 2 and min 2: the ids are still the shards.
    const env = { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '2', SLURM_ARRAY_TASK_COUNT: '2' };
    expect(parseShard('auto/7', env)).toEqual({ k: 5, n: 7 });
    expect(() => parseShard('auto/4', env)).toThrow(/--array=1-4/);
    expect(parseShard('auto/4', { JOB_COMPLETION_INDEX: '0' })).toEqual({ k: 1, n: 4 });
    expect(() => parseShard('auto/4', { JOB_COMPLETION_INDEX: '4' })).toThrow(/not one of 1..4/);
  });

  it('auto without a scheduler says what to give instead', () => {
    expect(() => parseShard('auto', {})).toThrow(/give the shard as K\/N/);
    expect(() => parseShard('auto', { JOB_COMPLETION_INDEX: '1' })).toThrow(/auto\/N/);
    expect(() => parseShard('auto/3', {})).toThrow(/K\/3/);
  });
});
